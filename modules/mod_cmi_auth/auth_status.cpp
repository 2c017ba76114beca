// mod_cmi_auth on server-status: refusals per problem code (counted by
// httpd::refuse), replay-cache hits and misses (counted by the ReplayCache),
// and successful authentications per mechanism (counted here, at log time).
#include "mod_cmi_auth/auth_status.hpp"

#include "httpd/barrier.hpp"
#include "httpd/notes.hpp"
#include "httpd/status_counters.hpp"
#include "mod_cmi_auth/auth_config.hpp"

#include <mod_status.h>

#include <string>

namespace cmi::auth {
namespace {

constexpr const char* kCounters[] = {
    "authenticated.cert", "authenticated.saml", "authenticated.digest", "authenticated.basic",
    "refused.authentication-required", "refused.authentication-failed",
    "refused.authentication-unavailable", "refused.authentication-rate-limited", "refused.forbidden",
    "replay_cache.hits", "replay_cache.misses", "replay_cache.errors", "replay_cache.full",
    "replay_cache.over_share", "replay_cache.before_start", "replay_cache.behind_window", "other",
};

extern "C" int cmi_auth_status(request_rec* r, int flags) {
    return httpd::hook_barrier(r, cmi_auth_module, "status_hook", [r, flags] {
        httpd::report_status(r, flags, cmi_auth_module, "cmi_auth", "mod_cmi_auth (CMI authentication)");
        return OK;
    });
}

extern "C" int cmi_auth_status_log(request_rec* r) {
    return httpd::hook_barrier(r, cmi_auth_module, "log_transaction", [r] {
        if (r->main) return DECLINED;
        const char* mech = apr_table_get(r->notes, httpd::kAuthMechKey);
        if (mech && r->user) httpd::count(r, cmi_auth_module, std::string("authenticated.") + mech);
        return DECLINED;
    });
}

extern "C" int cmi_auth_status_post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        httpd::StatusCounters::create(pconf, s, cmi_auth_module, kCounters, std::size(kCounters));
    } catch (...) {
    }
    return OK;
}

}  // namespace

void register_status_hooks() {
    APR_OPTIONAL_HOOK(ap, status_hook, cmi_auth_status, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(cmi_auth_status_post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(cmi_auth_status_log, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace cmi::auth
