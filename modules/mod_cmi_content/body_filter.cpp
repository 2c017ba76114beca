#include "mod_cmi_content/body_filter.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/body_read.hpp"
#include "mod_cmi_content/content_config.hpp"

namespace cmi::content {
namespace {

constexpr const char* kFilterName = "CMI_CONTENT_VERIFY";

struct FilterCtx {
    RequestState* st;
    apr_bucket_brigade* held;  // the last byte seen so far, not yet released
    apr_off_t expected = -1;   // Content-Length, or -1 when the framing does not say
    apr_off_t seen = 0;
    bool concluded = false;
    bool failed = false;
};

// Moves the final data byte of bb into held (a split, never a copy of the rest).
apr_status_t hold_back_last_byte(request_rec* r, apr_bucket_brigade* bb, apr_bucket_brigade* held) {
    for (apr_bucket* b = APR_BRIGADE_LAST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_PREV(b)) {
        if (APR_BUCKET_IS_METADATA(b) || b->length == 0) continue;
        if (b->length > 1) {
            const apr_status_t rv = apr_bucket_split(b, b->length - 1);
            if (rv != APR_SUCCESS) return rv;
            b = APR_BUCKET_NEXT(b);
        }
        // Everything after it is metadata; keep the order by moving it all.
        while (b != APR_BRIGADE_SENTINEL(bb)) {
            apr_bucket* next = APR_BUCKET_NEXT(b);
            APR_BUCKET_REMOVE(b);
            const apr_status_t rv = apr_bucket_setaside(b, r->pool);
            if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) return rv;
            APR_BRIGADE_INSERT_TAIL(held, b);
            b = next;
        }
        return APR_SUCCESS;
    }
    return APR_SUCCESS;
}

// Ends a response already under way as broken, the way mod_proxy does when a
// backend fails mid-body (an error bucket of 502, then EOS): the connection is
// not kept alive, so the client sees the response cut short.
void abort_response(request_rec* r) {
    conn_rec* c = r->connection;
    c->keepalive = AP_CONN_CLOSE;
    apr_bucket_brigade* out = apr_brigade_create(r->pool, c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(out, ap_bucket_error_create(HTTP_BAD_GATEWAY, nullptr, r->pool, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(c->bucket_alloc));
    ap_pass_brigade(r->output_filters, out);
}

apr_status_t verify_filter_body(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                apr_read_type_e block, apr_off_t readbytes) {
    auto* ctx = static_cast<FilterCtx*>(f->ctx);
    request_rec* r = f->r;
    if (ctx->failed) {
        // The handler has had its error; httpd's own discard of the rest of
        // the body (ap_finalize_request_protocol) must see a clean end, or it
        // would turn our response into a 500.
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    // Speculative reads consume nothing; after the verdict, nothing is held.
    if (mode == AP_MODE_SPECULATIVE || mode == AP_MODE_INIT || ctx->concluded)
        return ap_get_brigade(f->next, bb, mode, block, readbytes);

    // Ask for fewer bytes by what is held, so the held byte plus the new data
    // never exceed readbytes (ap_get_client_block flattens into a buffer that size).
    apr_off_t held = 0;
    apr_brigade_length(ctx->held, 0, &held);
    const apr_off_t ask = mode == AP_MODE_READBYTES && readbytes > held ? readbytes - held : readbytes;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, ask > 0 ? ask : 1);
    if (rv != APR_SUCCESS) return rv;  // client abort, LimitRequestBody (413 already sent), ...
    bool eos = false;
    rv = for_each_data(bb, eos, [ctx](const char* data, apr_size_t len) {
        ctx->st->digest.update(data, len);
        ctx->seen += static_cast<apr_off_t>(len);
    });
    if (rv != APR_SUCCESS) return rv;
    APR_BRIGADE_PREPEND(bb, ctx->held);
    // With a Content-Length, data before the last byte cannot complete the
    // body, so only the final bytes need holding back; without one (chunked,
    // HTTP/2 without length) any read may be the last.
    if (!eos) {
        if (ctx->expected >= 0 && ctx->seen < ctx->expected) return APR_SUCCESS;
        return hold_back_last_byte(r, bb, ctx->held);
    }

    ctx->concluded = true;
    std::string detail;
    if (const char* code = conclude(r, *ctx->st, detail)) {
        ctx->failed = true;
        apr_brigade_cleanup(bb);
        if (r->status != HTTP_OK || r->eos_sent) {
            // The handler has already answered in full (e.g. mod_dav's 409) and
            // httpd is only discarding the rest of the body: nothing used it,
            // and a second response cannot be sent. Record the verdict and end
            // cleanly.
            httpd::refuse(r, cmi_content_module, code, detail + " (after the handler had answered)");
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
            return APR_SUCCESS;
        }
        if (r->sent_bodyct) {
            // A handler that answers while it reads (mod_reflector, a streaming
            // proxy): a clean end would tell it the body was whole. Fail its
            // read and cut the response; the connection cannot be reused.
            httpd::refuse(r, cmi_content_module, code, detail + " (the response was cut short)");
            abort_response(r);
            return AP_FILTER_ERROR;
        }
        send_refusal_from_filter(r, httpd::refuse(r, cmi_content_module, code, detail));
        return AP_FILTER_ERROR;
    }
    return APR_SUCCESS;
}

extern "C" apr_status_t verify_filter(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                      apr_read_type_e block, apr_off_t readbytes) {
    return httpd::filter_barrier(f, cmi_content_module, "input filter",
                                 [&] { return verify_filter_body(f, bb, mode, block, readbytes); });
}

}  // namespace

void register_body_filter() {
    ap_register_input_filter(kFilterName, verify_filter, nullptr, AP_FTYPE_CONTENT_SET);
}

void add_body_filter(request_rec* r, RequestState* st) {
    auto* ctx = httpd::pool_new<FilterCtx>(r->pool);
    ctx->st = st;
    ctx->held = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    if (length && !apr_table_get(r->headers_in, "Transfer-Encoding") &&
        !ap_parse_strict_length(&ctx->expected, length))
        ctx->expected = -1;
    guard_body(r, ap_add_input_filter(kFilterName, ctx, r, r->connection));
}

void send_refusal_from_filter(request_rec* r, int status) {
    // As httpd's own HTTP_IN does for 413: an error bucket makes the header
    // filter run ap_die(status), which sends our custom problem document; the
    // handler then sees AP_FILTER_ERROR and httpd sends nothing more.
    apr_bucket_brigade* eb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(eb, ap_bucket_error_create(status, nullptr, r->pool, r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(eb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, eb);
}

}  // namespace cmi::content
