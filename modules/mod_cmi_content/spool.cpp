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
    register_read_ahead_filter(kReplayFilterName);
}

namespace {

// Reads r's body into an unlinked spool file, `seen` called on every piece; once
// `verdict` (DECLINED or a refusal status) lets it, the handler reads the copy.
template <class Seen, class Verdict>
int spool(request_rec* r, const DirConfig& dc, Seen&& seen, Verdict&& verdict) {
    apr_file_t* file = open_spool(r, dc);
    apr_off_t size = 0;
    if (const int status = read_body(r, [&](const char* data, apr_size_t len) {
            seen(data, len);
            if (apr_file_write_full(file, data, len, nullptr) != APR_SUCCESS)
                throw std::runtime_error("cannot write the spool file");
            size += static_cast<apr_off_t>(len);
        });
        status != OK)
        return status;
    if (const int status = verdict(); status != DECLINED) return status;
    apr_off_t start = 0;
    if (apr_file_seek(file, APR_SET, &start) != APR_SUCCESS) throw std::runtime_error("cannot rewind the spool file");
    apr_bucket_brigade* body = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (size > 0) apr_brigade_insert_file(body, file, 0, size, r->pool);
    APR_BRIGADE_INSERT_TAIL(body, apr_bucket_eos_create(r->connection->bucket_alloc));
    replay_to_handler(r, kReplayFilterName, body, size);
    return DECLINED;
}

}  // namespace

int spool_and_verify(request_rec* r, const DirConfig& dc, RequestState& st) {
    return spool(
        r, dc, [&](const char* data, apr_size_t len) { st.digest.update(data, len); },
        [&] {
            std::string detail;
            const char* code = conclude(r, st, detail);
            return code ? httpd::refuse(r, cmi_content_module, code, detail) : DECLINED;
        });
}

int spool_verified_body(request_rec* r, const DirConfig& dc) {
    return spool(r, dc, [](const char*, apr_size_t) {}, [] { return DECLINED; });
}

}  // namespace cmi::content
