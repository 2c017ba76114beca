#include "mod_cmi_content/snapshot_release.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "libcmi/staged_snapshot.hpp"
#include "mod_cmi_content/content_config.hpp"

namespace cmi::content {
namespace {

constexpr const char* kFilterName = "CMI_CONTENT_SNAPSHOT_RELEASE";
// After CONTENT_LENGTH and HTTP_HEADER (AP_FTYPE_PROTOCOL), before CHUNK
// (AP_FTYPE_TRANSCODE), which writes the last chunk when EOS passes it. A
// protocol filter: ap_internal_redirect keeps it, with f->r the new request.
constexpr auto kFilterType = static_cast<ap_filter_type>(AP_FTYPE_PROTOCOL + 1);
// A handler's output read here is passed on at least this often.
constexpr apr_size_t kPassEvery = 64 * 1024;

struct Release {
    TransactionDir* tx = nullptr;
    apr_bucket_brigade* rest = nullptr;  // what follows a split of the brigade
    bool holding = false;                // `held` is the last byte seen, not yet passed on
    char held = 0;
    bool done = false;
};

// Moves the last byte of `bb` into ctx.held. Every bucket before it has a known
// length once the filter has read them; others are read here. Only body bytes:
// the response head (HTTP_HEADER passes it alone, before r->sent_bodyct is
// set) goes on whole — CHUNK is added after it, and must not see any of it.
apr_status_t hold_last_byte(Release& ctx, apr_bucket_brigade* bb, const request_rec* r) {
    if (!r->sent_bodyct) return APR_SUCCESS;
    for (;;) {
        apr_bucket* b = APR_BRIGADE_LAST(bb);
        while (b != APR_BRIGADE_SENTINEL(bb) && (APR_BUCKET_IS_METADATA(b) || b->length == 0)) b = APR_BUCKET_PREV(b);
        if (b == APR_BRIGADE_SENTINEL(bb)) return APR_SUCCESS;
        const char* data = nullptr;
        apr_size_t len = 0;
        if (b->length == static_cast<apr_size_t>(-1)) {
            if (const apr_status_t rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ); rv != APR_SUCCESS) return rv;
            continue;  // now known, maybe followed by more of it
        }
        if (b->length > 1) {
            const apr_status_t rv = apr_bucket_split(b, b->length - 1);
            if (rv == APR_ENOTIMPL) {  // a type that cannot split: read it into memory first
                if (const apr_status_t r2 = apr_bucket_read(b, &data, &len, APR_BLOCK_READ); r2 != APR_SUCCESS) return r2;
                continue;
            }
            if (rv != APR_SUCCESS) return rv;
            b = APR_BUCKET_NEXT(b);
        }
        if (const apr_status_t rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ); rv != APR_SUCCESS) return rv;
        if (len != 1) return APR_EGENERAL;
        ctx.held = data[0];
        ctx.holding = true;
        apr_bucket_delete(b);
        return APR_SUCCESS;
    }
}

void unhold(Release& ctx, apr_bucket_brigade* bb, apr_bucket_alloc_t* alloc) {
    if (!ctx.holding) return;
    APR_BRIGADE_INSERT_HEAD(bb, apr_bucket_heap_create(&ctx.held, 1, nullptr, alloc));
    ctx.holding = false;
}

// Passes on the buckets of bb before `at` but their last byte (with a FLUSH
// when the handler makes us wait); bb then holds the held byte, `at` and what
// followed it.
apr_status_t pass_before(ap_filter_t* f, Release& ctx, apr_bucket_brigade* bb, apr_bucket* at, bool flush) {
    apr_brigade_split_ex(bb, at, ctx.rest);
    apr_status_t rv = hold_last_byte(ctx, bb, f->r);
    if (rv == APR_SUCCESS) {
        if (flush) APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(f->c->bucket_alloc));
        rv = ap_pass_brigade(f->next, bb);
    }
    apr_brigade_cleanup(bb);
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(ctx.rest);
        return rv;
    }
    APR_BRIGADE_CONCAT(bb, ctx.rest);
    unhold(ctx, bb, f->c->bucket_alloc);
    return APR_SUCCESS;
}

apr_status_t release_at_eos(ap_filter_t* f, apr_bucket_brigade* bb) {
    auto& ctx = *static_cast<Release*>(f->ctx);
    if (ctx.done) return ap_pass_brigade(f->next, bb);
    if (!ctx.rest) ctx.rest = apr_brigade_create(f->r->pool, f->c->bucket_alloc);
    unhold(ctx, bb, f->c->bucket_alloc);

    apr_read_type_e mode = APR_NONBLOCK_READ;
    apr_size_t unpassed = 0;
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);) {
        if (APR_BUCKET_IS_EOS(b)) {
            // Every byte before it has been read: the handler's output is over
            // (a CGI's too), and the client has not got all of it yet.
            ctx.tx->release();
            ctx.done = true;
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, f->r,
                          "snapshots not taken by the handler released before the end of its response");
            return ap_pass_brigade(f->next, bb);
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            b = APR_BUCKET_NEXT(b);
            continue;
        }
        if (b->length == static_cast<apr_size_t>(-1)) {  // a pipe, a CGI's output: read what is there
            const char* data = nullptr;
            apr_size_t len = 0;
            const apr_status_t rv = apr_bucket_read(b, &data, &len, mode);
            if (APR_STATUS_IS_EAGAIN(rv)) {
                // The handler is still at work: pass on what it wrote so far, then wait for more.
                if (b != APR_BRIGADE_FIRST(bb)) {
                    if (const apr_status_t r2 = pass_before(f, ctx, bb, b, true); r2 != APR_SUCCESS) return r2;
                    unpassed = 0;
                }
                mode = APR_BLOCK_READ;
                b = APR_BRIGADE_FIRST(bb);
                continue;
            }
            if (rv != APR_SUCCESS) return rv;
            mode = APR_NONBLOCK_READ;
            continue;  // b now has its length
        }
        unpassed += b->length;
        b = APR_BUCKET_NEXT(b);
        if (unpassed >= kPassEvery && b != APR_BRIGADE_SENTINEL(bb)) {
            if (const apr_status_t rv = pass_before(f, ctx, bb, b, false); rv != APR_SUCCESS) return rv;
            unpassed = 0;
            b = APR_BRIGADE_FIRST(bb);
        }
    }
    if (const apr_status_t rv = hold_last_byte(ctx, bb, f->r); rv != APR_SUCCESS) return rv;
    return ap_pass_brigade(f->next, bb);
}

extern "C" apr_status_t snapshot_release_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    return httpd::filter_barrier(f, cmi_content_module, "snapshot release filter", [&] { return release_at_eos(f, bb); });
}

}  // namespace

void register_snapshot_release() {
    ap_register_output_filter(kFilterName, snapshot_release_filter, nullptr, kFilterType);
}

void release_snapshots_at_end_of_response(request_rec* r, TransactionDir& tx) {
    auto* ctx = httpd::pool_new<Release>(r->pool);
    ctx->tx = &tx;
    ap_add_output_filter(kFilterName, ctx, r, r->connection);
}

}  // namespace cmi::content
