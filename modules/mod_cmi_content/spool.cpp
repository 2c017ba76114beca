#include "mod_cmi_content/spool.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/body_read.hpp"
#include "mod_cmi_content/body_replay.hpp"

#include <apr_file_io.h>

#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

constexpr const char* kReplayFilterName = "CMI_CONTENT_SPOOLED";

struct ReplayCtx {
    apr_file_t* file;
    apr_off_t size;
    apr_bucket_brigade* pending = nullptr;
};

apr_status_t replay_filter_body(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode, apr_read_type_e,
                                apr_off_t readbytes) {
    auto* ctx = static_cast<ReplayCtx*>(f->ctx);
    request_rec* r = f->r;
    if (mode == AP_MODE_INIT) return APR_SUCCESS;
    if (mode == AP_MODE_SPECULATIVE) return APR_ENOTIMPL;
    if (!ctx->pending) {
        ctx->pending = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        if (ctx->size > 0) apr_brigade_insert_file(ctx->pending, ctx->file, 0, ctx->size, r->pool);
        APR_BRIGADE_INSERT_TAIL(ctx->pending, apr_bucket_eos_create(r->connection->bucket_alloc));
    }
    return hand_out(ctx->pending, bb, mode, readbytes);
}

extern "C" apr_status_t replay_filter(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                      apr_read_type_e block, apr_off_t readbytes) {
    return httpd::filter_barrier(f, cmi_content_module, "spool replay filter",
                                 [&] { return replay_filter_body(f, bb, mode, block, readbytes); });
}

// An unlinked temporary file: nothing is left behind by any exit path, not
// even a crash; the descriptor is closed by the request pool's cleanup.
apr_file_t* open_spool(request_rec* r, const DirConfig& dc) {
    const char* dir = spool_dir(dc);
    char* tmpl = apr_pstrcat(r->pool, dir, "/cmi-spool-XXXXXX", nullptr);
    apr_file_t* file = nullptr;
    const apr_status_t rv = apr_file_mktemp(
        &file, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BINARY, r->pool);
    if (rv != APR_SUCCESS) {
        char buf[120];
        throw std::runtime_error(std::string("cannot create a spool file in ") + dir + ": " +
                                 apr_strerror(rv, buf, sizeof buf));
    }
    apr_file_remove(tmpl, r->pool);
    return file;
}

}  // namespace

void register_spool_filter() {
    ap_register_input_filter(kReplayFilterName, replay_filter, nullptr, AP_FTYPE_CONTENT_SET);
}

int spool_and_verify(request_rec* r, const DirConfig& dc, RequestState& st) {
    apr_file_t* file = open_spool(r, dc);
    apr_off_t size = 0;
    if (const int status = read_body(r, [&](const char* data, apr_size_t len) {
            st.digest.update(data, len);
            if (apr_file_write_full(file, data, len, nullptr) != APR_SUCCESS)
                throw std::runtime_error("cannot write the spool file");
            size += static_cast<apr_off_t>(len);
        });
        status != OK)
        return status;
    std::string detail;
    if (const char* code = conclude(r, st, detail)) return httpd::refuse(r, cmi_content_module, code, detail);

    apr_off_t start = 0;
    if (apr_file_seek(file, APR_SET, &start) != APR_SUCCESS) throw std::runtime_error("cannot rewind the spool file");
    // The handler sees a body of known length, whatever the client's framing was.
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    apr_table_setn(r->headers_in, "Content-Length", apr_off_t_toa(r->pool, size));
    auto* ctx = httpd::pool_new<ReplayCtx>(r->pool);
    ctx->file = file;
    ctx->size = size;
    guard_body(r, ap_add_input_filter(kReplayFilterName, ctx, r, r->connection));
    return DECLINED;
}

}  // namespace cmi::content
