// mod_cmi_audit on mod_status's server-status page (see audit_status.cpp).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_audit/audit_log.hpp"

namespace cmi::audit {

// Makes the counter table in post_config and reports it on server-status.
void register_status_hooks();

// log.append(rec, durable), counting records written and failed and, for the
// writes that wait for durability (begin records), their latency (the whole
// append, including the group commit).
AuditLog::Result counted_append(request_rec* r, AuditLog& log, Record& rec, AuditLog::Durable durable);

// Counts a record appended with append_later (by the thread that wrote it).
void count_record(server_rec* s, const AuditLog::Result& res) noexcept;

}  // namespace cmi::audit
