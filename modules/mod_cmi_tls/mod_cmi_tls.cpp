// mod_cmi_tls — CMI connection security (OMA CMI §6.2): refuse non-TLS and
// weak-TLS access per location, before any authentication.
#include "httpd/barrier.hpp"
#include "httpd/common_hooks.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/status_counters.hpp"
#include "httpd/transaction.hpp"
#include "mod_cmi_tls/tls_config.hpp"
#include "mod_cmi_tls/tls_policy.hpp"

#include <string>

namespace cmi::tls {
namespace {

// server-status: refusals per problem code (counted by httpd::refuse).
constexpr const char* kCounters[] = {"refused.tls-required", "refused.tls-too-weak", "other"};
constexpr httpd::StatusTable kStatus{&cmi_tls_module, "cmi_tls", "mod_cmi_tls (CMI connection security)", kCounters,
                                     std::size(kCounters)};

const DirConfig& dir_config(request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_tls_module));
}

const ServerConfig& server_config(request_rec* r) {
    return *static_cast<const ServerConfig*>(ap_get_module_config(r->server->module_config, &cmi_tls_module));
}

const char* min_protocol_name(int rank) { return rank >= 13 ? "TLSv1.3" : "TLSv1.2"; }

// The https URL for the same path and query.
const char* https_url(request_rec* r, const DirConfig& dc) {
    const char* base = dc.redirect_base
                           ? dc.redirect_base
                           : apr_pstrcat(r->pool, "https://", ap_get_server_name_for_url(r), nullptr);
    const char* target = r->unparsed_uri;
    if (!target || target[0] != '/') {  // absolute-form request target
        target = r->parsed_uri.path ? r->parsed_uri.path : "/";
        if (r->parsed_uri.query) target = apr_pstrcat(r->pool, target, "?", r->parsed_uri.query, nullptr);
    }
    return apr_pstrcat(r->pool, base, target, nullptr);
}

int enforce(request_rec* r, bool first_pass) {
    const DirConfig& dc = dir_config(r);
    if (!requires_tls(dc) && !(dc.hsts && *dc.hsts)) return DECLINED;

    const Transport t = classify(r, server_config(r));
    if (first_pass && t.tls && dc.hsts && *dc.hsts && !r->main)
        apr_table_setn(r->err_headers_out, "Strict-Transport-Security", dc.hsts);
    if (!requires_tls(dc)) return DECLINED;

    if (!t.tls) {
        // A GET or HEAD carries no body, so nothing crossed in clear but the
        // request line: sending the client to https is safe. Anything else is not.
        if (redirects(dc) && r->method_number == M_GET) {
            apr_table_setn(r->headers_out, "Location", https_url(r, dc));
            apr_table_setn(r->err_headers_out, httpd::kTransactionIdHeader, httpd::transaction_id(r));
            return HTTP_PERMANENT_REDIRECT;
        }
        return httpd::refuse(r, cmi_tls_module, "tls-required",
                             std::string("This CMI interface is only available over ") +
                                 min_protocol_name(min_rank(dc)) + " or later.");
    }
    if (!t.offloaded && t.rank < min_rank(dc)) {
        return httpd::refuse(r, cmi_tls_module, "tls-too-weak",
                             std::string("This CMI interface requires ") + min_protocol_name(min_rank(dc)) +
                                 " or later; this connection uses " + (t.protocol ? t.protocol : "an unknown protocol") +
                                 ".");
    }
    return DECLINED;
}

extern "C" int access_checker(request_rec* r) {
    return httpd::hook_barrier(r, cmi_tls_module, "access_checker", [r] { return enforce(r, true); });
}

// A second look just before the handler: with mod_access_compat's
// "Satisfy Any" a failed access checker can be overridden by authentication,
// and TLS enforcement must not be.
extern "C" int fixups(request_rec* r) {
    return httpd::hook_barrier(r, cmi_tls_module, "fixups", [r] { return enforce(r, false); });
}

// Error responses httpd makes before the access phase (400 malformed request, 417,
// TRACE refused, a %2F 404, ...) never reached access_checker: add HSTS here, from the
// configuration in effect — the virtual host's when no <Location> was read yet.
extern "C" void insert_error_filter(request_rec* r) {
    httpd::hook_barrier(r, cmi_tls_module, "insert_error_filter", [r] {
        const auto* dc = r->per_dir_config ? static_cast<const DirConfig*>(
                                                  ap_get_module_config(r->per_dir_config, &cmi_tls_module))
                                            : nullptr;
        if (r->main || !dc || !dc->hsts || !*dc->hsts ||
            apr_table_get(r->err_headers_out, "Strict-Transport-Security"))
            return DECLINED;
        if (classify(r, server_config(r)).tls) apr_table_setn(r->err_headers_out, "Strict-Transport-Security", dc->hsts);
        return DECLINED;
    });
}

void register_hooks(apr_pool_t*) {
    httpd::register_common_hooks();
    httpd::register_status_table<kStatus>();
    ap_hook_access_checker(access_checker, nullptr, nullptr, APR_HOOK_FIRST);
    ap_hook_fixups(fixups, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace
}  // namespace cmi::tls

CMI_MODULE(cmi_tls, cmi::tls)
