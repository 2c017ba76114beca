#include "httpd/transaction.hpp"

#include "libcmi/txid.hpp"

namespace cmi::httpd {
namespace {

// The request that started it all: follow subrequests to their main request
// and internal redirects to the request they replaced.
request_rec* first_request(request_rec* r) {
    for (;;) {
        if (r->main) r = r->main;
        else if (r->prev) r = r->prev;
        else return r;
    }
}

}  // namespace

const char* transaction_id(request_rec* r) {
    const char* id = apr_table_get(r->notes, kTransactionIdKey);
    if (id) return id;
    request_rec* first = first_request(r);
    id = apr_table_get(first->notes, kTransactionIdKey);
    if (!id) {
        id = apr_pstrdup(first->pool, process_txid_generator().next().c_str());
        apr_table_setn(first->notes, kTransactionIdKey, id);
        apr_table_setn(first->subprocess_env, kTransactionIdKey, id);
    }
    if (first != r) {
        apr_table_setn(r->notes, kTransactionIdKey, id);
        apr_table_setn(r->subprocess_env, kTransactionIdKey, id);
    }
    return id;
}

}  // namespace cmi::httpd
