#include "mod_cmi_audit/begin_position.hpp"

#include "libcmi/sha256.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/request_state.hpp"

namespace cmi::audit {

std::string BeginPosition::sha256_hex() const { return hex(sha256.data(), sha256.size()); }

std::optional<BeginPosition> begin_position(request_rec* r, apr_interval_time_t max_wait) {
    const RequestState* st = find_state(r);
    AuditLog* log = server_config(r->server).log;
    if (!st || !log || !st->begun || !st->has_entry || st->entry_released) return std::nullopt;
    return log->position(st->entry, max_wait);
}

}  // namespace cmi::audit
