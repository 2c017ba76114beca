// mod_cmi_auth configuration: per-directory mechanisms and their settings,
// per-server replay cache and digest nonce secret.
#pragma once
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/replay_cache.hpp"
#include "libcmi/digest_auth.hpp"

#include <ap_expr.h>

namespace cmi::saml {
class TrustedIdps;
class ValidatedCache;
}

// Every file of the module logs under its name (per-module LogLevel).
extern "C" {
APLOG_USE_MODULE(cmi_auth);
}

namespace cmi::auth {

enum class Mech : int { cert, saml, digest, basic };
const char* mech_name(Mech m);

struct DirConfig {
    apr_array_header_t* mechanisms = nullptr;         // of Mech; nullptr: cert saml
    ap_expr_info_t* cert_user = nullptr;              // nullptr: SSL_CLIENT_S_DN_CN
    apr_array_header_t* providers = nullptr;          // of const char* names; nullptr: file
    apr_array_header_t* digest_algorithms = nullptr;  // of digest::Algorithm; nullptr: SHA-256
    int nonce_lifetime = 0;                           // seconds; 0: unset (300)

    // saml
    saml::TrustedIdps* saml_idps = nullptr;  // from CMISAMLIdPMetadata; nullptr: none trusted
    const char* saml_sp_entity_id = nullptr;
    apr_array_header_t* saml_recipients = nullptr;  // of const char*; nullptr: this request's configured URL
    int saml_skew = -1;                     // -1: unset (60)
    const char* saml_user_attribute = nullptr;  // nullptr: NameID
    httpd::Tri saml_one_time_use = httpd::Tri::unset;
    httpd::Tri saml_holder_of_key = httpd::Tri::unset;
};

struct ServerConfig {
    httpd::ReplayCache* replay_cache = nullptr;  // nullptr: shmcb, made in post_config
    unsigned replay_quota = 0;                   // CMIAuthReplayQuota; 0: the cache's default
    const char* nonce_secret_file = nullptr;
    const char* nonce_secret = nullptr;  // set in post_config (file or random)
    apr_size_t nonce_secret_len = 0;
    saml::ValidatedCache* saml_cache = nullptr;  // per child process, made in child_init
    apr_array_header_t* md5_sections = nullptr;  // of const char*: where CMIAuthDigestAlgorithms lists MD5
};

// Section merges (httpd::merge_config).
void merge_into(DirConfig& out, const DirConfig& base, const DirConfig& add, apr_pool_t* p);
void merge_into(ServerConfig& out, const ServerConfig& base, const ServerConfig& add, apr_pool_t* p);

extern const command_rec directives[];

inline const DirConfig& dir_config(request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_auth_module));
}
inline ServerConfig& server_config(server_rec* s) {
    return *static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &cmi_auth_module));
}

// Effective values after defaults.
apr_array_header_t* mechanisms(const DirConfig& c, apr_pool_t* p);
apr_array_header_t* digest_algorithms(const DirConfig& c, apr_pool_t* p);
apr_array_header_t* providers(const DirConfig& c, apr_pool_t* p);
inline int nonce_lifetime(const DirConfig& c) { return c.nonce_lifetime ? c.nonce_lifetime : 300; }
inline int saml_skew(const DirConfig& c) { return c.saml_skew >= 0 ? c.saml_skew : 60; }
inline const char* saml_user_attribute(const DirConfig& c) {
    return c.saml_user_attribute ? c.saml_user_attribute : "NameID";
}

}  // namespace cmi::auth
