#include "httpd/reserved_headers.hpp"

#include "httpd/httpd_includes.hpp"
#include "libcmi/reserved_names.hpp"

#include <util_filter.h>

namespace cmi::httpd {
namespace {

constexpr const char* kTrailerFilter = "CMI_RESERVED_TRAILERS";
// Its handle, set by register_hooks at each load. Every CMI module registers
// the filter under this name and httpd's registry keeps one record per name
// (the last registration's function): all of them get the same handle.
ap_filter_rec_t* g_trailer_filter = nullptr;

// Index of the first reserved name in `headers` at or after `from`, or -1.
int next_reserved(const apr_table_t* headers, int from) noexcept {
    const apr_array_header_t* arr = apr_table_elts(headers);
    const auto* e = reinterpret_cast<const apr_table_entry_t*>(arr->elts);
    for (int i = from; i < arr->nelts; ++i)
        if (e[i].key && is_reserved_header_name(e[i].key)) return i;
    return -1;
}

// No C++ here can throw (no allocation; the matcher is noexcept): no barrier needed.
void strip(request_rec* r, apr_table_t* headers, const char* what) noexcept {
    if (!headers) return;
    for (int i = next_reserved(headers, 0); i >= 0; i = next_reserved(headers, i)) {
        const char* name = reinterpret_cast<const apr_table_entry_t*>(apr_table_elts(headers)->elts)[i].key;
        // The name is the client's (bounded by LimitRequestFieldSize, escaped by the logger); never the value.
        ap_log_rerror(__FILE__, __LINE__, APLOG_NO_MODULE, APLOG_INFO, 0, r,
                      "removed the client's request %s '%s': its name poses as one of mod_cmi's "
                      "variables, which backends must be able to trust",
                      what, name);
        apr_table_unset(headers, name);  // every header of that name (pool memory: name stays valid)
    }
}

// Whether `e` is one of the reserved entries of `trailers` (the same name
// string: what apr_table_overlay copied).
bool is_reserved_trailer(const apr_table_entry_t& e, const apr_table_t* trailers) noexcept {
    const apr_array_header_t* arr = apr_table_elts(trailers);
    const auto* t = reinterpret_cast<const apr_table_entry_t*>(arr->elts);
    for (int i = 0; i < arr->nelts; ++i)
        if (t[i].key == e.key) return is_reserved_header_name(e.key);
    return false;
}

// `MergeTrailers On`: httpd and mod_http2 add the trailers to r->headers_in with
// apr_table_overlay, entries whose name is the trailer's own string. Those of
// reserved names go; the request's headers keep what modules set since
// post_read_request (mod_cmi_audit's CMI-Transaction-ID, an administrator's
// RequestHeader), which a strip by name would take too. The table is replaced
// (as httpd's merge itself replaced it) only when there is something to remove.
void strip_merged_trailers(request_rec* r) noexcept {
    const apr_array_header_t* arr = apr_table_elts(r->headers_in);
    const auto* e = reinterpret_cast<const apr_table_entry_t*>(arr->elts);
    apr_table_t* kept = apr_table_make(r->pool, arr->nelts);
    bool removed = false;
    for (int i = 0; i < arr->nelts; ++i) {
        if (!e[i].key) continue;
        if (is_reserved_trailer(e[i], r->trailers_in)) {
            ap_log_rerror(__FILE__, __LINE__, APLOG_NO_MODULE, APLOG_INFO, 0, r,
                          "removed the client's request trailer (merged into its headers) '%s': its name poses as "
                          "one of mod_cmi's variables, which backends must be able to trust",
                          e[i].key);
            removed = true;
            continue;
        }
        apr_table_addn(kept, e[i].key, e[i].val);
    }
    if (removed) r->headers_in = kept;  // MergeTrailers Off: nothing merged, the table stays
}

// Trailers of a chunked (or HTTP/2) body arrive after post_read_request, when
// the body's end is read: into r->trailers_in, and with `MergeTrailers On` into
// r->headers_in too — before a module that read the whole body first (spool
// mode, a manifest, mod_proxy's prefetch) hands the headers on. This filter sits
// above the protocol's body filter and strips both once the end has passed.
// Without a reserved trailer there is nothing to do (most bodies have no trailer).
extern "C" apr_status_t strip_reserved_trailers(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                                apr_read_type_e block, apr_off_t readbytes) noexcept {
    const apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS || mode == AP_MODE_SPECULATIVE) return rv;
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b))
        if (APR_BUCKET_IS_EOS(b)) {
            request_rec* r = f->r;
            if (r->trailers_in && next_reserved(r->trailers_in, 0) >= 0) {
                strip_merged_trailers(r);  // before the trailers' own entries go
                strip(r, r->trailers_in, "trailer");
            }
            ap_remove_input_filter(f);
            break;
        }
    return rv;
}

bool has_trailer_filter(request_rec* r) noexcept {
    for (ap_filter_t* f = r->input_filters; f; f = f->next)
        if (f->frec == g_trailer_filter) return true;
    return false;
}

// Also for each internal redirect (its post_read_request): resource filters are not carried over.
extern "C" int strip_reserved_headers(request_rec* r) noexcept {
    strip(r, r->headers_in, "header");
    if (!has_trailer_filter(r)) ap_add_input_filter_handle(g_trailer_filter, nullptr, r, r->connection);
    return DECLINED;
}

}  // namespace

void register_reserved_header_guard() {
    ap_hook_post_read_request(strip_reserved_headers, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
    // Above HTTP_IN (AP_FTYPE_PROTOCOL), so the trailers are in place when it sees the end.
    g_trailer_filter = ap_register_input_filter(kTrailerFilter, strip_reserved_trailers, nullptr, AP_FTYPE_CONTENT_SET);
}

}  // namespace cmi::httpd
