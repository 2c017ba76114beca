// mod_cmi_audit on server-status (see audit_status.cpp).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_audit/audit_log.hpp"

namespace cmi::audit {

// Makes the counter table in post_config and reports it on server-status.
void register_status_hooks();

// A begin record queued (or refused) by a request thread: refused ones count
// as failed records (the writer counts what it writes or fails to); a begin
// that waited for durability counts as a durable write with its latency.
void count_begin(request_rec* r, const AuditLog::Begin& res, bool durable, apr_interval_time_t took) noexcept;
// A record refused before it reached the log writer.
void count_failed(request_rec* r) noexcept;

}  // namespace cmi::audit
