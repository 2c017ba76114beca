// mod_cmi_audit configuration: which locations are audited (per directory) and
// where the one operation log lives (per server).
#pragma once
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"

// Every file of the module logs under its name (per-module LogLevel).
extern "C" {
APLOG_USE_MODULE(cmi_audit);
}

namespace cmi {
class Signer;
}

namespace cmi::audit {

class AuditLog;
class EvidenceStore;

enum class FailMode : signed char { unset = -1, closed = 0, open = 1 };

struct DirConfig {
    httpd::Tri audit = httpd::Tri::unset;
    FailMode fail_mode = FailMode::unset;
    const char* operation = nullptr;  // CMIAuditOperation; nullptr: unset
    httpd::Tri receipts = httpd::Tri::unset;
};

struct ServerConfig {
    const char* log_path = nullptr;  // CMIAuditLog (main server only)
    httpd::Tri sync = httpd::Tri::unset;
    const char* node = nullptr;      // CMIAuditNode; nullptr: the host name
    const Signer* signer = nullptr;   // CMIAuditSigningKey, read as root (main server only)
    apr_uint64_t checkpoint_records = 0;  // CMIAuditCheckpoint; 0: unset (1000)
    apr_time_t checkpoint_us = 0;         // 0: unset (60 s)
    const char* evidence_dir = nullptr;  // CMIAuditEvidenceStore; nullptr: cmi-evidence beside the log
    apr_time_t timeout_us = 0;            // CMIAuditTimeout; 0: unset (5 s)
    AuditLog* log = nullptr;         // set on every server_rec by post_config
    const EvidenceStore* evidence = nullptr;  // likewise
};

// Section merges (httpd::merge_config).
void merge_into(DirConfig& out, const DirConfig& base, const DirConfig& add, apr_pool_t* p);
void merge_into(ServerConfig& out, const ServerConfig& base, const ServerConfig& add, apr_pool_t* p);

extern const command_rec directives[];

inline bool audited(const DirConfig& c) { return c.audit == httpd::Tri::on; }
inline bool gives_receipts(const DirConfig& c) { return c.receipts == httpd::Tri::on; }
inline bool fails_open(const DirConfig& c) { return c.fail_mode == FailMode::open; }
inline bool syncs(const ServerConfig& c) { return c.sync != httpd::Tri::off; }  // default On

inline const DirConfig& dir_config(const request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_audit_module));
}
inline ServerConfig& server_config(const server_rec* s) {
    return *static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &cmi_audit_module));
}

}  // namespace cmi::audit
