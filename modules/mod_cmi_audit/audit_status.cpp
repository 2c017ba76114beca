// mod_cmi_audit on server-status: records written and failed, durable-write
// latency (count, total and maximum microseconds of a synced append), and
// refusals per problem code (counted by httpd::refuse).
#include "mod_cmi_audit/audit_status.hpp"

#include "httpd/status_counters.hpp"
#include "mod_cmi_audit/audit_config.hpp"

namespace cmi::audit {
namespace {

constexpr const char* kCounters[] = {
    "records.written", "records.failed",
    "durable_writes", "durable_write_us.total", "durable_write_us.max",
    "fdatasyncs", "fdatasync_us.total", "fdatasync_us.max", "fdatasync_begins",
    "discontinuities", "writer_restarts",
    "refused.audit-unavailable", "other",
};

// The counters of records include everything queued before the page (the
// log writer counts what it has written).
void settle(request_rec* r) {
    if (AuditLog* log = server_config(r->server).log) log->settle(apr_time_from_msec(500));
}

constexpr httpd::StatusTable kStatus{
    &cmi_audit_module, "cmi_audit", "mod_cmi_audit (CMI operation log)", kCounters, std::size(kCounters), settle};

}  // namespace

void count_begin(request_rec* r, const AuditLog::Begin& res, bool durable, apr_interval_time_t took) noexcept {
    if (res.queued && !durable) return;  // nothing to count (the writer counts what it writes)
    httpd::StatusCounters* c = httpd::StatusCounters::find(r->server, cmi_audit_module);
    if (!c) return;
    if (!res.queued) c->add("records.failed");
    if (durable && res.ok()) {
        const auto us = static_cast<std::uint64_t>(took > 0 ? took : 0);
        c->add("durable_writes");
        c->add("durable_write_us.total", us);
        c->raise("durable_write_us.max", us);
    }
}

void count_failed(request_rec* r) noexcept { httpd::count(r, cmi_audit_module, "records.failed"); }

void register_status_hooks() { httpd::register_status_table<kStatus>(); }

}  // namespace cmi::audit
