#include "httpd/transaction.hpp"

#include "httpd/request_chain.hpp"
#include "libcmi/txid.hpp"

namespace cmi::httpd {

const char* transaction_id(request_rec* r) {
    const char* id = apr_table_get(r->notes, kTransactionIdKey);
    if (id) return id;
    request_rec* first = first_request(r);
    if (first != r) id = apr_table_get(first->notes, kTransactionIdKey);
    if (!id) {
        char fresh[TxidGenerator::kLength + 1];
        process_txid_generator().next_into(fresh);
        id = apr_pstrmemdup(first->pool, fresh, TxidGenerator::kLength);
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
