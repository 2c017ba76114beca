// The trust decision for a content signer certificate, shared by CMS
// signatures (self-contained and per manifest item) and XML-DSig manifests.
#pragma once
#include "libcmi/signer_policy.hpp"
#include "libcmi/validation_error.hpp"

#include <ctime>
#include <openssl/x509.h>

namespace cmi {

// The signer must have a strong enough key, chain to the anchors (`untrusted`
// may supply intermediates; every CA key of the chain at least RSA 2048 / EC
// 224, no SHA-1), if it has a key usage allow digital signatures, if it has an
// extended key usage name a content-signing purpose, and with a CRL file not be
// revoked (its issuer's CRL is required; CA certificates are checked where the
// file has their issuer's CRL). Throws ValidationError("signer-untrusted")
// otherwise. `at` = 0 means now.
void verify_signer_chain(X509* signer, STACK_OF(X509) * untrusted, const SignerPolicy& policy, std::time_t at);

}  // namespace cmi
