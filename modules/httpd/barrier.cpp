#include "httpd/barrier.hpp"

#include "httpd/transaction.hpp"

namespace cmi::httpd {

void log_escaped_exception(request_rec* r, const module& m, const char* where,
                           const char* what) noexcept {
    if (!r) return;
    const char* txid = apr_table_get(r->notes, kTransactionIdKey);
    ap_log_rerror_(__FILE__, __LINE__, m.module_index, APLOG_ERR, 0, r,
                   "%s: internal error in %s: %s [CMI-Transaction-ID %s]", m.name, where,
                   what, txid ? txid : "-");
}

}  // namespace cmi::httpd
