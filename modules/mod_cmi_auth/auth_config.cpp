#include "mod_cmi_auth/auth_config.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "mod_cmi_auth/saml_config.hpp"

#include <ap_provider.h>
#include <mod_auth.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace cmi::auth {
namespace {

using httpd::as_cmd;

const char* const kMechNames[] = {"cert", "saml", "digest", "basic"};

// Server config, virtual host and directory sections, never .htaccess: the CMI
// authentication policy (mechanisms, trusted IdPs, user stores) is the server
// administrator's, and AllowOverride AuthConfig does not open it up. (The
// `Require cmi-*` authz providers go wherever Require goes: they only narrow access.)
constexpr int kDirContext = ACCESS_CONF | RSRC_CONF;

const char* set_mechanisms(cmd_parms* cmd, DirConfig& c, int argc, char* const argv[]) {
    if (argc < 1) throw std::invalid_argument("needs at least one of cert saml digest basic");
    auto* arr = apr_array_make(cmd->pool, argc, sizeof(Mech));
    for (int i = 0; i < argc; ++i) {
        int found = -1;
        for (int m = 0; m < 4; ++m)
            if (!strcasecmp(argv[i], kMechNames[m])) found = m;
        if (found < 0)
            throw std::invalid_argument(std::string("'") + argv[i] +
                                        "' is not a mechanism; use any of cert saml digest basic");
        for (int j = 0; j < arr->nelts; ++j)
            if (APR_ARRAY_IDX(arr, j, Mech) == static_cast<Mech>(found))
                throw std::invalid_argument(std::string("'") + argv[i] + "' is listed twice");
        APR_ARRAY_PUSH(arr, Mech) = static_cast<Mech>(found);
    }
    c.mechanisms = arr;
    return nullptr;
}

const char* set_cert_user(cmd_parms* cmd, DirConfig& c, const char* expr) {
    const char* err = nullptr;
    ap_expr_info_t* info = ap_expr_parse_cmd(cmd, expr, AP_EXPR_FLAG_STRING_RESULT, &err, nullptr);
    if (err)
        throw std::invalid_argument(std::string("'") + expr + "' is not a string expression (" + err +
                                    "); use e.g. \"%{SSL_CLIENT_S_DN_CN}\" or \"%{SSL_CLIENT_SAN_Email_0}\"");
    c.cert_user = info;
    return nullptr;
}

const char* set_providers(cmd_parms* cmd, DirConfig& c, int argc, char* const argv[]) {
    if (argc < 1) throw std::invalid_argument("needs at least one authn provider, e.g. file");
    auto* arr = apr_array_make(cmd->pool, argc, sizeof(const char*));
    for (int i = 0; i < argc; ++i) {
        if (!ap_lookup_provider(AUTHN_PROVIDER_GROUP, argv[i], AUTHN_PROVIDER_VERSION))
            throw std::invalid_argument(std::string("'") + argv[i] +
                                        "' is not a loaded authn provider; load its module first "
                                        "(e.g. LoadModule authn_file_module for 'file') or define it "
                                        "with <AuthnProviderAlias>");
        APR_ARRAY_PUSH(arr, const char*) = apr_pstrdup(cmd->pool, argv[i]);
    }
    c.providers = arr;
    return nullptr;
}

// Where MD5 was listed, for the start-up notice (post_config: the error log is open then).
void note_md5_section(cmd_parms* cmd) {
    ServerConfig& sc = server_config(cmd->server);
    if (!sc.md5_sections) sc.md5_sections = apr_array_make(cmd->pool, 2, sizeof(const char*));
    const char* where = cmd->path ? apr_psprintf(cmd->pool, "<%s %s>", cmd->directive->parent
                                                                          ? cmd->directive->parent->directive + 1
                                                                          : "section",
                                                 cmd->path)
                                  : "the server configuration";
    APR_ARRAY_PUSH(sc.md5_sections, const char*) =
        apr_psprintf(cmd->pool, "%s (%s:%d)", where, cmd->directive->filename, cmd->directive->line_num);
}

const char* set_digest_algorithms(cmd_parms* cmd, DirConfig& c, int argc, char* const argv[]) {
    if (argc < 1) throw std::invalid_argument("needs at least one of SHA-256 MD5");
    auto* arr = apr_array_make(cmd->pool, argc, sizeof(digest::Algorithm));
    for (int i = 0; i < argc; ++i) {
        auto a = digest::parse_algorithm(argv[i]);
        if (!a)
            throw std::invalid_argument(std::string("'") + argv[i] +
                                        "' is not supported; use SHA-256 and/or MD5");
        for (int j = 0; j < arr->nelts; ++j)
            if (APR_ARRAY_IDX(arr, j, digest::Algorithm) == *a)
                throw std::invalid_argument(std::string("'") + argv[i] + "' is listed twice");
        APR_ARRAY_PUSH(arr, digest::Algorithm) = *a;
        if (*a == digest::Algorithm::md5) note_md5_section(cmd);
    }
    c.digest_algorithms = arr;
    return nullptr;
}

constexpr char kNonceLifetimeHint[] = "a lifetime; use a number of seconds from 1 to 86400";
constexpr auto set_nonce_lifetime =
    httpd::set_arg<httpd::number_in<1, 86400>, kNonceLifetimeHint, &DirConfig::nonce_lifetime>;

const char* set_replay_quota(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    server_config(cmd->server).replay_quota = static_cast<unsigned>(
        httpd::number_arg(arg, 1, 100000000,
                          "a number of entries; use 1 to 100000000 (the default is 1/8 of a shmcb cache, "
                          "10000 per node for redis/memcache)"));
    return nullptr;
}

const char* set_nonce_secret(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    const char* path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    if (!path || apr_stat(&fi, path, APR_FINFO_SIZE | APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS ||
        fi.filetype != APR_REG)
        throw std::invalid_argument(std::string("'") + arg +
                                    "' is not a readable file; create one with e.g. "
                                    "`openssl rand -hex 32 > secret` and share it across the cluster");
    if (fi.size < 16)
        throw std::invalid_argument(std::string("'") + arg +
                                    "' is too short; use at least 16 random bytes (openssl rand -hex 32)");
    server_config(cmd->server).nonce_secret_file = path;
    return nullptr;
}

}  // namespace

const char* mech_name(Mech m) { return kMechNames[static_cast<int>(m)]; }

const command_rec directives[] = {
    AP_INIT_TAKE_ARGV("CMIAuthMechanisms", httpd::handler<set_mechanisms>(), nullptr, kDirContext,
                      "AuthType CMI mechanisms in the order they are tried: cert saml digest basic "
                      "(default: cert saml)"),
    AP_INIT_TAKE1("CMIAuthCertUser", httpd::handler<set_cert_user>(), nullptr, kDirContext,
                  "expression giving the user name of a verified client certificate "
                  "(default %{SSL_CLIENT_S_DN_CN})"),
    AP_INIT_TAKE_ARGV("CMIAuthProvider", httpd::handler<set_providers>(), nullptr, kDirContext,
                      "authn providers for digest and basic (default: file)"),
    AP_INIT_TAKE_ARGV("CMIAuthDigestAlgorithms", httpd::handler<set_digest_algorithms>(), nullptr, kDirContext,
                      "Digest algorithms offered, in order: SHA-256 and/or MD5 (default: SHA-256)"),
    AP_INIT_TAKE1("CMIAuthDigestNonceLifetime", httpd::handler<set_nonce_lifetime>(), nullptr, kDirContext,
                  "seconds a Digest nonce stays valid (default 300)"),
    AP_INIT_TAKE1("CMIAuthReplayCache", as_cmd(httpd::set_replay_cache<cmi_auth_module, &ServerConfig::replay_cache>), nullptr, RSRC_CONF,
                  "socache provider[:args] for replay detection (default shmcb)"),
    AP_INIT_TAKE1("CMIAuthReplayQuota", httpd::handler<set_replay_quota>(), nullptr, RSRC_CONF,
                  "entries of the replay cache one user may hold at once (default: 1/8 of a shmcb cache; "
                  "10000 per node for redis/memcache)"),
    AP_INIT_TAKE1("CMIAuthDigestNonceSecret", httpd::handler<set_nonce_secret>(), nullptr, RSRC_CONF,
                  "file with the secret Digest nonces are keyed with; the same file on every node "
                  "of a cluster (default: random per start)"),
    AP_INIT_TAKE12("CMISAMLIdPMetadata", httpd::handler<add_saml_idp_metadata>(), nullptr, kDirContext,
                   "SAML 2.0 metadata file of a trusted IdP (repeatable), and an alias: its users become "
                   "name@alias"),
    AP_INIT_TAKE1("CMISAMLSPEntityID", httpd::handler<set_saml_sp_entity_id>(), nullptr, kDirContext,
                  "this service's SAML entity id: the Audience assertions must name"),
    AP_INIT_TAKE_ARGV("CMISAMLRecipient", httpd::handler<set_saml_recipients>(), nullptr, kDirContext,
                      "https URLs a SAML Recipient/Destination may name here; then a bearer assertion must name "
                      "one (default: this request's URL from ServerName, never the Host header)"),
    AP_INIT_TAKE1("CMISAMLClockSkew", httpd::handler<set_saml_clock_skew>(), nullptr, kDirContext,
                  "seconds of clock difference tolerated in SAML validity times (default 60)"),
    AP_INIT_TAKE1("CMISAMLUserAttribute", httpd::handler<set_saml_user_attribute>(), nullptr, kDirContext,
                  "NameID (default) or the SAML attribute (Name or FriendlyName) that names the user"),
    AP_INIT_FLAG("CMISAMLOneTimeUse", as_cmd(httpd::set_flag<&DirConfig::saml_one_time_use>), nullptr, kDirContext,
                 "On: an assertion is accepted once; replays are refused (default Off)"),
    AP_INIT_FLAG("CMISAMLHolderOfKey", as_cmd(httpd::set_flag<&DirConfig::saml_holder_of_key>), nullptr, kDirContext,
                 "On: assertions must be holder-of-key, bound to the TLS client certificate (default Off)"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void merge_into(DirConfig& c, const DirConfig& base, const DirConfig& add, apr_pool_t*) {
    using D = DirConfig;
    httpd::inherit_fields(c, base, add, &D::mechanisms, &D::cert_user, &D::providers, &D::digest_algorithms,
                          &D::nonce_lifetime, &D::saml_idps, &D::saml_sp_entity_id, &D::saml_recipients,
                          &D::saml_user_attribute, &D::saml_one_time_use, &D::saml_holder_of_key);
    c.saml_skew = add.saml_skew >= 0 ? add.saml_skew : base.saml_skew;  // 0 is a skew
}

void merge_into(ServerConfig& c, const ServerConfig& base, const ServerConfig& add, apr_pool_t*) {
    httpd::inherit_fields(c, base, add, &ServerConfig::replay_cache, &ServerConfig::nonce_secret_file,
                          &ServerConfig::replay_quota);
    c.md5_sections = add.md5_sections;  // each server reports its own sections
}

apr_array_header_t* mechanisms(const DirConfig& c, apr_pool_t* p) {
    if (c.mechanisms) return c.mechanisms;
    auto* arr = apr_array_make(p, 2, sizeof(Mech));
    APR_ARRAY_PUSH(arr, Mech) = Mech::cert;
    APR_ARRAY_PUSH(arr, Mech) = Mech::saml;
    return arr;
}

apr_array_header_t* digest_algorithms(const DirConfig& c, apr_pool_t* p) {
    if (c.digest_algorithms) return c.digest_algorithms;
    // MD5 only where an administrator lists it (a start-up notice says it is weaker).
    auto* arr = apr_array_make(p, 1, sizeof(digest::Algorithm));
    APR_ARRAY_PUSH(arr, digest::Algorithm) = digest::Algorithm::sha256;
    return arr;
}

apr_array_header_t* providers(const DirConfig& c, apr_pool_t* p) {
    if (c.providers) return c.providers;
    auto* arr = apr_array_make(p, 1, sizeof(const char*));
    APR_ARRAY_PUSH(arr, const char*) = AUTHN_DEFAULT_PROVIDER;
    return arr;
}

}  // namespace cmi::auth
