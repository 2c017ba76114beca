#include "mod_cmi_content/too_large.hpp"

#include "httpd/barrier.hpp"
#include "httpd/problem_response.hpp"
#include "mod_cmi_content/content_config.hpp"

#include <string>

namespace cmi::content {
namespace {

constexpr const char* kValidatedNote = "CMI_CONTENT_VALIDATED_BODY";

std::string detail(apr_off_t limit) {
    return "The request body is larger than this CMI interface accepts (LimitRequestBody " +
           std::to_string(static_cast<long long>(limit)) + " bytes).";
}

// HTTP_IN has refused the body (LimitRequestBody) and httpd is about to send
// its error page: runs before the problem filter's own insert_error_filter
// hook, so the page becomes our problem document.
extern "C" void insert_too_large(request_rec* r) {
    httpd::hook_barrier(r, cmi_content_module, "insert_error_filter", [r] {
        if (r->status != HTTP_REQUEST_ENTITY_TOO_LARGE || !apr_table_get(r->notes, kValidatedNote) ||
            apr_table_get(r->notes, "CMI_PROBLEM"))
            return OK;
        httpd::refuse(r, cmi_content_module, "too-large", detail(ap_get_limit_req_body(r)));
        return OK;
    });
}

}  // namespace

int check_declared_length(request_rec* r) {
    apr_table_setn(r->notes, kValidatedNote, "1");
    const apr_off_t limit = ap_get_limit_req_body(r);
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t n = 0;
    if (limit > 0 && length && !apr_table_get(r->headers_in, "Transfer-Encoding") &&
        ap_parse_strict_length(&n, length) && n > limit)
        return httpd::refuse(r, cmi_content_module, "too-large", detail(limit));
    return DECLINED;
}

void register_too_large_hook() {
    ap_hook_insert_error_filter(insert_too_large, nullptr, nullptr, APR_HOOK_FIRST);
}

}  // namespace cmi::content
