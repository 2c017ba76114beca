// Format `cms`: a detached CMS SignedData over the request body, as made by
// `openssl cms -sign -binary -outform DER`. The body is never in memory: the
// signer chain and the signature over the signed attributes are checked up
// front, and the signed messageDigest is compared with the streamed digest
// once the body has passed.
#pragma once
#include "libcmi/digest.hpp"
#include "libcmi/signer_vars.hpp"
#include "libcmi/trust_anchors.hpp"
#include "libcmi/validation_error.hpp"

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace cmi {

struct CmsExpectation {
    DigestAlg alg;                // the SignerInfo's digest algorithm
    std::string message_digest;   // the signed messageDigest attribute
    std::string signer_cn;        // subject CN of the signer certificate ("" if none)
    std::string signer_dn;        // RFC 2253 subject DN
    SignerVars signer_vars;       // SIGNER_* of the signer certificate (signer_vars.hpp)
};

// Verifies the DER CMS blob. Throws ValidationError with code
//   signature-malformed  not a one-signer detached SignedData with signed attributes,
//                        or a digest/signature algorithm that is refused (SHA-1, MD5, ...)
//   signer-untrusted     no chain to the anchors (unknown CA, expired, bad key usage)
//   signature-invalid    the signature over the signed attributes does not verify
// `at` (seconds since the epoch) replaces the current time in tests; 0 = now.
CmsExpectation verify_cms_signature(std::string_view der, const TrustAnchors& anchors,
                                    const std::vector<DigestAlg>& accepted, std::time_t at = 0);

// After the body: the streamed digest must equal the signed one (constant time).
// Throws ValidationError("digest-mismatch") otherwise.
void check_cms_digest(const CmsExpectation& e, std::string_view streamed_digest);

}  // namespace cmi
