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
using httpd::directive_barrier;

const char* set_log(cmd_parms* cmd, void*, const char* path) {
    return directive_barrier(cmd, [&]() -> const char* {
        // One log, one chain: the log belongs to the whole server.
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
        const char* full = ap_server_root_relative(cmd->pool, path);
        if (!full) throw std::invalid_argument(std::string("'") + path + "' is not a valid path");
        server_config(cmd->server).log_path = full;
        return nullptr;
    });
}

const char* set_evidence_store(cmd_parms* cmd, void*, const char* path) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
        const char* full = ap_server_root_relative(cmd->pool, path);
        if (!full) throw std::invalid_argument(std::string("'") + path + "' is not a valid path");
        server_config(cmd->server).evidence_dir = full;
        return nullptr;
    });
}

const char* set_audit(cmd_parms*, void* cfg, int on) {
    static_cast<DirConfig*>(cfg)->audit = httpd::to_tri(on);
    return nullptr;
}

const char* set_receipts(cmd_parms*, void* cfg, int on) {
    static_cast<DirConfig*>(cfg)->receipts = httpd::to_tri(on);
    return nullptr;
}

const char* set_fail_mode(cmd_parms* cmd, void* cfg, const char* mode) {
    return directive_barrier(cmd, [&]() -> const char* {
        auto* c = static_cast<DirConfig*>(cfg);
        if (!strcasecmp(mode, "closed")) c->fail_mode = FailMode::closed;
        else if (!strcasecmp(mode, "open")) c->fail_mode = FailMode::open;
        else throw std::invalid_argument(std::string("'") + mode + "' is not a mode; use closed or open");
        return nullptr;
    });
}

const char* set_sync(cmd_parms* cmd, void*, int on) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
        server_config(cmd->server).sync = httpd::to_tri(on);
        return nullptr;
    });
}

const char* set_signing_key(cmd_parms* cmd, void*, const char* path) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
        const char* full = ap_server_root_relative(cmd->pool, path);
        if (!full) throw std::invalid_argument(std::string("'") + path + "' is not a valid path");
        // Read here, as root (configtest names a key that cannot be used); the
        // children inherit the key in memory only.
        try {
            server_config(cmd->server).signer = httpd::pool_new<Signer>(cmd->pool, Signer::from_pem_file(full));
        } catch (const std::runtime_error& e) {
            throw std::invalid_argument(std::string(full) + ": " + e.what() +
                                        "; give an unencrypted PEM Ed25519 or ECDSA P-256 private key");
        }
        return nullptr;
    });
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
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
        auto& sc = server_config(cmd->server);
        sc.checkpoint_records = positive(records, "record count");
        if (seconds) sc.checkpoint_us = apr_time_from_sec(positive(seconds, "number of seconds"));
        return nullptr;
    });
}

const char* set_timeout(cmd_parms* cmd, void*, const char* seconds) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) return err;
        const apr_uint64_t v = positive(seconds, "number of seconds");
        if (v > 3600) throw std::invalid_argument(std::string("'") + seconds + "' is too long; at most 3600 seconds");
        server_config(cmd->server).timeout_us = apr_time_from_sec(v);
        return nullptr;
    });
}

bool valid_name(const char* s) {
    if (!*s) return false;
    for (; *s; ++s)
        if (!apr_isgraph(*s)) return false;
    return true;
}

const char* set_node(cmd_parms* cmd, void*, const char* node) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
        if (!valid_name(node))
            throw std::invalid_argument(std::string("'") + node + "' is not a node name (printable, no spaces)");
        server_config(cmd->server).node = apr_pstrdup(cmd->pool, node);
        return nullptr;
    });
}

const char* set_operation(cmd_parms* cmd, void* cfg, const char* op) {
    return directive_barrier(cmd, [&]() -> const char* {
        if (!valid_name(op))
            throw std::invalid_argument(std::string("'") + op +
                                        "' is not an operation name (printable, no spaces), e.g. ContentUpload");
        static_cast<DirConfig*>(cfg)->operation = apr_pstrdup(cmd->pool, op);
        return nullptr;
    });
}

}  // namespace

const command_rec directives[] = {
    AP_INIT_TAKE1("CMIAuditLog", as_cmd(set_log), nullptr, RSRC_CONF,
                  "path of the operation log (JSON Lines, hash-chained); opened at start-up"),
    AP_INIT_TAKE1("CMIAuditEvidenceStore", as_cmd(set_evidence_store), nullptr, RSRC_CONF,
                  "directory of the providers' signatures the log vouches for (default: cmi-evidence "
                  "beside CMIAuditLog)"),
    AP_INIT_FLAG("CMIAudit", as_cmd(set_audit), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: this location is a CMI interface whose operations are audited (default Off)"),
    AP_INIT_FLAG("CMIAuditReceipts", as_cmd(set_receipts), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: a signed CMI-Receipt header on each response (needs CMIAuditSigningKey)"),
    AP_INIT_TAKE1("CMIAuditFailMode", as_cmd(set_fail_mode), nullptr, RSRC_CONF | ACCESS_CONF,
                  "closed (default): refuse with 503 when the begin record cannot be written; "
                  "open: proceed and log what was not recorded"),
    AP_INIT_FLAG("CMIAuditSync", as_cmd(set_sync), nullptr, RSRC_CONF,
                 "On (default): a record is on stable storage before the request proceeds"),
    AP_INIT_TAKE1("CMIAuditSigningKey", as_cmd(set_signing_key), nullptr, RSRC_CONF,
                  "PEM private key (Ed25519 or ECDSA P-256) that signs checkpoints and receipts"),
    AP_INIT_TAKE12("CMIAuditCheckpoint", as_cmd(set_checkpoint), nullptr, RSRC_CONF,
                   "records [seconds]: a signed checkpoint after at most this many records or seconds "
                   "(default 1000 60)"),
    AP_INIT_TAKE1("CMIAuditTimeout", as_cmd(set_timeout), nullptr, RSRC_CONF,
                  "seconds a request waits for the operation log (room in its queue, a durable write) before "
                  "503 audit-unavailable (default 5)"),
    AP_INIT_TAKE1("CMIAuditNode", as_cmd(set_node), nullptr, RSRC_CONF,
                  "name of this node in the log (default: the host name)"),
    AP_INIT_TAKE1("CMIAuditOperation", as_cmd(set_operation), nullptr, RSRC_CONF | ACCESS_CONF,
                  "the CMI operation this location implements, e.g. ContentUpload"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

void* create_dir_config(apr_pool_t* p, char*) { return httpd::pool_new<DirConfig>(p); }

void* merge_dir_config(apr_pool_t* p, void* basev, void* addv) {
    const auto* base = static_cast<const DirConfig*>(basev);
    const auto* add = static_cast<const DirConfig*>(addv);
    auto* c = httpd::pool_new<DirConfig>(p);
    c->audit = httpd::merge_tri(base->audit, add->audit);
    c->fail_mode = add->fail_mode != FailMode::unset ? add->fail_mode : base->fail_mode;
    c->operation = add->operation ? add->operation : base->operation;
    c->receipts = httpd::merge_tri(base->receipts, add->receipts);
    return c;
}

void* create_server_config(apr_pool_t* p, server_rec*) { return httpd::pool_new<ServerConfig>(p); }

void* merge_server_config(apr_pool_t* p, void* basev, void* addv) {
    const auto* base = static_cast<const ServerConfig*>(basev);
    const auto* add = static_cast<const ServerConfig*>(addv);
    auto* c = httpd::pool_new<ServerConfig>(p);
    c->log_path = base->log_path;  // GLOBAL_ONLY: only the main server has these
    c->evidence_dir = base->evidence_dir;
    c->signer = base->signer;
    c->checkpoint_records = base->checkpoint_records;
    c->checkpoint_us = base->checkpoint_us;
    c->timeout_us = base->timeout_us;
    c->sync = httpd::merge_tri(base->sync, add->sync);
    c->node = add->node ? add->node : base->node;
    return c;
}

}  // namespace cmi::audit
