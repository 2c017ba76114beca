// mod_cmi_auth on server-status: refusals per problem code (counted by
// httpd::refuse), replay-cache hits and misses (counted by the ReplayCache),
// and successful authentications per mechanism (counted here, at log time).
#include "mod_cmi_auth/auth_status.hpp"

#include "httpd/notes.hpp"
#include "httpd/status_counters.hpp"
#include "mod_cmi_auth/auth_config.hpp"

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

void count_authenticated(request_rec* r) {
    const char* mech = apr_table_get(r->notes, httpd::kAuthMechKey);
    if (mech && r->user) httpd::count(r, cmi_auth_module, std::string("authenticated.") + mech);
}

constexpr httpd::StatusTable kStatus{&cmi_auth_module,     "cmi_auth", "mod_cmi_auth (CMI authentication)",
                                     kCounters,            std::size(kCounters), nullptr,
                                     count_authenticated};

}  // namespace

void register_status_hooks() { httpd::register_status_table<kStatus>(); }

}  // namespace cmi::auth
