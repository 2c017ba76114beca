// mod_cmi_tls on server-status: refusals per problem code (counted by
// httpd::refuse, where every refusal is made).
#include "mod_cmi_tls/tls_status.hpp"

#include "httpd/barrier.hpp"
#include "httpd/status_counters.hpp"
#include "mod_cmi_tls/tls_config.hpp"

#include <mod_status.h>

namespace cmi::tls {
namespace {

constexpr const char* kCounters[] = {"refused.tls-required", "refused.tls-too-weak", "other"};

extern "C" int cmi_tls_status(request_rec* r, int flags) {
    return httpd::hook_barrier(r, cmi_tls_module, "status_hook", [r, flags] {
        httpd::report_status(r, flags, cmi_tls_module, "cmi_tls", "mod_cmi_tls (CMI connection security)");
        return OK;
    });
}

extern "C" int cmi_tls_status_post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        httpd::StatusCounters::create(pconf, s, cmi_tls_module, kCounters, std::size(kCounters));
    } catch (...) {
    }
    return OK;
}

}  // namespace

void register_status_hooks() {
    APR_OPTIONAL_HOOK(ap, status_hook, cmi_tls_status, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(cmi_tls_status_post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace cmi::tls
