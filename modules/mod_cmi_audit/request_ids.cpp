#include "mod_cmi_audit/request_ids.hpp"

#include "httpd/request_chain.hpp"
#include "httpd/notes.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/client_txid.hpp"
#include "mod_cmi_audit/audit_config.hpp"

namespace cmi::audit {
namespace {

// Validates the client's id (header_parser: once per request); the reason a
// bad one is ignored goes to the error log (its value does not: it is the
// client's, unbounded). Returns the id if it is valid.
const char* check_client_txid(request_rec* r, const char* txid) {
    const char* v = apr_table_get(r->headers_in, httpd::kClientTransactionIdHeader);
    if (!v) return nullptr;
    if (is_valid_client_txid(v)) {
        apr_table_setn(r->notes, kClientTxidNote, v);
        return v;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "ignored an invalid %s header (%" APR_SIZE_T_FMT " bytes; allowed: 1 to 128 characters of "
                  "[A-Za-z0-9._:-]) [CMI-Transaction-ID %s]",
                  httpd::kClientTransactionIdHeader, strlen(v), txid);
    return nullptr;
}

}  // namespace

void publish_request_ids(request_rec* r) {
    const char* txid = httpd::transaction_id(r);
    // Our id replaces any a client sent: backends must be able to trust it.
    apr_table_setn(r->headers_in, httpd::kTransactionIdHeader, txid);
    const char* client = check_client_txid(r, txid);
    if (r->main) return;  // a subrequest's headers must not land on the response twice
    apr_table_setn(r->err_headers_out, httpd::kTransactionIdHeader, txid);
    // This request's id, else the one an earlier request of an internal redirect validated.
    if (!client && r->prev) client = client_transaction_id(r);
    if (client) apr_table_setn(r->err_headers_out, httpd::kClientTransactionIdHeader, client);
}

const char* client_transaction_id(const request_rec* r) {
    return httpd::chain_note(r, kClientTxidNote);
}

}  // namespace cmi::audit
