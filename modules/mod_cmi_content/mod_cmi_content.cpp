// mod_cmi_content — CMI content validation (OMA CMI §6.4), Self-contained
// Upload: the request body must carry a valid signed hash (CMS or RFC 9421 +
// RFC 9530), checked while it streams to the handler or before it runs.
#include "httpd/barrier.hpp"
#include "httpd/common_hooks.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_content/content_status.hpp"
#include "mod_cmi_content/body_filter.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/header_check.hpp"
#include "mod_cmi_content/method_policy.hpp"
#include "mod_cmi_content/request_target.hpp"
#include "mod_cmi_content/replay_check.hpp"
#include "mod_cmi_content/manifest_filter.hpp"
#include "mod_cmi_content/config_check.hpp"
#include "mod_cmi_content/too_large.hpp"
#include "mod_cmi_content/spool.hpp"

namespace cmi::content {
namespace {

const DirConfig& dir_config(request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_content_module));
}

// Requests that carry content: any body at all, and every PUT, POST or PATCH
// (an empty upload is content too). A DELETE or MKCOL with "Content-Length: 0"
// has nothing to validate.
bool carries_body(request_rec* r) {
    if (r->method_number == M_PUT || r->method_number == M_POST || r->method_number == M_PATCH) return true;
    if (apr_table_get(r->headers_in, "Transfer-Encoding")) return true;
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n = 0;
    return length && !(ap_parse_strict_length(&n, length) && n == 0);
}

// Fixups: after authentication (the signer may be bound to the user), before
// the handler reads the body — so a refusal here precedes 100-continue.
int validate(request_rec* r) {
    if (r->main) return DECLINED;
    const DirConfig& dc = dir_config(r);
    // A manifest location validates every manifest, whatever CMIContentValidation says.
    if (decoupled(dc.manifest)) return carries_body(r) ? validate_manifest(r, dc) : DECLINED;
    if (validation(dc) == Validation::off || !carries_body(r)) return DECLINED;
    if (const int status = check_declared_length(r); status != DECLINED) return status;

    const HeaderVerdict v = check_headers(r, dc);
    if (v.status != DECLINED || !v.state) return v.status;
    keep_signer(r, &v.state->expect);
    if (spools(dc)) return spool_and_verify(r, dc, *v.state);
    add_body_filter(r, v.state);
    return DECLINED;
}

extern "C" int fixups(request_rec* r) {
    return httpd::hook_barrier(r, cmi_content_module, "fixups", [r] { return validate_body_once(r, validate); });
}

// A request handed another location after fixups judged it (mod_dir's
// DirectoryIndex and FallbackResource: ap_internal_fast_redirect) is judged
// again as the location it now is: its handler is that location's.
int judge_again(request_rec* r) {
    if (const int status = apply_method_policy(r); status != DECLINED) return status;
    return validate_body_once(r, validate);
}

extern "C" int late_fixups(request_rec* r) {
    return httpd::hook_barrier(r, cmi_content_module, "fixups (after mod_dir)",
                               [r] { return judge_moved_request(r, judge_again); });
}

extern "C" void manifest_child_init(apr_pool_t*, server_rec* s) {
    httpd::server_barrier(s, cmi_content_module, "child_init", init_manifest_libraries);
}

void register_hooks(apr_pool_t*) {
    httpd::register_common_hooks();
    register_status_hooks();
    register_manifest_filter();
    ap_hook_child_init(manifest_child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    register_body_filter();
    register_body_guard();
    register_spool_filter();
    register_replay_hooks();
    register_host_names_hook();
    register_method_policy();
    register_config_check();
    register_too_large_hook();
    ap_hook_fixups(fixups, nullptr, nullptr, APR_HOOK_MIDDLE);
    // After mod_dir's fast redirects (APR_HOOK_LAST), before mod_cmi_audit's begin record (REALLY_LAST).
    ap_hook_fixups(late_fixups, nullptr, nullptr, APR_HOOK_LAST + 1);
}

}  // namespace

bool validates_body(request_rec* r) {
    const DirConfig& dc = dir_config(r);
    return carries_body(r) && (decoupled(dc.manifest) || validation(dc) != Validation::off);
}

}  // namespace cmi::content

CMI_MODULE(cmi_content, cmi::content)
