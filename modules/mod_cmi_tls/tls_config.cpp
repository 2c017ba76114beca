#include "mod_cmi_tls/tls_config.hpp"

#include "httpd/barrier.hpp"

#include "httpd/pool_object.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::tls {
namespace {

using httpd::as_cmd;

ServerConfig* server_config(server_rec* s) {
    return static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &cmi_tls_module));
}

const char* set_insecure_action(cmd_parms* cmd, DirConfig& c, const char* action, const char* base) {
    if (!strcasecmp(action, "deny")) {
        if (base) throw std::invalid_argument("'deny' takes no URL");
        c.action = InsecureAction::deny;
        return nullptr;
    }
    if (strcasecmp(action, "redirect"))
        throw std::invalid_argument(std::string("'") + action +
                                    "' is not an action; use deny or redirect [https://host[:port]]");
    c.action = InsecureAction::redirect;
    if (base) {
        std::string b(base);
        while (!b.empty() && b.back() == '/') b.pop_back();
        apr_uri_t uri;
        if (apr_uri_parse(cmd->pool, b.c_str(), &uri) != APR_SUCCESS || !uri.scheme ||
            strcasecmp(uri.scheme, "https") || !uri.hostname || !*uri.hostname ||
            (uri.path && *uri.path) || uri.query || uri.fragment)
            throw std::invalid_argument(std::string("'") + base +
                                        "' is not an https base URL like https://cmi.example.com:8443");
        c.redirect_base = apr_pstrdup(cmd->pool, b.c_str());
    }
    return nullptr;
}

const char* set_min_protocol(cmd_parms*, DirConfig& c, const char* proto) {
    if (!strcasecmp(proto, "TLSv1.2")) c.min_rank = 12;
    else if (!strcasecmp(proto, "TLSv1.3")) c.min_rank = 13;
    else
        throw std::invalid_argument(std::string("'") + proto +
                                    "' is not supported; use TLSv1.2 or TLSv1.3");
    return nullptr;
}

bool valid_hsts(const char* v) {
    if (strncasecmp(v, "max-age=", 8)) return false;
    const char* p = v + 8;
    if (*p == '"') ++p;
    if (!apr_isdigit(*p)) return false;
    for (; *p; ++p)
        if (*p == '\r' || *p == '\n' || !apr_isprint(*p)) return false;
    return true;
}

const char* set_hsts(cmd_parms* cmd, DirConfig& c, const char* value) {
    if (!strcasecmp(value, "Off")) {
        c.hsts = "";
        return nullptr;
    }
    if (!valid_hsts(value))
        throw std::invalid_argument(std::string("'") + value +
                                    "' is not a Strict-Transport-Security value; use e.g. "
                                    "\"max-age=31536000; includeSubDomains\" or Off");
    c.hsts = apr_pstrdup(cmd->pool, value);
    return nullptr;
}

const char* add_trusted_proxy(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    auto* sc = server_config(cmd->server);
    if (!sc->trusted_proxies)
        sc->trusted_proxies = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t*));
    char* ip = apr_pstrdup(cmd->pool, arg);
    char* mask = std::strchr(ip, '/');
    if (mask) *mask++ = '\0';
    apr_ipsubnet_t* subnet = nullptr;
    // apr accepts abbreviations like "10.1" and host names; require a literal address.
    unsigned char buf[sizeof(struct in6_addr)];
    const bool literal = inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
    if (!literal || apr_ipsubnet_create(&subnet, ip, mask, cmd->pool) != APR_SUCCESS)
        throw std::invalid_argument(std::string("'") + arg +
                                    "' is not an IP address or CIDR block (e.g. 10.0.0.0/8, "
                                    "192.0.2.7, 2001:db8::/32)");
    APR_ARRAY_PUSH(sc->trusted_proxies, apr_ipsubnet_t*) = subnet;
    return nullptr;
}

const char* set_forwarded_proto(cmd_parms* cmd, void*, const char* arg) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    auto* sc = server_config(cmd->server);
    if (!strcasecmp(arg, "X-Forwarded-Proto")) sc->forwarded_header = ForwardedHeader::x_forwarded_proto;
    else if (!strcasecmp(arg, "Forwarded")) sc->forwarded_header = ForwardedHeader::forwarded;
    else
        throw std::invalid_argument(std::string("'") + arg +
                                    "' is not supported; use X-Forwarded-Proto or Forwarded");
    return nullptr;
}

}  // namespace

const command_rec directives[] = {
    AP_INIT_FLAG("CMIRequireTLS", as_cmd(httpd::set_flag<&DirConfig::require_tls>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: refuse requests that did not arrive over TLS (default Off)"),
    AP_INIT_TAKE12("CMIInsecureAction", httpd::handler<set_insecure_action>(), nullptr, RSRC_CONF | ACCESS_CONF,
                   "deny (default) or redirect [https://host[:port]]: what a non-TLS request gets"),
    AP_INIT_TAKE1("CMITLSMinProtocol", httpd::handler<set_min_protocol>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "TLSv1.2 (default) or TLSv1.3: the oldest TLS version accepted"),
    AP_INIT_TAKE1("CMIStrictTransportSecurity", httpd::handler<set_hsts>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "Strict-Transport-Security value sent on TLS responses, e.g. \"max-age=31536000\", or Off"),
    AP_INIT_ITERATE("CMITrustedProxy", httpd::handler<add_trusted_proxy>(), nullptr, RSRC_CONF,
                    "IP addresses or CIDR blocks of TLS-offloading proxies whose forwarded protocol is trusted"),
    AP_INIT_TAKE1("CMIForwardedProto", httpd::handler<set_forwarded_proto>(), nullptr, RSRC_CONF,
                  "X-Forwarded-Proto (default) or Forwarded: the header a trusted proxy reports TLS in"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void merge_into(DirConfig& c, const DirConfig& base, const DirConfig& add, apr_pool_t*) {
    httpd::inherit_fields(c, base, add, &DirConfig::require_tls, &DirConfig::hsts);
    // The redirect's base URL goes with the action that named it.
    const DirConfig& action = add.action != InsecureAction::unset ? add : base;
    c.action = action.action;
    c.redirect_base = action.redirect_base;
    c.min_rank = add.min_rank ? add.min_rank : base.min_rank;
}

void merge_into(ServerConfig& c, const ServerConfig& base, const ServerConfig& add, apr_pool_t*) {
    httpd::inherit_fields(c, base, add, &ServerConfig::trusted_proxies, &ServerConfig::forwarded_header);
}

}  // namespace cmi::tls
