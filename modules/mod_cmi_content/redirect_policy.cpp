#include "mod_cmi_content/redirect_policy.hpp"

#include "httpd/log.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/request_chain.hpp"
#include "httpd/transaction.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/header_check.hpp"
#include "mod_cmi_content/spool.hpp"

#include <cstring>
#include <string>

namespace cmi::content {
namespace {

bool same_text(const char* a, const char* b) { return a == b || (a && b && std::strcmp(a, b) == 0); }

// Any difference is a difference: a manifest is verified only where it is sent.
bool same_manifest_policy(const ManifestConfig& a, const ManifestConfig& b) {
    return decoupled(a) == decoupled(b) && same_text(a.staging_root, b.staging_root) &&
           staging_per_user(a) == staging_per_user(b) && manifest_max_size(a) == manifest_max_size(b) &&
           a.namespaces == b.namespaces && same_text(a.item_path, b.item_path) && same_text(a.id_path, b.id_path) &&
           same_text(a.location_path, b.location_path) && same_text(a.digest_path, b.digest_path) &&
           same_text(a.signed_hash_path, b.signed_hash_path) && a.metadata == b.metadata &&
           snapshot_mode(a) == snapshot_mode(b) && same_text(snapshot_dir(a), snapshot_dir(b)) &&
           manifest_max_items(a) == manifest_max_items(b) && manifest_max_bytes(a) == manifest_max_bytes(b) &&
           max_keyinfo_certificates(a) == max_keyinfo_certificates(b);
}

// Which bodies a location accepts and how, not what it lets through besides (the
// method policy runs for every request of the chain on its own).
bool same_signer_policy(const DirConfig& a, const DirConfig& b) {
    return validation(a) == validation(b) && formats(a) == formats(b) && digest_algs(a) == digest_algs(b) &&
           a.anchors == b.anchors && same_text(a.signer_keys_dir, b.signer_keys_dir) &&
           binds_signer(a) == binds_signer(b) && signature_max_age(a) == signature_max_age(b) &&
           a.signer_identity == b.signer_identity && a.signer_purposes == b.signer_purposes && a.crl == b.crl &&
           spools(a) == spools(b);
}

int refuse_redirect(request_rec* r, const DirConfig& now, const DirConfig* was) {
    const request_rec* first = httpd::first_request(r);
    const char* why = !was || decoupled(was->manifest)
                          ? (decoupled(now.manifest) ? "a Decoupled Upload manifest is verified only by the location "
                                                       "it is sent to, and this one's manifest policy differs"
                                                     : "a Decoupled Upload manifest is no signed upload")
                          : "a signed upload is no Decoupled Upload manifest";
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  CMILOGNO(30014) "refused the internal redirect of %s %s to %s: its body was validated under another "
                                  "content policy and cannot be judged by this one (%s) [CMI-Transaction-ID %s]",
                  first->method, first->uri, r->uri, why, httpd::transaction_id(r));
    return httpd::refuse(r, cmi_content_module, "redirect-refused",
                         std::string("The request was handed on inside the server to ") + r->uri +
                             ", whose content policy differs from that of " + first->uri + ": " + why +
                             ". Send it to the interface that takes it directly.");
}

}  // namespace

bool same_content_policy(const DirConfig& a, const DirConfig& b) {
    return &a == &b || (same_signer_policy(a, b) && same_manifest_policy(a.manifest, b.manifest));
}

int judge_in_new_location(request_rec* r, const DirConfig& now, const JudgedBody& was) {
    if (!validates_body(r) || (was.policy && same_content_policy(now, *was.policy))) return DECLINED;
    if (!was.policy || !was.signer || decoupled(now.manifest) || decoupled(was.policy->manifest))
        return refuse_redirect(r, now, was.policy);
    if (const int status = judge_signer_again(r, now, *was.signer); status != DECLINED) return status;
    // Its handler runs only on a body that has passed: read it whole now, through
    // the filter that verifies it, into a spool file.
    if (spools(now) && !spools(*was.policy)) return spool_verified_body(r, now);
    return DECLINED;
}

}  // namespace cmi::content
