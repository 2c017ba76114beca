// Format `cms`: a detached CMS SignedData over the request body, as made by
// `openssl cms -sign -binary -outform DER`. The body is never in memory: the
// signer chain and the signature over the signed attributes are checked up
// front, and the signed messageDigest is compared with the streamed digest
// once the body has passed.
#pragma once
#include "libcmi/digest.hpp"
#include "libcmi/signer_policy.hpp"
#include "libcmi/signer_vars.hpp"
#include "libcmi/validation_error.hpp"

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
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
    std::optional<std::int64_t> signing_time;  // the signingTime attribute, seconds since the epoch
    // What the signature is, whatever its encoding: SHA-256 over the signer's
    // public key, the signed attributes as signed and the signature value (ECDSA's
    // s normalised). Re-encoding a captured CMS (other certificates, the other
    // ECDSA s) keeps it; a new signing changes it.
    std::string signature_id;
};

// Signers already trusted within one batch of signatures (a manifest's
// items). A CMS whose certificates are byte-identical to an earlier one's
// reuses their decoded form and trust decision; its own signature is always
// verified. (In OpenSSL 3 decoding a certificate and building its chain cost
// several times the ECDSA verification itself.) Owned by one thread.
class CmsSignerCache {
public:
    CmsSignerCache();
    ~CmsSignerCache();
    CmsSignerCache(const CmsSignerCache&) = delete;
    CmsSignerCache& operator=(const CmsSignerCache&) = delete;
    struct Entry;
    const Entry* find(std::string_view certificates) const;
    void add(std::unique_ptr<Entry> e);

private:
    static constexpr std::size_t kMaxEntries = 16;  // a batch has few signers; more are not cached
    std::vector<std::unique_ptr<Entry>> entries_;
};

// Verifies the DER CMS blob. Throws ValidationError with code
//   signature-malformed  not a one-signer detached SignedData with signed attributes,
//                        or a digest/signature algorithm that is refused (SHA-1, MD5, ...)
//   signer-untrusted     no chain to the anchors (unknown CA, expired, bad key usage),
//                        or unfit to sign content (signer_policy.hpp)
//   signature-invalid    the signature over the signed attributes does not verify
// `at` (seconds since the epoch) replaces the current time in tests; 0 = now.
// With `cache`, signers trusted earlier in the batch are not decoded and
// chained again (same results, same errors).
CmsExpectation verify_cms_signature(std::string_view der, const SignerPolicy& signers,
                                    const std::vector<DigestAlg>& accepted, std::time_t at = 0,
                                    CmsSignerCache* cache = nullptr);

// A signingTime, when there is one, must lie within [now - max_age - skew, now + skew].
// Throws ValidationError("signature-invalid") otherwise.
void check_signing_time(const CmsExpectation& e, std::time_t now, long skew, long max_age);

// After the body: the streamed digest must equal the signed one (constant time).
// Throws ValidationError("digest-mismatch") otherwise.
void check_cms_digest(const CmsExpectation& e, std::string_view streamed_digest);

}  // namespace cmi
