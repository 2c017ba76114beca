// RFC 9421 keys and the five asymmetric algorithms of the registry (§3.3):
// loading PEM keys (or certificates), judging a signer's key, signing and
// verifying a signature base (http_signature.hpp makes the base).
#pragma once
#include "libcmi/http_signature.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/signer_policy.hpp"

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace cmi::httpsig {

// A PEM public key or certificate; nullptr if the file holds neither.
ossl::Pkey load_public_key(const std::string& pem_file);

// The key must be strong enough (signer_policy.hpp). When the key file is a
// certificate, it must also be valid at `now`, allow digitalSignature or
// nonRepudiation if it has a key usage, name a content-signing purpose (or one
// of `purposes`) if it has an extended key usage, and not be revoked by a CRL of
// its issuer in `crls`. Throws ValidationError("signer-untrusted") otherwise.
void check_signer_key(std::string_view pem, EVP_PKEY* key, std::time_t now, const std::string& keyid,
                      const KeyPurposes* purposes = nullptr, const RevocationList* crls = nullptr);
std::string read_key_file(const std::string& pem_file);  // "" when unreadable
ossl::Pkey public_key_from_pem(std::string_view pem);

// The algorithm to verify with: the declared one, which must fit the key, or
// the only one the key type allows (RSA keys need `alg`).
Alg resolve_alg(const std::optional<Alg>& declared, EVP_PKEY* key);

// Client side (cmi-sign): alg's signature over base (ECDSA as raw r||s).
// Throws std::runtime_error when the key does not fit or signing fails.
std::string sign_base(Alg alg, EVP_PKEY* private_key, std::string_view base);
ossl::Pkey load_private_key(const std::string& pem_file);

// RFC 9421 §3.3.4: an ECDSA signature as r||s (each `half` bytes) in the DER
// form OpenSSL verifies; nullopt if it is not that size (also for cmi-audit evidence).
std::optional<std::string> raw_ecdsa_to_der(std::string_view sig, size_t half);

// True when sig is alg's signature over base with key (ECDSA: raw r||s).
bool verify_base(Alg alg, EVP_PKEY* key, std::string_view base, std::string_view sig);

}  // namespace cmi::httpsig
