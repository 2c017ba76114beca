#include "httpd_stubs.hpp"

#include "httpd/httpd_includes.hpp"

#include <cstdarg>
#include <cstdio>

namespace stubs {
std::vector<LogLine> log_lines;
std::string custom_response;
int custom_status = 0;

void reset() {
    log_lines.clear();
    custom_response.clear();
    custom_status = 0;
}
}  // namespace stubs

extern "C" {

void ap_log_rerror_(const char*, int, int module_index, int level, apr_status_t, const request_rec*,
                    const char* fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    stubs::log_lines.push_back({module_index, level, buf});
}

// Server-level lines (status_counters.cpp, when shared memory cannot be had) are not checked.
void ap_log_error_(const char*, int, int, int, apr_status_t, const server_rec*, const char*, ...) {}

void ap_custom_response(request_rec*, int status, const char* string) {
    stubs::custom_status = status;
    stubs::custom_response = string;
}

void ap_set_content_type(request_rec* r, const char* ct) { r->content_type = ct; }
void ap_remove_output_filter(ap_filter_t*) {}
apr_status_t ap_pass_brigade(ap_filter_t*, apr_bucket_brigade*) { return APR_SUCCESS; }
ap_filter_rec_t* ap_register_output_filter(const char*, ap_out_filter_func, ap_init_filter_func,
                                           ap_filter_type) {
    return nullptr;
}
ap_filter_t* ap_add_output_filter(const char*, void*, request_rec*, conn_rec*) { return nullptr; }
ap_filter_t* ap_add_input_filter_handle(ap_filter_rec_t*, void*, request_rec*, conn_rec*) { return nullptr; }
void ap_hook_insert_error_filter(ap_HOOK_insert_error_filter_t*, const char* const*, const char* const*,
                                 int) {}
}
