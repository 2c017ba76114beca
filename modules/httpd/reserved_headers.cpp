#include "httpd/reserved_headers.hpp"

#include "httpd/httpd_includes.hpp"
#include "libcmi/reserved_names.hpp"

namespace cmi::httpd {
namespace {

// Index of the first reserved name in headers_in at or after `from`, or -1.
int next_reserved(const apr_table_t* headers, int from) noexcept {
    const apr_array_header_t* arr = apr_table_elts(headers);
    const auto* e = reinterpret_cast<const apr_table_entry_t*>(arr->elts);
    for (int i = from; i < arr->nelts; ++i)
        if (e[i].key && is_reserved_header_name(e[i].key)) return i;
    return -1;
}

// No C++ here can throw (no allocation; the matcher is noexcept): no barrier needed.
extern "C" int strip_reserved_headers(request_rec* r) noexcept {
    for (int i = next_reserved(r->headers_in, 0); i >= 0; i = next_reserved(r->headers_in, i)) {
        const char* name = reinterpret_cast<const apr_table_entry_t*>(apr_table_elts(r->headers_in)->elts)[i].key;
        // The name is the client's (bounded by LimitRequestFieldSize, escaped by the logger); never the value.
        ap_log_rerror(__FILE__, __LINE__, APLOG_NO_MODULE, APLOG_INFO, 0, r,
                      "removed the client's request header '%s': its name poses as one of mod_cmi's "
                      "variables, which backends must be able to trust",
                      name);
        apr_table_unset(r->headers_in, name);  // every header of that name (pool memory: name stays valid)
    }
    return DECLINED;
}

}  // namespace

void register_reserved_header_guard() {
    ap_hook_post_read_request(strip_reserved_headers, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
}

}  // namespace cmi::httpd
