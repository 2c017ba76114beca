#include "httpd/barrier.hpp"

#include "httpd/transaction.hpp"

#include <cstring>

namespace cmi::httpd {
namespace {

// "mod_cmi_auth" of the module's name "mod_cmi_auth.cpp": its length.
int short_name_length(const module& m) noexcept {
    const char* dot = std::strchr(m.name, '.');
    return static_cast<int>(dot ? dot - m.name : std::strlen(m.name));
}

}  // namespace

void log_escaped_exception(request_rec* r, const module& m, const char* where,
                           const char* what) noexcept {
    if (!r) return;
    const char* txid = apr_table_get(r->notes, kTransactionIdKey);
    ap_log_rerror(CMI_LOG_MARK(m), APLOG_ERR, 0, r,
                  CMILOGNO(00001) "%s: internal error in %s: %s [CMI-Transaction-ID %s]", m.name, where, what,
                  txid ? txid : "-");
}

void log_server_exception(const server_rec* s, const module& m, const char* where, int level,
                          const char* what) noexcept {
    ap_log_error(CMI_LOG_MARK(m), level, 0, s, CMILOGNO(00002) "%.*s: %s (in %s)", short_name_length(m), m.name,
                 what, where);
}

}  // namespace cmi::httpd
