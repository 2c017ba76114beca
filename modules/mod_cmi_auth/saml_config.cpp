#include "mod_cmi_auth/saml_config.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "libcmi/lasso_includes.hpp"
#include "libcmi/saml_idps.hpp"
#include "mod_cmi_auth/auth_config.hpp"

#include <apr_uri.h>

#include <cstdlib>
#include <cstring>
#include <vector>
#include <mutex>
#include <stdexcept>
#include <string>

namespace cmi::auth {

void ensure_lasso() {
    // Once per load of this module in this process (configuration reading and
    // child_init are single-threaded, call_once makes that not matter). After a
    // restart reloads the module the flag is new and lasso_init runs again:
    // harmless, lasso tolerates a second init (BUILD-NOTES), and it is what is
    // needed when liblasso was unloaded with us.
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] { ok = lasso_init() == 0; });
    if (!ok) throw std::runtime_error("lasso_init failed");
}

namespace {

bool valid_alias(const char* a) {
    const std::size_t n = std::strlen(a);
    if (!n || n > 64) return false;
    for (const char* p = a; *p; ++p)
        if (!apr_isalnum(*p) && *p != '.' && *p != '_' && *p != '-') return false;
    return true;
}

}  // namespace

const char* add_saml_idp_metadata(cmd_parms* cmd, DirConfig& c, const char* path, const char* alias) {
    const char* full = ap_server_root_relative(cmd->pool, path);
    if (!full) throw std::invalid_argument(std::string("'") + path + "' is not a valid path");
    if (alias && !valid_alias(alias))
        throw std::invalid_argument(std::string("alias '") + alias +
                                    "' is not a name; use 1 to 64 of A-Z a-z 0-9 . _ -");
    ensure_lasso();
    // Each section gets its own set: an inner section's list replaces the outer one.
    if (!c.saml_idps) c.saml_idps = httpd::pool_new<saml::TrustedIdps>(cmd->pool);
    std::vector<std::string> remarks;
    try {
        remarks = c.saml_idps->load_metadata(full, alias ? alias : "");
    } catch (const std::runtime_error& e) {
        throw std::invalid_argument(std::string(e.what()) +
                                    "; use the IdP's SAML 2.0 metadata (md:EntityDescriptor with an "
                                    "IDPSSODescriptor and a signing KeyDescriptor)");
    }
    for (const auto& r : remarks) ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, cmd->server, "CMISAMLIdPMetadata: %s", r.c_str());
    // Several IdPs here: each must name only its own users.
    const auto ambiguous = c.saml_idps->ambiguous();
    if (!ambiguous.empty()) {
        std::string names;
        for (const auto& n : ambiguous) names += (names.empty() ? "" : ", ") + n;
        throw std::invalid_argument("several IdPs are trusted in this section and " + names +
                                    " could name another IdP's users (no shibmd:Scope in its metadata, no "
                                    "alias): add the scopes of its users to its metadata, or give its file "
                                    "an alias (CMISAMLIdPMetadata file alias: users become name@alias)");
    }
    return nullptr;
}

const char* set_saml_sp_entity_id(cmd_parms* cmd, DirConfig& c, const char* uri) {
    c.saml_sp_entity_id =
        httpd::text_arg(cmd, uri, "needs this service's entity id, e.g. https://cmc.example.com/saml");
    return nullptr;
}

const char* set_saml_recipients(cmd_parms* cmd, DirConfig& c, int argc, char* const argv[]) {
    if (argc < 1) throw std::invalid_argument("needs at least one URL, e.g. https://cmc.example.com/cmi");
    auto* arr = apr_array_make(cmd->pool, argc, sizeof(const char*));
    for (int i = 0; i < argc; ++i) {
        apr_uri_t u;
        if (apr_uri_parse(cmd->temp_pool, argv[i], &u) != APR_SUCCESS || !u.scheme ||
            strcasecmp(u.scheme, "https") || !u.hostname || !*u.hostname || u.fragment)
            throw std::invalid_argument(std::string("'") + argv[i] +
                                        "' is not an https URL; list the URLs assertions name as Recipient, "
                                        "e.g. https://cmc.example.com/cmi");
        APR_ARRAY_PUSH(arr, const char*) = apr_pstrdup(cmd->pool, argv[i]);
    }
    c.saml_recipients = arr;
    return nullptr;
}

const char* set_saml_clock_skew(cmd_parms*, DirConfig& c, const char* secs) {
    c.saml_skew =
        static_cast<int>(httpd::number_arg(secs, 0, 3600, "a skew; use seconds from 0 to 3600"));
    return nullptr;
}

const char* set_saml_user_attribute(cmd_parms* cmd, DirConfig& c, const char* name) {
    c.saml_user_attribute =
        httpd::text_arg(cmd, name, "use NameID or an attribute Name / FriendlyName");
    return nullptr;
}

}  // namespace cmi::auth
