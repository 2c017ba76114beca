#include "libcmi/forwarded.hpp"

#include <cctype>
#include <vector>

namespace cmi {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool is_scheme(std::string_view s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
            return false;
    return true;
}

// Splits on a separator outside quoted strings; nullopt on an unterminated quote.
std::optional<std::vector<std::string_view>> split_unquoted(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted && c == '\\') { ++i; continue; }
        if (c == '"') quoted = !quoted;
        else if (c == sep && !quoted) { parts.push_back(s.substr(start, i - start)); start = i + 1; }
    }
    if (quoted) return std::nullopt;
    parts.push_back(s.substr(start));
    return parts;
}

// token / quoted-string (RFC 7230 §3.2.6), unquoted.
std::optional<std::string> parse_value(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        std::string out;
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            if (v[i] == '\\') {
                if (i + 2 >= v.size()) return std::nullopt;
                ++i;
            }
            out.push_back(v[i]);
        }
        return out;
    }
    if (v.empty()) return std::nullopt;
    for (char c : v)
        if (!is_tchar(c)) return std::nullopt;
    return std::string(v);
}

}  // namespace

std::optional<std::string> last_x_forwarded_proto(std::string_view value) {
    const auto comma = value.rfind(',');
    const auto last = trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
    if (!is_scheme(last)) return std::nullopt;
    return lower(last);
}

std::optional<std::string> last_forwarded_proto(std::string_view value) {
    const auto elements = split_unquoted(value, ',');
    if (!elements || elements->empty()) return std::nullopt;
    const auto pairs = split_unquoted(elements->back(), ';');
    if (!pairs) return std::nullopt;
    std::optional<std::string> proto;
    for (auto pair : *pairs) {
        pair = trim(pair);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) return std::nullopt;
        const auto name = pair.substr(0, eq);
        for (char c : name)
            if (!is_tchar(c)) return std::nullopt;
        const auto val = parse_value(pair.substr(eq + 1));
        if (!val) return std::nullopt;
        if (lower(name) == "proto") {
            if (proto || !is_scheme(*val)) return std::nullopt;  // twice, or not a scheme
            proto = lower(*val);
        }
    }
    return proto;
}

}  // namespace cmi
