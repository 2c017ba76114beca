#include "mod_cmi_audit/audit_config.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "libcmi/signer.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace cmi::audit {
namespace {

using httpd::as_cmd;

const char* path_arg(cmd_parms* cmd, const char* path) {
    const char* full = ap_server_root_relative(cmd->pool, path);
    if (!full) throw std::invalid_argument(std::string("'") + path + "' is not a valid path");
    return full;
}

// One log, one chain: the log belongs to the whole server.
const char* set_log(cmd_parms* cmd, void*, const char* path) {
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    server_config(cmd->server).log_path = path_arg(cmd, path);
    return nullptr;
}

const char* set_evidence_store(cmd_parms* cmd, void*, const char* path) {
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    server_config(cmd->server).evidence_dir = path_arg(cmd, path);
    return nullptr;
}

const char* set_fail_mode(cmd_parms*, DirConfig& c, const char* mode) {
    if (!strcasecmp(mode, "closed")) c.fail_mode = FailMode::closed;
    else if (!strcasecmp(mode, "open")) c.fail_mode = FailMode::open;
    else throw std::invalid_argument(std::string("'") + mode + "' is not a mode; use closed or open");
    return nullptr;
}

const char* set_sync(cmd_parms* cmd, void*, int on) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    server_config(cmd->server).sync = httpd::to_tri(on);
    return nullptr;
}

const char* set_signing_key(cmd_parms* cmd, void*, const char* path) {
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    const char* full = path_arg(cmd, path);
    // Read here, as root (configtest names a key that cannot be used); the
    // children inherit the key in memory only.
    try {
        server_config(cmd->server).signer = httpd::pool_new<Signer>(cmd->pool, Signer::from_pem_file(full));
    } catch (const std::runtime_error& e) {
        throw std::invalid_argument(std::string(full) + ": " + e.what() +
                                    "; give an unencrypted PEM Ed25519 or ECDSA P-256 private key");
    }
    return nullptr;
}

apr_uint64_t positive(const char* arg, const char* what) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(arg, &end, 10);
    if (errno || !end || *end || v == 0 || !apr_isdigit(*arg) || v > 100000000ULL)
        throw std::invalid_argument(std::string("'") + arg + "' is not a " + what + " (a number from 1)");
    return v;
}

const char* set_checkpoint(cmd_parms* cmd, void*, const char* records, const char* seconds) {
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    auto& sc = server_config(cmd->server);
    sc.checkpoint_records = positive(records, "record count");
    if (seconds) sc.checkpoint_us = apr_time_from_sec(positive(seconds, "number of seconds"));
    return nullptr;
}

const char* set_timeout(cmd_parms* cmd, void*, const char* seconds) {
    if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
    const apr_uint64_t v = positive(seconds, "number of seconds");
    if (v > 3600) throw std::invalid_argument(std::string("'") + seconds + "' is too long; at most 3600 seconds");
    server_config(cmd->server).timeout_us = apr_time_from_sec(v);
    return nullptr;
}

bool valid_name(const char* s) {
    if (!*s) return false;
    for (; *s; ++s)
        if (!apr_isgraph(*s)) return false;
    return true;
}

const char* set_node(cmd_parms* cmd, void*, const char* node) {
    if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
    if (!valid_name(node))
        throw std::invalid_argument(std::string("'") + node + "' is not a node name (printable, no spaces)");
    server_config(cmd->server).node = apr_pstrdup(cmd->pool, node);
    return nullptr;
}

const char* set_operation(cmd_parms* cmd, DirConfig& c, const char* op) {
    if (!valid_name(op))
        throw std::invalid_argument(std::string("'") + op +
                                    "' is not an operation name (printable, no spaces), e.g. ContentUpload");
    c.operation = apr_pstrdup(cmd->pool, op);
    return nullptr;
}

}  // namespace

const command_rec directives[] = {
    AP_INIT_TAKE1("CMIAuditLog", httpd::handler<set_log>(), nullptr, RSRC_CONF,
                  "path of the operation log (JSON Lines, hash-chained); opened at start-up"),
    AP_INIT_TAKE1("CMIAuditEvidenceStore", httpd::handler<set_evidence_store>(), nullptr, RSRC_CONF,
                  "directory of the providers' signatures the log vouches for (default: cmi-evidence "
                  "beside CMIAuditLog)"),
    AP_INIT_FLAG("CMIAudit", as_cmd(httpd::set_flag<&DirConfig::audit>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: this location is a CMI interface whose operations are audited (default Off)"),
    AP_INIT_FLAG("CMIAuditReceipts", as_cmd(httpd::set_flag<&DirConfig::receipts>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: a signed CMI-Receipt header on each response (needs CMIAuditSigningKey)"),
    AP_INIT_TAKE1("CMIAuditFailMode", httpd::handler<set_fail_mode>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "closed (default): refuse with 503 when the begin record cannot be written; "
                  "open: proceed and log what was not recorded"),
    AP_INIT_FLAG("CMIAuditSync", httpd::handler<set_sync>(), nullptr, RSRC_CONF,
                 "On (default): a record is on stable storage before the request proceeds"),
    AP_INIT_TAKE1("CMIAuditSigningKey", httpd::handler<set_signing_key>(), nullptr, RSRC_CONF,
                  "PEM private key (Ed25519 or ECDSA P-256) that signs checkpoints and receipts"),
    AP_INIT_TAKE12("CMIAuditCheckpoint", httpd::handler<set_checkpoint>(), nullptr, RSRC_CONF,
                   "records [seconds]: a signed checkpoint after at most this many records or seconds "
                   "(default 1000 60)"),
    AP_INIT_TAKE1("CMIAuditTimeout", httpd::handler<set_timeout>(), nullptr, RSRC_CONF,
                  "seconds a request waits for the operation log (room in its queue, a durable write) before "
                  "503 audit-unavailable (default 5)"),
    AP_INIT_TAKE1("CMIAuditNode", httpd::handler<set_node>(), nullptr, RSRC_CONF,
                  "name of this node in the log (default: the host name)"),
    AP_INIT_TAKE1("CMIAuditOperation", httpd::handler<set_operation>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "the CMI operation this location implements, e.g. ContentUpload"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void merge_into(DirConfig& c, const DirConfig& base, const DirConfig& add, apr_pool_t*) {
    httpd::inherit_fields(c, base, add, &DirConfig::audit, &DirConfig::fail_mode, &DirConfig::operation,
                          &DirConfig::receipts);
}

void merge_into(ServerConfig& c, const ServerConfig& base, const ServerConfig& add, apr_pool_t*) {
    c = base;  // GLOBAL_ONLY settings: only the main server has them
    httpd::inherit_fields(c, base, add, &ServerConfig::sync, &ServerConfig::node);
}

}  // namespace cmi::audit
