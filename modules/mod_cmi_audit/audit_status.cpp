// mod_cmi_audit on server-status: records written and failed, durable-write
// latency (count, total and maximum microseconds of a synced append), and
// refusals per problem code (counted by httpd::refuse).
#include "mod_cmi_audit/audit_status.hpp"

#include "httpd/barrier.hpp"
#include "httpd/status_counters.hpp"
#include "mod_cmi_audit/audit_config.hpp"

#include <mod_status.h>

namespace cmi::audit {
namespace {

constexpr const char* kCounters[] = {
    "records.written", "records.failed",
    "durable_writes", "durable_write_us.total", "durable_write_us.max",
    "refused.audit-unavailable", "other",
};

extern "C" int cmi_audit_status(request_rec* r, int flags) {
    return httpd::hook_barrier(r, cmi_audit_module, "status_hook", [r, flags] {
        httpd::report_status(r, flags, cmi_audit_module, "cmi_audit", "mod_cmi_audit (CMI operation log)");
        return OK;
    });
}

extern "C" int cmi_audit_status_post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
    try {
        httpd::StatusCounters::create(pconf, s, cmi_audit_module, kCounters, std::size(kCounters));
    } catch (...) {
    }
    return OK;
}

}  // namespace

void count_record(server_rec* s, const AuditLog::Result& res) noexcept {
    if (httpd::StatusCounters* c = httpd::StatusCounters::find(s, cmi_audit_module))
        c->add(res.written ? "records.written" : "records.failed");
}

AuditLog::Result counted_append(request_rec* r, AuditLog& log, Record& rec, AuditLog::Durable durable) {
    const apr_time_t start = apr_time_now();
    AuditLog::Result res = log.append(rec, durable);
    count_record(r->server, res);
    httpd::StatusCounters* c = httpd::StatusCounters::find(r->server, cmi_audit_module);
    if (c && durable == AuditLog::Durable::now && res.ok()) {
        const apr_time_t took = apr_time_now() - start;
        const auto us = static_cast<std::uint64_t>(took > 0 ? took : 0);
        c->add("durable_writes");
        c->add("durable_write_us.total", us);
        c->raise("durable_write_us.max", us);
    }
    return res;
}

void register_status_hooks() {
    APR_OPTIONAL_HOOK(ap, status_hook, cmi_audit_status, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(cmi_audit_status_post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace cmi::audit
