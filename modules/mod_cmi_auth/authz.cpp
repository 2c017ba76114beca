#include "mod_cmi_auth/authz.hpp"

#include "httpd/barrier.hpp"
#include "httpd/notes.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_auth/auth_config.hpp"

#include <ap_provider.h>
#include <mod_auth.h>

#include <string>

namespace cmi::auth {
namespace {

// A refused authenticated user gets 403 `forbidden` when the status is 403
// (AuthzSendForbiddenOnFailure On); a 401 is answered by note_auth_failure.
authz_status deny(request_rec* r, const std::string& detail) {
    httpd::refuse(r, cmi_auth_module, "forbidden", detail);
    return AUTHZ_DENIED;
}

authz_status check_mechanism(request_rec* r, const char* require_line, const void*) {
    if (!r->user) return AUTHZ_DENIED_NO_USER;
    const char* mech = apr_table_get(r->notes, httpd::kAuthMechKey);
    const char* line = require_line;
    while (*line) {
        const char* want = ap_getword_conf(r->pool, &line);
        if (mech && *want && !strcasecmp(want, mech)) return AUTHZ_GRANTED;
    }
    return deny(r, std::string("Authentication by ") + (mech ? mech : "this mechanism") +
                       " is not accepted here (Require cmi-mechanism " + require_line + ").");
}

const char* parse_mechanism(cmd_parms* cmd, const char* require_line, const void**) {
    const char* line = require_line;
    int n = 0;
    while (*line) {
        const char* m = ap_getword_conf(cmd->temp_pool, &line);
        if (!*m) continue;
        ++n;
        if (strcasecmp(m, "cert") && strcasecmp(m, "saml") && strcasecmp(m, "digest") && strcasecmp(m, "basic"))
            return apr_pstrcat(cmd->pool, "Require cmi-mechanism: '", m,
                               "' is not a mechanism; use any of cert saml digest basic", nullptr);
    }
    if (!n) return "Require cmi-mechanism: name at least one of cert saml digest basic";
    return nullptr;
}

// CMI_SAML_ATTR_<NAME> holds the attribute's values; any listed value grants.
authz_status check_saml_attribute(request_rec* r, const char* require_line, const void*) {
    if (!r->user) return AUTHZ_DENIED_NO_USER;
    const char* line = require_line;
    const char* name = ap_getword_conf(r->pool, &line);
    char* key = apr_pstrcat(r->pool, httpd::kSamlAttrPrefix, name, nullptr);
    ap_str_toupper(key);
    // Every value of a multi-valued attribute is its own notes entry.
    struct Match {
        const char* want;
        bool found;
    };
    while (*line) {
        Match m{ap_getword_conf(r->pool, &line), false};
        if (!*m.want) continue;
        apr_table_do(
            [](void* rec, const char*, const char* value) -> int {
                auto* mm = static_cast<Match*>(rec);
                if (!strcmp(mm->want, value)) mm->found = true;
                return !mm->found;
            },
            &m, r->notes, key, nullptr);
        if (m.found) return AUTHZ_GRANTED;
    }
    return deny(r, std::string("SAML attribute ") + name + " does not have a required value.");
}

const char* parse_saml_attribute(cmd_parms* cmd, const char* require_line, const void**) {
    const char* line = require_line;
    const char* name = ap_getword_conf(cmd->temp_pool, &line);
    const char* value = ap_getword_conf(cmd->temp_pool, &line);
    if (!*name || !*value) return "Require cmi-saml-attribute: use 'Require cmi-saml-attribute NAME VALUE...'";
    return nullptr;
}

// An authz provider's check through the barrier: an exception is a general error.
authz_status authz_barrier(request_rec* r, const char* where,
                           authz_status (*check)(request_rec*, const char*, const void*), const char* line,
                           const void* parsed) noexcept {
    authz_status st = AUTHZ_GENERAL_ERROR;
    httpd::hook_barrier(r, cmi_auth_module, where, [&] {
        st = check(r, line, parsed);
        return OK;
    });
    return st;
}

extern "C" authz_status mechanism_entry(request_rec* r, const char* line, const void* parsed) noexcept {
    return authz_barrier(r, "Require cmi-mechanism", check_mechanism, line, parsed);
}

extern "C" authz_status saml_attribute_entry(request_rec* r, const char* line, const void* parsed) noexcept {
    return authz_barrier(r, "Require cmi-saml-attribute", check_saml_attribute, line, parsed);
}

extern "C" const char* parse_mechanism_entry(cmd_parms* cmd, const char* line, const void** parsed) {
    return httpd::directive_barrier(cmd, [&] { return parse_mechanism(cmd, line, parsed); });
}

extern "C" const char* parse_saml_attribute_entry(cmd_parms* cmd, const char* line, const void** parsed) {
    return httpd::directive_barrier(cmd, [&] { return parse_saml_attribute(cmd, line, parsed); });
}

const authz_provider kMechanismProvider = {mechanism_entry, parse_mechanism_entry};
const authz_provider kSamlAttributeProvider = {saml_attribute_entry, parse_saml_attribute_entry};

}  // namespace

void register_authz_providers(apr_pool_t* p) {
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "cmi-mechanism", AUTHZ_PROVIDER_VERSION,
                              &kMechanismProvider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "cmi-saml-attribute", AUTHZ_PROVIDER_VERSION,
                              &kSamlAttributeProvider, AP_AUTH_INTERNAL_PER_CONF);
}

}  // namespace cmi::auth
