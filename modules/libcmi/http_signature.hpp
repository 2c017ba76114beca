// RFC 9421 HTTP Message Signatures, the message layer, for requests: parsing of
// Signature-Input/Signature, the signature base (§2.5) for the derived
// components and plain header fields, and the times and coverage a signature
// must have. Keys, signing and verifying: http_signature_crypto.hpp. Failures
// throw ValidationError with a problem code (docs/architecture.md §Problem types).
#pragma once
#include "libcmi/validation_error.hpp"

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmi::httpsig {

enum class Alg { ed25519, ecdsa_p256_sha256, ecdsa_p384_sha384, rsa_pss_sha512, rsa_v1_5_sha256 };

std::optional<Alg> alg_from_name(std::string_view name);
const char* alg_name(Alg alg);

// The parts of a request a signature base can cover.
struct Request {
    std::string method;     // as sent, e.g. "PUT"
    std::string scheme;     // "https"
    std::string authority;  // host[:port] as sent in Host / :authority
    std::string path;       // raw (not percent-decoded) path
    std::string query;      // raw query without '?'
    bool has_query = false;
    // The combined value of a header field (lower-case name), or nullopt.
    std::function<std::optional<std::string>(const std::string&)> field;
};

struct Params {
    std::string label;
    std::vector<std::string> components;  // component identifiers, in order
    std::string keyid;
    std::optional<Alg> alg;
    std::optional<int64_t> created;
    std::optional<int64_t> expires;
    std::optional<std::string> nonce;
    std::string serialized;  // the @signature-params value
};

struct Signature {
    Params params;
    std::string value;  // raw signature bytes
};

// The first label of Signature-Input that also has a Signature member.
Signature parse_signature_fields(std::string_view signature_input, std::string_view signature);

// The signature base of §2.5. Supported: @method @target-uri @authority
// @scheme @request-target @path @query and header fields without parameters.
std::string signature_base(const Params& params, const Request& request);

// created must exist and lie no further than skew in the future; expires, if
// present, must not have passed (minus skew). max_age > 0 bounds created's age.
void check_times(const Params& params, std::time_t now, long skew, long max_age);

// A component every accepted signature must cover.
void require_component(const Params& params, const std::string& component);

// The request's target must be covered: "@target-uri", or "@path" (or
// "@request-target") — with "@authority" too when `several_hosts` (the server
// answers for more than one host name, so a path alone names no one resource).
// Throws ValidationError("signature-malformed") otherwise.
void require_target(const Params& params, bool several_hosts);

// keyid as a file name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, nothing else.
bool valid_keyid(std::string_view keyid);

}  // namespace cmi::httpsig
