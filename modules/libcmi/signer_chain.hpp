// The trust decision for a content signer certificate, shared by CMS
// signatures (self-contained and per manifest item) and XML-DSig manifests.
#pragma once
#include "libcmi/trust_anchors.hpp"
#include "libcmi/validation_error.hpp"

#include <ctime>
#include <openssl/x509.h>

namespace cmi {

// The signer must chain to the anchors (`untrusted` may supply intermediates)
// and, if it has a key usage, allow digital signatures. Throws
// ValidationError("signer-untrusted") otherwise. `at` = 0 means now.
void verify_signer_chain(X509* signer, STACK_OF(X509) * untrusted, const TrustAnchors& anchors, std::time_t at);

}  // namespace cmi
