// Evidence of origin (issue 15.3): once a provider's signature has verified,
// its bytes go to r->notes (httpd/notes.hpp, kEvidence*), where mod_cmi_audit
// takes them into its evidence store and names them in the begin record.
// One call per place a signature is verified; nothing here decides anything.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <string>
#include <string_view>

struct evp_pkey_st;

namespace cmi {
struct ManifestVerdict;
}

namespace cmi::content {

// CMI-Content-Signature: the DER SignedData as sent (its certificates included).
void publish_cms_evidence(request_rec* r, std::string_view der);

// RFC 9421: the signature base that verified (credentials redacted), the raw
// signature, the keyid and the public key that verified it.
void publish_http_signature_evidence(request_rec* r, std::string_view base, std::string_view signature,
                                     const std::string& keyid, evp_pkey_st* key);

// A manifest: the document as received when it carries an XML-DSig
// (`signed_manifest`, else empty), and every item's SignedHash that verified.
void publish_manifest_evidence(request_rec* r, std::string_view signed_manifest, const ManifestVerdict& verdict);

}  // namespace cmi::content
