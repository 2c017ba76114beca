// Reading a request body bucket by bucket, for the places that need its bytes:
// the stream-mode filter (body_filter), spool mode (spool) and Decoupled
// Upload manifests (manifest_filter). Each data bucket is handed on as it is
// read: the body is never copied whole here.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::content {

// Calls `each(data, len)` for every data bucket of bb before EOS; `eos` says
// whether bb held EOS. APR_SUCCESS, or the status of a bucket that could not be read.
template <class F>
apr_status_t for_each_data(apr_bucket_brigade* bb, bool& eos, F&& each) {
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) {
            eos = true;
            break;
        }
        if (APR_BUCKET_IS_METADATA(b)) continue;
        const char* data = nullptr;
        apr_size_t len = 0;
        const apr_status_t rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) return rv;
        each(data, len);
    }
    return APR_SUCCESS;
}

// Reads r's body to its end through r's input filters, 64 KiB at a time,
// calling `each(data, len)` for every piece. OK, or the status to answer:
// AP_FILTER_ERROR when HTTP_IN has answered already (e.g. 413), else 400 (the
// client went away, or sent a body that does not parse).
template <class F>
int read_body(request_rec* r, F&& each) {
    constexpr apr_off_t kReadBlock = 64 * 1024;
    apr_bucket_brigade* bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    for (bool eos = false; !eos;) {
        const apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, kReadBlock);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        const apr_status_t read = for_each_data(bb, eos, each);
        apr_brigade_cleanup(bb);
        if (read != APR_SUCCESS) return HTTP_BAD_REQUEST;
    }
    return OK;
}

}  // namespace cmi::content
