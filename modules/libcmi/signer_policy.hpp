// What makes a certificate or key fit to sign content, beyond chaining to the
// trust anchors: a purpose that is content signing, a key no weaker than RSA
// 2048 or P-256, and (optionally) no revocation in a CRL file. Shared by CMS
// signatures, manifest signers (SignedHash and XML-DSig) and RFC 9421 keys.
#pragma once
#include "libcmi/ossl.hpp"
#include "libcmi/trust_anchors.hpp"
#include "libcmi/validation_error.hpp"

#include <openssl/x509.h>

#include <ctime>
#include <string>
#include <vector>

namespace cmi {

// CMIContentSignerEKU: extended key usages accepted besides the content-signing
// ones (emailProtection, codeSigning, documentSigning, anyExtendedKeyUsage).
class KeyPurposes {
public:
    // A dotted OID (1.3.6.1.5.5.7.3.2) or an OpenSSL name (clientAuth); throws
    // std::invalid_argument for anything else.
    void add(const std::string& name);
    bool contains(const std::string& dotted_oid) const;
    bool empty() const { return oids_.empty(); }

private:
    std::vector<std::string> oids_;  // dotted
};

// CMIContentCRL: the CRLs of a PEM (or DER) file, read once at start-up.
class RevocationList {
public:
    // Throws std::runtime_error when the file is unreadable or holds no CRL.
    explicit RevocationList(const std::string& file);

    STACK_OF(X509_CRL) * crls() const { return crls_.get(); }
    const std::string& file() const { return file_; }

private:
    ossl::UniquePtr<STACK_OF(X509_CRL)> crls_;
    std::string file_;
};

// Everything a signer certificate is judged by. Made from the anchors alone
// (implicitly), it applies the built-in purposes and no CRL.
struct SignerPolicy {
    SignerPolicy(const TrustAnchors& a) : anchors(&a) {}  // NOLINT(google-explicit-constructor)
    SignerPolicy(const TrustAnchors& a, const KeyPurposes* p, const RevocationList* c)
        : anchors(&a), purposes(p), crls(c) {}
    const TrustAnchors* anchors;
    const KeyPurposes* purposes = nullptr;  // CMIContentSignerEKU, or nullptr
    const RevocationList* crls = nullptr;   // CMIContentCRL, or nullptr
};

// Each throws ValidationError("signer-untrusted") naming `who` (e.g. "the content
// signer certificate", "the key of keyid 'x'").
// RSA (and DSA) keys of fewer than 2048 bits, EC keys on curves under 256 bits.
void check_key_strength(EVP_PKEY* key, const std::string& who);
// An extended key usage, when present, must name a content-signing purpose or one of `extra`.
void check_key_purpose(X509* cert, const KeyPurposes* extra, const std::string& who);
// A certificate trusted as it is (an RFC 9421 key file): revoked, or its issuer's
// CRL out of date, when `crls` has a CRL from its issuer (none: not checked).
void check_pinned_revocation(X509* cert, const RevocationList& crls, std::time_t now, const std::string& who);

}  // namespace cmi
