#include "httpd/problem_response.hpp"

#include "httpd/notes.hpp"
#include "httpd/status_counters.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/problem.hpp"

#include <cstring>
#include <stdexcept>

namespace cmi::httpd {
namespace {

// Shared by every CMI module: each registers the same name with identical code.
constexpr const char* kFilterName = "CMI_PROBLEM";
constexpr const char* kProblemNote = "CMI_PROBLEM";
constexpr const char* kFilterAddedNote = "CMI_PROBLEM_FILTER";

// Nothing in these two can throw: no barrier needed.
extern "C" apr_status_t problem_type_filter(ap_filter_t* f, apr_bucket_brigade* bb) noexcept {
    // httpd's error path has just set text/html; the body is our JSON.
    ap_set_content_type(f->r, kProblemContentType);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

extern "C" void insert_problem_filter(request_rec* r) noexcept {
    if (apr_table_get(r->notes, kProblemNote) && !apr_table_get(r->notes, kFilterAddedNote)) {
        apr_table_setn(r->notes, kFilterAddedNote, "1");
        // A refusal raised from a filter (an error bucket) reaches the error
        // path after the header filter has merged and cleared err_headers_out.
        if (const char* txid = apr_table_get(r->notes, kTransactionIdKey))
            apr_table_setn(r->err_headers_out, kTransactionIdHeader, txid);
        ap_add_output_filter(kFilterName, nullptr, r, r->connection);
    }
}

}  // namespace

void register_problem_response() {
    ap_register_output_filter(kFilterName, problem_type_filter, nullptr, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_problem_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
}

int refuse(request_rec* r, const module& m, const char* code, const std::string& detail) {
    return refuse(r, m, code, detail, std::string());
}

int refuse(request_rec* r, const module& m, const char* code, const std::string& detail,
           const std::string& extensions) {
    const ProblemType* type = find_problem_type(code);
    if (!type) throw std::invalid_argument(std::string("unknown problem code ") + code);
    const char* txid = transaction_id(r);
    const std::string body =
        extensions.empty() ? problem_json(code, detail, txid) : problem_json(code, detail, txid, extensions);

    ap_custom_response(r, type->status, body.c_str());
    apr_table_setn(r->notes, kProblemNote, "1");
    apr_table_setn(r->notes, kRefusalKey, type->code);
    apr_table_setn(r->subprocess_env, kRefusalKey, type->code);
    apr_table_setn(r->err_headers_out, kTransactionIdHeader, txid);
    count(r, m, std::string("refused.") + type->code);
    // A challenge is the first step of every Digest (and most) logins, not a problem:
    // info. Every other refusal: warn.
    const int level = std::strcmp(type->code, "authentication-required") ? APLOG_WARNING : APLOG_INFO;
    ap_log_rerror(CMI_LOG_MARK(m), level, 0, r, CMILOGNO(00005) "refused %s %s: %s (%d): %s [CMI-Transaction-ID %s]",
                  r->method, r->uri, type->code, type->status, detail.c_str(), txid);
    return type->status;
}

}  // namespace cmi::httpd
