#include "libcmi/digest_auth.hpp"

#include "libcmi/sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <stdexcept>

namespace cmi::digest {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// RFC 7230 tchar.
bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool is_hex(std::string_view s) {
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// The MAC binds a nonce to the realm and the algorithm it was offered with:
// an answer with another algorithm (a downgrade to MD5) does not verify.
std::string nonce_mac(std::string_view secret, std::string_view head, std::string_view realm, Algorithm a) {
    std::string msg(head);
    msg += ':';
    msg += realm;
    msg += ':';
    msg += algorithm_name(a);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len))
        throw std::runtime_error("HMAC-SHA-256 failed");
    return hex(mac, 16);
}

constexpr std::size_t kTimeHex = 16;
constexpr std::size_t kSaltHex = 16;
constexpr std::size_t kGenHex = 8;
constexpr std::size_t kMacHex = 32;

}  // namespace

std::optional<Algorithm> parse_algorithm(std::string_view name) {
    if (iequals(name, "MD5")) return Algorithm::md5;
    if (iequals(name, "SHA-256")) return Algorithm::sha256;
    return std::nullopt;
}

const char* algorithm_name(Algorithm a) { return a == Algorithm::sha256 ? "SHA-256" : "MD5"; }

std::size_t hex_length(Algorithm a) { return a == Algorithm::sha256 ? 64 : 32; }

std::string hash_hex(Algorithm a, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), md, &len, a == Algorithm::sha256 ? EVP_sha256() : EVP_md5(), nullptr))
        throw std::runtime_error("digest failed");
    return hex(md, len);
}

std::optional<std::map<std::string, std::string>> parse_params(std::string_view s) {
    std::map<std::string, std::string> out;
    std::size_t i = 0;
    const std::size_t n = s.size();
    auto skip_ows = [&] { while (i < n && is_ows(s[i])) ++i; };
    while (true) {
        // Empty list elements are allowed: ", ,a=b".
        skip_ows();
        while (i < n && s[i] == ',') { ++i; skip_ows(); }
        if (i >= n) break;
        std::size_t start = i;
        while (i < n && is_tchar(s[i])) ++i;
        if (i == start) return std::nullopt;
        std::string name(s.substr(start, i - start));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        skip_ows();
        if (i >= n || s[i] != '=') return std::nullopt;
        ++i;
        skip_ows();
        std::string value;
        if (i < n && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                char c = s[i++];
                if (c == '"') { closed = true; break; }
                if (c == '\\') {
                    if (i >= n) return std::nullopt;
                    c = s[i++];
                }
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return std::nullopt;
                if (c == 0x7f) return std::nullopt;
                value.push_back(c);
            }
            if (!closed) return std::nullopt;
        } else {
            start = i;
            while (i < n && is_tchar(s[i])) ++i;
            if (i == start) return std::nullopt;
            value.assign(s.substr(start, i - start));
        }
        if (!out.emplace(std::move(name), std::move(value)).second) return std::nullopt;
        skip_ows();
        if (i < n && s[i] != ',') return std::nullopt;
    }
    return out;
}

std::optional<Credentials> parse_credentials(std::string_view params) {
    auto p = parse_params(params);
    if (!p) return std::nullopt;
    auto get = [&](const char* k) -> const std::string* {
        auto it = p->find(k);
        return it == p->end() ? nullptr : &it->second;
    };
    Credentials c;
    for (const char* required : {"username", "realm", "nonce", "uri", "response", "cnonce", "qop", "nc"})
        if (!get(required)) return std::nullopt;
    // userhash and username* are not offered, so never accepted.
    if (get("username*")) return std::nullopt;
    if (const std::string* uh = get("userhash"); uh && !iequals(*uh, "false")) return std::nullopt;
    if (const std::string* alg = get("algorithm")) {
        auto a = parse_algorithm(*alg);
        if (!a) return std::nullopt;
        c.algorithm = *a;
    }
    c.username = *get("username");
    c.realm = *get("realm");
    c.nonce = *get("nonce");
    c.uri = *get("uri");
    c.response = *get("response");
    c.cnonce = *get("cnonce");
    c.qop = *get("qop");
    c.nc = *get("nc");
    if (const std::string* o = get("opaque")) c.opaque = *o;
    if (c.qop != "auth") return std::nullopt;
    if (c.nc.size() != 8 || !is_hex(c.nc)) return std::nullopt;
    if (c.response.size() != hex_length(c.algorithm) || !is_hex(c.response)) return std::nullopt;
    if (c.cnonce.empty() || c.uri.empty()) return std::nullopt;
    return c;
}

std::string ha1(Algorithm a, std::string_view user, std::string_view realm, std::string_view password) {
    std::string s(user);
    s += ':';
    s += realm;
    s += ':';
    s += password;
    std::string h = hash_hex(a, s);
    OPENSSL_cleanse(s.data(), s.size());
    return h;
}

std::string expected_response(Algorithm a, std::string_view ha1_hex, const Credentials& c,
                              std::string_view method) {
    std::string a2(method);
    a2 += ':';
    a2 += c.uri;
    std::string kd(ha1_hex);
    for (char& ch : kd) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    kd += ':' + c.nonce + ':' + c.nc + ':' + c.cnonce + ':' + c.qop + ':' + hash_hex(a, a2);
    return hash_hex(a, kd);
}

bool hex_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    std::string la(a), lb(b);
    for (char& c : la) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : lb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return CRYPTO_memcmp(la.data(), lb.data(), la.size()) == 0;
}

std::string make_nonce(std::string_view secret, std::string_view realm, Algorithm a, std::int64_t now,
                       const unsigned char (&salt)[8], std::uint32_t generation) {
    char t[kTimeHex + 1];
    std::snprintf(t, sizeof t, "%016" PRIx64, static_cast<std::uint64_t>(now));
    char g[kGenHex + 1];
    std::snprintf(g, sizeof g, "%08" PRIx32, generation);
    const std::string head = std::string(t) + hex(salt, sizeof salt) + g;
    return head + nonce_mac(secret, head, realm, a);
}

NonceState check_nonce(std::string_view secret, std::string_view realm, Algorithm a, std::string_view nonce,
                       std::int64_t now, std::int64_t lifetime, std::uint32_t generation) {
    constexpr std::size_t head_len = kTimeHex + kSaltHex + kGenHex;
    if (nonce.size() != head_len + kMacHex || !is_hex(nonce)) return NonceState::invalid;
    const std::string_view time_hex = nonce.substr(0, kTimeHex);
    const std::string_view head = nonce.substr(0, head_len);
    const std::string mac = nonce_mac(secret, head, realm, a);
    if (CRYPTO_memcmp(mac.data(), nonce.data() + head_len, kMacHex) != 0) {
        // Only to say why: ours, but offered with the other algorithm.
        const Algorithm other = a == Algorithm::md5 ? Algorithm::sha256 : Algorithm::md5;
        const std::string other_mac = nonce_mac(secret, head, realm, other);
        return CRYPTO_memcmp(other_mac.data(), nonce.data() + head_len, kMacHex) == 0 ? NonceState::other_algorithm
                                                                                        : NonceState::invalid;
    }
    const auto issued = static_cast<std::int64_t>(std::stoull(std::string(time_hex), nullptr, 16));
    if (issued > now + 5) return NonceState::invalid;  // from the future: not ours
    // Ours, but from another replay-cache generation: its nonce-counts are not
    // in this cache, so it cannot be checked for replay. The client retries.
    const auto gen = static_cast<std::uint32_t>(std::stoul(std::string(nonce.substr(kTimeHex + kSaltHex, kGenHex)), nullptr, 16));
    if (gen != generation) return NonceState::stale;
    return now - issued > lifetime ? NonceState::stale : NonceState::fresh;
}

}  // namespace cmi::digest
