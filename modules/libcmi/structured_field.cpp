#include "libcmi/structured_field.hpp"

#include "libcmi/base64.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <numeric>

namespace cmi::sf {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// RFC 9110 tchar
bool is_tchar(char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}
bool is_base64_char(char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '='; }

// §4.2.2 and §4.2.3.2: a repeated key keeps its first position and takes its
// last value. Small containers (the usual few parameters) are scanned in place;
// larger ones are sorted by key (stable, so equal keys stay in field order):
// O(n log n) whatever the keys, where a hash index could be flooded.
template <class V>
void collapse_duplicates(std::vector<std::pair<std::string, V>>& vec) {
    constexpr size_t kScanUpTo = 16;
    const size_t n = vec.size();
    if (n < 2) return;
    if (n <= kScanUpTo) {
        size_t kept = 0;
        for (size_t i = 0; i < n; ++i) {
            size_t j = 0;
            while (j < kept && vec[j].first != vec[i].first) ++j;
            if (j < kept) {
                vec[j].second = std::move(vec[i].second);
            } else {
                if (kept != i) vec[kept] = std::move(vec[i]);
                ++kept;
            }
        }
        vec.erase(vec.begin() + static_cast<std::ptrdiff_t>(kept), vec.end());
        return;
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vec[a].first < vec[b].first; });
    std::vector<bool> drop(n, false);
    bool any = false;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && vec[order[j]].first == vec[order[i]].first) ++j;
        if (j - i > 1) {  // order[i] is the first occurrence, order[j - 1] the last
            vec[order[i]].second = std::move(vec[order[j - 1]].second);
            for (size_t k = i + 1; k < j; ++k) drop[order[k]] = true;
            any = true;
        }
        i = j;
    }
    if (!any) return;
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i)
        if (!drop[i]) {
            if (kept != i) vec[kept] = std::move(vec[i]);
            ++kept;
        }
    vec.erase(vec.begin() + static_cast<std::ptrdiff_t>(kept), vec.end());
}

class Parser {
public:
    explicit Parser(std::string_view in) : s_(in) {}

    // §4.2 steps 2 and 6: leading and trailing SP are discarded.
    void skip_sp() {
        while (p_ < s_.size() && s_[p_] == ' ') ++p_;
    }
    void skip_ows() {
        while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t')) ++p_;
    }
    bool at_end() const { return p_ >= s_.size(); }
    char peek() const { return at_end() ? '\0' : s_[p_]; }
    [[noreturn]] void fail(const char* what) const {
        throw ParseError(std::string(what) + " at offset " + std::to_string(p_));
    }

    void finish() {
        skip_sp();
        if (!at_end()) fail("unexpected characters after the value");
    }

    // §4.2.1
    List list() {
        List out;
        while (!at_end()) {
            out.push_back(item_or_inner_list());
            skip_ows();
            if (at_end()) return out;
            if (peek() != ',') fail("expected ',' in list");
            ++p_;
            skip_ows();
            if (at_end()) fail("trailing ',' in list");
        }
        return out;
    }

    // §4.2.2
    Dictionary dictionary() {
        Dictionary out;
        while (!at_end()) {
            std::string k = key();
            Member m;
            if (peek() == '=') {
                ++p_;
                m = item_or_inner_list();
            } else {
                m = Item{true, parameters()};
            }
            out.emplace_back(std::move(k), std::move(m));  // repeats collapse at the end
            skip_ows();
            if (at_end()) break;
            if (peek() != ',') fail("expected ',' in dictionary");
            ++p_;
            skip_ows();
            if (at_end()) fail("trailing ',' in dictionary");
        }
        collapse_duplicates(out);
        return out;
    }

    // §4.2.3
    Item item() {
        Item it;
        it.value = bare_item();
        it.params = parameters();
        return it;
    }

private:

    Member item_or_inner_list() {
        if (peek() == '(') return inner_list();
        return item();
    }

    // §4.2.1.2
    InnerList inner_list() {
        ++p_;  // '('
        InnerList out;
        for (;;) {
            skip_sp();
            if (at_end()) fail("unterminated inner list");
            if (peek() == ')') {
                ++p_;
                out.params = parameters();
                return out;
            }
            out.items.push_back(item());
            if (peek() != ' ' && peek() != ')') fail("expected SP or ')' in inner list");
        }
    }

    // §4.2.3.2
    Parameters parameters() {
        Parameters out;
        while (peek() == ';') {
            ++p_;
            skip_sp();
            std::string k = key();
            BareItem v = true;
            if (peek() == '=') {
                ++p_;
                v = bare_item();
            }
            out.emplace_back(std::move(k), std::move(v));  // repeats collapse at the end
        }
        collapse_duplicates(out);
        return out;
    }

    // §4.2.3.3
    std::string key() {
        const char c = peek();
        if (!is_lcalpha(c) && c != '*') fail("a key must start with a lowercase letter or '*'");
        const size_t start = p_;
        while (!at_end()) {
            const char k = s_[p_];
            if (!(is_lcalpha(k) || is_digit(k) || k == '_' || k == '-' || k == '.' || k == '*')) break;
            ++p_;
        }
        return std::string(s_.substr(start, p_ - start));
    }

    // §4.2.3.1
    BareItem bare_item() {
        const char c = peek();
        if (c == '-' || is_digit(c)) return number();
        if (c == '"') return string();
        if (c == '*' || is_alpha(c)) return token();
        if (c == ':') return byte_seq();
        if (c == '?') return boolean();
        fail("not a bare item");
    }

    // §4.2.4
    BareItem number() {
        bool negative = false;
        if (peek() == '-') {
            negative = true;
            ++p_;
        }
        if (!is_digit(peek())) fail("expected a digit");
        std::string digits;
        bool decimal = false;
        size_t int_digits = 0;
        while (!at_end()) {
            const char c = s_[p_];
            if (is_digit(c)) {
                digits.push_back(c);
                ++p_;
            } else if (!decimal && c == '.') {
                if (digits.size() > 12) fail("decimal with more than 12 integer digits");
                decimal = true;
                int_digits = digits.size();
                digits.push_back(c);
                ++p_;
            } else {
                break;
            }
            if (!decimal && digits.size() > 15) fail("integer with more than 15 digits");
            if (decimal && digits.size() > 16) fail("decimal too long");
        }
        if (!decimal) {
            const int64_t v = std::stoll(digits);
            return negative ? -v : v;
        }
        if (digits.back() == '.') fail("decimal ends in '.'");
        const size_t frac = digits.size() - int_digits - 1;
        if (frac > 3) fail("decimal with more than 3 fraction digits");
        int64_t v = int_digits ? std::stoll(digits.substr(0, int_digits)) * 1000 : 0;
        std::string f = digits.substr(int_digits + 1);
        while (f.size() < 3) f.push_back('0');
        v += std::stoll(f);
        return Decimal{negative ? -v : v};
    }

    // §4.2.5
    BareItem string() {
        ++p_;  // '"'
        std::string out;
        while (!at_end()) {
            const char c = s_[p_++];
            if (c == '\\') {
                if (at_end()) fail("unterminated escape in string");
                const char n = s_[p_++];
                if (n != '"' && n != '\\') fail("invalid escape in string");
                out.push_back(n);
            } else if (c == '"') {
                return String{out};
            } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
                --p_;
                fail("invalid character in string");
            } else {
                out.push_back(c);
            }
        }
        fail("unterminated string");
    }

    // §4.2.6
    BareItem token() {
        const size_t start = p_++;
        while (!at_end() && (is_tchar(s_[p_]) || s_[p_] == ':' || s_[p_] == '/')) ++p_;
        return Token{std::string(s_.substr(start, p_ - start))};
    }

    // §4.2.7
    BareItem byte_seq() {
        const size_t start = ++p_;
        while (!at_end() && s_[p_] != ':') {
            if (!is_base64_char(s_[p_])) fail("invalid character in byte sequence");
            ++p_;
        }
        if (at_end()) fail("unterminated byte sequence");
        auto bytes = base64_decode(s_.substr(start, p_ - start));
        if (!bytes) fail("invalid base64 in byte sequence");
        ++p_;  // ':'
        return ByteSeq{std::move(*bytes)};
    }

    // §4.2.8
    BareItem boolean() {
        ++p_;  // '?'
        const char c = peek();
        if (c == '1' || c == '0') {
            ++p_;
            return c == '1';
        }
        fail("invalid boolean");
    }

    std::string_view s_;
    size_t p_ = 0;
};

bool valid_key(std::string_view k) {
    if (k.empty() || !(is_lcalpha(k[0]) || k[0] == '*')) return false;
    for (char c : k)
        if (!(is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*')) return false;
    return true;
}

std::string key_out(const std::string& k) {
    if (!valid_key(k)) throw std::invalid_argument("invalid structured-field key");
    return k;
}

}  // namespace

namespace {

// The whole input as one `what`, spaces allowed before it (RFC 9651 §4.2).
template <class T>
T parse_whole(std::string_view input, T (Parser::*what)()) {
    Parser p(input);
    p.skip_sp();
    T out = (p.*what)();
    p.finish();
    return out;
}

}  // namespace

Item parse_item(std::string_view input) { return parse_whole(input, &Parser::item); }
List parse_list(std::string_view input) { return parse_whole(input, &Parser::list); }
Dictionary parse_dictionary(std::string_view input) { return parse_whole(input, &Parser::dictionary); }

std::string serialize(const BareItem& v) {
    struct V {
        std::string operator()(int64_t i) const {
            if (i > 999999999999999LL || i < -999999999999999LL)
                throw std::invalid_argument("integer out of range");
            return std::to_string(i);
        }
        std::string operator()(const Decimal& d) const {
            int64_t t = d.thousandths;
            std::string sign = t < 0 ? "-" : "";
            if (t < 0) t = -t;
            if (t / 1000 > 999999999999LL) throw std::invalid_argument("decimal out of range");
            std::string frac = std::to_string(t % 1000);
            while (frac.size() < 3) frac.insert(0, "0");
            while (frac.size() > 1 && frac.back() == '0') frac.pop_back();
            return sign + std::to_string(t / 1000) + "." + frac;
        }
        std::string operator()(const String& s) const {
            std::string out = "\"";
            for (char c : s.value) {
                if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
                    throw std::invalid_argument("string with a non-printable character");
                if (c == '"' || c == '\\') out.push_back('\\');
                out.push_back(c);
            }
            return out + "\"";
        }
        std::string operator()(const Token& t) const {
            if (t.value.empty() || !(is_alpha(t.value[0]) || t.value[0] == '*'))
                throw std::invalid_argument("invalid token");
            for (char c : t.value)
                if (!(is_tchar(c) || c == ':' || c == '/')) throw std::invalid_argument("invalid token");
            return t.value;
        }
        std::string operator()(const ByteSeq& b) const { return ":" + base64_encode(b.value) + ":"; }
        std::string operator()(bool b) const { return b ? "?1" : "?0"; }
        std::string operator()(const DisplayString& d) const {  // RFC 9651 §4.1.11
            static const char hex[] = "0123456789abcdef";
            std::string out = "%\"";
            for (char c : d.value) {
                const auto b = static_cast<unsigned char>(c);
                if (b == '%' || b == '"' || b < 0x20 || b > 0x7e) {
                    out += '%';
                    out += hex[b >> 4];
                    out += hex[b & 15];
                } else {
                    out += c;
                }
            }
            return out + "\"";
        }
    };
    return std::visit(V{}, v);
}

std::string serialize(const Parameters& params) {
    std::string out;
    for (const auto& [k, v] : params) {
        out += ";" + key_out(k);
        if (!(std::holds_alternative<bool>(v) && std::get<bool>(v))) out += "=" + serialize(v);
    }
    return out;
}

std::string serialize(const Item& item) { return serialize(item.value) + serialize(item.params); }

std::string serialize(const InnerList& list) {
    std::string out = "(";
    for (size_t i = 0; i < list.items.size(); ++i) {
        if (i) out += " ";
        out += serialize(list.items[i]);
    }
    return out + ")" + serialize(list.params);
}

std::string serialize(const Member& m) {
    return std::visit([](const auto& x) { return serialize(x); }, m);
}

std::string serialize(const List& list) {
    std::string out;
    for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += ", ";
        out += serialize(list[i]);
    }
    return out;
}

std::string serialize(const Dictionary& dict) {
    std::string out;
    for (size_t i = 0; i < dict.size(); ++i) {
        if (i) out += ", ";
        out += key_out(dict[i].first);
        const Member& m = dict[i].second;
        const Item* it = std::get_if<Item>(&m);
        if (it && std::holds_alternative<bool>(it->value) && std::get<bool>(it->value))
            out += serialize(it->params);
        else
            out += "=" + serialize(m);
    }
    return out;
}

const BareItem* find(const Parameters& p, std::string_view key) {
    for (const auto& kv : p)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

const Member* find(const Dictionary& d, std::string_view key) {
    for (const auto& kv : d)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

}  // namespace cmi::sf
