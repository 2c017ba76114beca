// mod_cmi_audit — CMI non-repudiation (OMA CMI §6.3): transaction ids and a
// durable, hash-chained operation log of every audited request.
#include "httpd/barrier.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/request_ids.hpp"

namespace cmi::audit {
namespace {

// header_parser runs once the location's configuration is known and before
// access control, so even a refusal by authentication carries the ids.
extern "C" int header_parser(request_rec* r) {
    return httpd::hook_barrier(r, cmi_audit_module, "header_parser", [r] {
        if (audited(dir_config(r))) publish_request_ids(r);
        return DECLINED;
    });
}

void register_hooks(apr_pool_t*) {
    httpd::register_problem_response();
    ap_hook_header_parser(header_parser, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
}

}  // namespace
}  // namespace cmi::audit

extern "C" {
APLOG_USE_MODULE(cmi_audit);

__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA cmi_audit_module = {
    STANDARD20_MODULE_STUFF,
    cmi::audit::create_dir_config,
    cmi::audit::merge_dir_config,
    cmi::audit::create_server_config,
    cmi::audit::merge_server_config,
    cmi::audit::directives,
    cmi::audit::register_hooks,
    AP_MODULE_FLAG_NONE,
};
}
