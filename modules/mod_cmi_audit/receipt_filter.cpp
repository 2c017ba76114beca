#include "mod_cmi_audit/receipt_filter.hpp"
#include "mod_cmi_audit/request_facts.hpp"

#include "httpd/barrier.hpp"
#include "httpd/notes.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/receipt.hpp"
#include "libcmi/signer.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/begin_position.hpp"
#include "mod_cmi_audit/request_body.hpp"
#include "mod_cmi_audit/request_state.hpp"

namespace cmi::audit {
namespace {

constexpr const char* kFilterName = "CMI_AUDIT_RECEIPT";
constexpr const char* kHeader = "CMI-Receipt";

request_rec* original(request_rec* r) {
    while (r->prev) r = r->prev;
    return r;
}

std::optional<std::string> str(const char* v) {
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

// How long the response waits for the log's writer to chain the begin record
// (with CMIAuditSync On it is chained, and durable, before the handler ran).
constexpr apr_interval_time_t kBeginWait = apr_time_from_sec(2);

// The signed receipt, or nullptr (logged) when the begin record's place in
// the chain is not known: no receipt rather than one that binds nothing.
const char* make_receipt(request_rec* r, const Signer& signer) {
    const std::optional<BeginPosition> pos = begin_position(r, kBeginWait);
    if (!pos) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      CMILOGNO(40011) "no CMI-Receipt for %s %s: the place of its begin record in the audit log "
                                      "is not known [CMI-Transaction-ID %s]",
                      r->method, r->uri, httpd::transaction_id(r));
        return nullptr;
    }
    request_rec* first = original(r);
    RequestState& st = state(r);
    ReceiptFacts facts;
    facts.txid = httpd::transaction_id(r);
    facts.time = rfc3339_us(first->request_time);
    const char* user = apr_table_get(r->notes, httpd::kUserKey);
    facts.user = str(user ? user : r->user);
    facts.method = str(first->method);
    if (const auto uri = recorded_uri(first)) facts.uri = std::string(*uri);
    if (st.body) facts.digest = body_facts(*st.body).digest;
    facts.status = r->status;
    const auto hash = receipt_hash(facts);
    Receipt rc;
    rc.txid = facts.txid;
    rc.seq = pos->seq;
    rc.begin = pos->sha256_hex();
    rc.hash.assign(hash.begin(), hash.end());
    rc.sig = signer.sign(receipt_message(rc));
    rc.keyid = signer.keyid();
    st.receipt = apr_pstrdup(first->pool, format_receipt(rc).c_str());
    return st.receipt;
}

extern "C" apr_status_t receipt_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    return httpd::filter_barrier(f, cmi_audit_module, "receipt filter", [&]() -> apr_status_t {
        const auto* signer = static_cast<const Signer*>(f->ctx);
        // err_headers_out: sent on every path, including a handler status like 204.
        if (const char* receipt = make_receipt(f->r, *signer)) apr_table_setn(f->r->err_headers_out, kHeader, receipt);
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    });
}

}  // namespace

void register_receipt_filter() {
    // Before HTTP_HEADER (AP_FTYPE_PROTOCOL) turns headers_out into bytes.
    ap_register_output_filter(kFilterName, receipt_filter, nullptr, AP_FTYPE_CONTENT_SET);
}

void add_receipt_filter(request_rec* r, const Signer* signer) {
    ap_add_output_filter(kFilterName, const_cast<Signer*>(signer), r, r->connection);
}

}  // namespace cmi::audit
