#include "mod_cmi_content/evidence_notes.hpp"

#include "httpd/notes.hpp"
#include "libcmi/base64.hpp"
#include "libcmi/manifest_verify.hpp"
#include "libcmi/origin_evidence.hpp"

namespace cmi::content {
namespace {

void note(request_rec* r, const char* key, std::string_view value) {
    apr_table_setn(r->notes, key, apr_pstrmemdup(r->pool, value.data(), value.size()));
}

}  // namespace

void publish_cms_evidence(request_rec* r, std::string_view der) {
    note(r, httpd::kEvidenceCmsKey, base64_encode(der));
}

void publish_http_signature_evidence(request_rec* r, std::string_view base, std::string_view signature,
                                     const std::string& keyid, evp_pkey_st* key) {
    bool redacted = false;
    note(r, httpd::kEvidenceHttpSigBaseKey, base64_encode(audit::redact_signature_base(base, redacted)));
    note(r, httpd::kEvidenceHttpSigKey, base64_encode(signature));
    note(r, httpd::kEvidenceHttpSigKeyIdKey, keyid);
    note(r, httpd::kEvidenceHttpSigPublicKeyKey, base64_encode(audit::public_key_der(key)));
}

void publish_manifest_evidence(request_rec* r, std::string_view signed_manifest, const ManifestVerdict& verdict) {
    if (!signed_manifest.empty()) note(r, httpd::kEvidenceManifestKey, base64_encode(signed_manifest));
    std::vector<audit::ItemSignature> items;
    for (const ItemResult& i : verdict.items)
        if (!i.signed_hash.empty()) items.push_back({i.id, i.location, i.signed_hash});
    if (!items.empty()) note(r, httpd::kEvidenceItemsKey, audit::format_items_note(items));
}

}  // namespace cmi::content
