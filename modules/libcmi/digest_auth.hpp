// HTTP Digest access authentication (RFC 7616), the parts that need no httpd:
// parsing the credentials, computing responses, and stateless nonces.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cmi::digest {

enum class Algorithm { md5, sha256 };

// "MD5" or "SHA-256" (case-insensitive); the -sess variants are not supported.
std::optional<Algorithm> parse_algorithm(std::string_view name);
const char* algorithm_name(Algorithm a);
// Length of a hex digest: 32 for MD5, 64 for SHA-256.
std::size_t hex_length(Algorithm a);
std::string hash_hex(Algorithm a, std::string_view data);

// The auth-param list after "Digest " (RFC 7235 §2.1): token=token or
// token="quoted-string", comma-separated. Names are lower-cased. nullopt on a
// syntax error or a repeated parameter.
std::optional<std::map<std::string, std::string>> parse_params(std::string_view s);

struct Credentials {
    std::string username, realm, nonce, uri, response, cnonce, qop, nc, opaque;
    Algorithm algorithm = Algorithm::md5;  // RFC 7616: MD5 when absent
};

// What a client sent; nullopt unless every parameter qop=auth needs is there
// and well-formed (nc is 8 hex digits, response has the algorithm's length).
std::optional<Credentials> parse_credentials(std::string_view params);

// H(A1) = H(username ":" realm ":" password).
std::string ha1(Algorithm a, std::string_view user, std::string_view realm, std::string_view password);

// The expected response for qop=auth: KD(H(A1), nonce:nc:cnonce:qop:H(method:uri)).
std::string expected_response(Algorithm a, std::string_view ha1_hex, const Credentials& c,
                              std::string_view method);

// Constant-time comparison of two hex strings (case-insensitive).
bool hex_equal(std::string_view a, std::string_view b);

// Stateless nonces: 16 hex digits of issue time, 16 hex digits of
// randomness (so no two challenges share a nonce, and (nonce, nc) names one
// request), 8 hex digits of the replay-cache generation, then
// HMAC-SHA-256(secret, time salt generation ":" realm ":" algorithm)
// truncated to 128 bits, in hex: a nonce is good for the realm and the
// algorithm of the challenge that carried it, and no other. Any node with the same secret can check them; nothing is stored.
// `salt` is 8 random bytes. `generation` is 0 for a replay cache shared by a
// cluster, and a random number made at each start for a cache local to the
// node (whose contents a restart loses).
std::string make_nonce(std::string_view secret, std::string_view realm, Algorithm a, std::int64_t now,
                       const unsigned char (&salt)[8], std::uint32_t generation = 0);

// `stale`: older than `lifetime`, or of another generation (made before a
// restart, or by another node with its own local cache). `other_algorithm`:
// issued here for the realm, but with the other algorithm's challenge.
enum class NonceState { fresh, stale, invalid, other_algorithm };
NonceState check_nonce(std::string_view secret, std::string_view realm, Algorithm a, std::string_view nonce,
                       std::int64_t now, std::int64_t lifetime, std::uint32_t generation = 0);

}  // namespace cmi::digest
