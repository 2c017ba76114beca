// RFC 9421 HTTP Message Signatures, verifier side, for requests: parsing of
// Signature-Input/Signature, the signature base (§2.5) for the derived
// components and plain header fields, and the five asymmetric algorithms of
// the registry (§3.3). Failures throw ValidationError with a problem code
// (docs/architecture.md §Problem types).
#pragma once
#include "libcmi/signer_policy.hpp"
#include "libcmi/validation_error.hpp"

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

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

struct PkeyFree {
    void operator()(evp_pkey_st* k) const;
};
using Pkey = std::unique_ptr<evp_pkey_st, PkeyFree>;

// A PEM public key or certificate; nullptr if the file holds neither.
Pkey load_public_key(const std::string& pem_file);

// The key must be strong enough (signer_policy.hpp). When the key file is a
// certificate, it must also be valid at `now`, allow digitalSignature or
// nonRepudiation if it has a key usage, name a content-signing purpose (or one
// of `purposes`) if it has an extended key usage, and not be revoked by a CRL of
// its issuer in `crls`. Throws ValidationError("signer-untrusted") otherwise.
void check_signer_key(std::string_view pem, evp_pkey_st* key, std::time_t now, const std::string& keyid,
                      const KeyPurposes* purposes = nullptr, const RevocationList* crls = nullptr);
std::string read_key_file(const std::string& pem_file);  // "" when unreadable
Pkey public_key_from_pem(std::string_view pem);

// The algorithm to verify with: the declared one, which must fit the key, or
// the only one the key type allows (RSA keys need `alg`).
Alg resolve_alg(const std::optional<Alg>& declared, evp_pkey_st* key);

// Client side (cmi-sign): alg's signature over base (ECDSA as raw r||s).
// Throws std::runtime_error when the key does not fit or signing fails.
std::string sign_base(Alg alg, evp_pkey_st* private_key, std::string_view base);
Pkey load_private_key(const std::string& pem_file);

// RFC 9421 §3.3.4: an ECDSA signature as r||s (each `half` bytes) in the DER
// form OpenSSL verifies; nullopt if it is not that size (also for cmi-audit evidence).
std::optional<std::string> raw_ecdsa_to_der(std::string_view sig, size_t half);

// True when sig is alg's signature over base with key (ECDSA: raw r||s).
bool verify_base(Alg alg, evp_pkey_st* key, std::string_view base, std::string_view sig);

}  // namespace cmi::httpsig
