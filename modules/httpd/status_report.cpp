// The server-status section of one module: its counters as an HTML table, or
// as `?auto` lines (`cmi_tls.refused.tls-required: 3`).
#include "httpd/status_counters.hpp"

#include <mod_status.h>

namespace cmi::httpd {

void report_status(request_rec* r, int flags, const module& m, const char* prefix, const char* title) {
    const StatusCounters* c = StatusCounters::find(r->server, m);
    if (!c) return;
    if (flags & AP_STATUS_SHORT) {
        for (std::size_t i = 0; i < c->size(); ++i)
            ap_rprintf(r, "%s.%s: %" APR_UINT64_T_FMT "\n", prefix, c->name(i),
                       static_cast<apr_uint64_t>(c->value(i)));
        return;
    }
    ap_rprintf(r, "<hr />\n<h2>%s</h2>\n", ap_escape_html(r->pool, title));
    if (flags & AP_STATUS_NOTABLE) {
        for (std::size_t i = 0; i < c->size(); ++i)
            ap_rprintf(r, "<dt>%s.%s: %" APR_UINT64_T_FMT "</dt>\n", prefix, ap_escape_html(r->pool, c->name(i)),
                       static_cast<apr_uint64_t>(c->value(i)));
        return;
    }
    ap_rputs("<table border=\"0\"><tr><th>counter</th><th>value</th></tr>\n", r);
    for (std::size_t i = 0; i < c->size(); ++i)
        ap_rprintf(r, "<tr><td>%s.%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n", prefix,
                   ap_escape_html(r->pool, c->name(i)), static_cast<apr_uint64_t>(c->value(i)));
    ap_rputs("</table>\n", r);
}

}  // namespace cmi::httpd
