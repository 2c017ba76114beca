// An enveloped XML-DSig over a whole manifest (xmlsec1). Only one shape is
// accepted, which leaves nothing for signature wrapping to exploit: exactly
// one ds:Signature, a child of the root element, with exactly one Reference
// whose URI is "" (the whole document) and whose transforms are the enveloped
// transform and canonicalisation. After verification the Signature element is
// removed, so the items are read from exactly the bytes that were signed.
#pragma once
#include "libcmi/manifest.hpp"
#include "libcmi/signer_policy.hpp"
#include "libcmi/signer_vars.hpp"

#include <ctime>
#include <string>

struct evp_pkey_st;
struct x509_st;

namespace cmi {

// xmlsec1 with the OpenSSL back end, unless lasso (or an earlier call)
// already initialised it. Call once per process before any verification.
void xmldsig_init();

struct ManifestSignature {
    bool present = false;
    std::string signer_cn;
    std::string signer_dn;
    SignerVars signer_vars;  // SIGNER_* of the signer certificate (CMIContentSignerIdentity)
};

// No ds:Signature: {present = false}, the document is untouched. Otherwise
// throws ValidationError with code
//   signature-malformed  more than one Signature, not a child of the root,
//                        not one Reference with URI="", a refused algorithm,
//                        no X509Certificate in KeyInfo, more than `max_certs`
//   signature-invalid    no carried certificate's key verifies the signature
//   signer-untrusted     the signing certificate does not chain to the anchors
//                        or is unfit to sign content (signer_policy.hpp)
// KeyInfo certificates are tried as the signer key one by one: at most `max_certs` are carried.
ManifestSignature verify_manifest_signature(ManifestDoc& doc, const SignerPolicy& signers, std::time_t at = 0,
                                            size_t max_certs = 4);

// Client side (cmi-sign, tests): adds an enveloped signature of exactly the
// accepted shape (exc-c14n, sha-256, rsa-sha256 or ecdsa-sha256) to `xml`,
// with `cert` in KeyInfo. Returns the signed document.
std::string sign_manifest_xmldsig(const std::string& xml, evp_pkey_st* key, x509_st* cert);

// True when the document holds a ds:Signature element anywhere.
bool manifest_has_signature(const ManifestDoc& doc);

}  // namespace cmi
