// mod_cmi_tls configuration: per-directory policy and per-server proxy trust.
#pragma once
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"

// Every file of the module logs under its name (per-module LogLevel).
extern "C" {
APLOG_USE_MODULE(cmi_tls);
}

namespace cmi::tls {

enum class InsecureAction : signed char { unset = -1, deny = 0, redirect = 1 };
enum class ForwardedHeader : signed char { unset = -1, x_forwarded_proto = 0, forwarded = 1 };

struct DirConfig {
    httpd::Tri require_tls = httpd::Tri::unset;
    InsecureAction action = InsecureAction::unset;
    const char* redirect_base = nullptr;  // "https://host[:port]" or nullptr: this server
    int min_rank = 0;                     // 0: unset (TLS 1.2); 12 or 13
    const char* hsts = nullptr;           // nullptr: unset; "": Off
};

struct ServerConfig {
    apr_array_header_t* trusted_proxies = nullptr;  // of apr_ipsubnet_t*; nullptr: unset
    ForwardedHeader forwarded_header = ForwardedHeader::unset;
};

// Section merges (httpd::merge_config).
void merge_into(DirConfig& out, const DirConfig& base, const DirConfig& add, apr_pool_t* p);
void merge_into(ServerConfig& out, const ServerConfig& base, const ServerConfig& add, apr_pool_t* p);

extern const command_rec directives[];

// Effective values after defaults.
inline bool requires_tls(const DirConfig& c) { return c.require_tls == httpd::Tri::on; }
inline int min_rank(const DirConfig& c) { return c.min_rank ? c.min_rank : 12; }
inline bool redirects(const DirConfig& c) { return c.action == InsecureAction::redirect; }
inline ForwardedHeader forwarded_header(const ServerConfig& c) {
    return c.forwarded_header == ForwardedHeader::unset ? ForwardedHeader::x_forwarded_proto
                                                        : c.forwarded_header;
}

}  // namespace cmi::tls
