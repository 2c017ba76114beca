#include "mod_cmi_content/body_replay.hpp"

#include "httpd/barrier.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/content_config.hpp"

namespace cmi::content {
namespace {

extern "C" apr_status_t read_ahead_filter(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                          apr_read_type_e, apr_off_t readbytes) {
    return httpd::filter_barrier(f, cmi_content_module, "read-ahead body filter", [&]() -> apr_status_t {
        if (mode == AP_MODE_INIT) return APR_SUCCESS;
        if (mode == AP_MODE_SPECULATIVE) return APR_ENOTIMPL;
        return hand_out(static_cast<apr_bucket_brigade*>(f->ctx), bb, mode, readbytes);
    });
}

}  // namespace

void register_read_ahead_filter(const char* name) {
    ap_register_input_filter(name, read_ahead_filter, nullptr, AP_FTYPE_CONTENT_SET);
}

void replay_to_handler(request_rec* r, const char* name, apr_bucket_brigade* body, apr_off_t length) {
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    apr_table_setn(r->headers_in, "Content-Length", apr_off_t_toa(r->pool, length));
    guard_body(r, ap_add_input_filter(name, body, r, r->connection));
}

apr_status_t hand_out(apr_bucket_brigade* pending, apr_bucket_brigade* bb, ap_input_mode_t mode,
                      apr_off_t readbytes) {
    if (APR_BRIGADE_EMPTY(pending)) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
        return APR_SUCCESS;
    }
    apr_bucket* stop = APR_BRIGADE_SENTINEL(pending);
    if (mode != AP_MODE_EXHAUSTIVE) {
        const apr_status_t rv = apr_brigade_partition(pending, readbytes, &stop);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) return rv;
        // A read that ends exactly before EOS takes EOS along, as HTTP_IN does.
        if (stop != APR_BRIGADE_SENTINEL(pending) && APR_BUCKET_IS_EOS(stop)) stop = APR_BUCKET_NEXT(stop);
    }
    while (APR_BRIGADE_FIRST(pending) != stop) {
        apr_bucket* b = APR_BRIGADE_FIRST(pending);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    return APR_SUCCESS;
}

}  // namespace cmi::content
