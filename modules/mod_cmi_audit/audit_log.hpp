// The operation log as the module sees it: one chain across every child, all
// generations and rotations, written by one logger process.
//
//  - The root parent (post_config) opens the file, checks it against the
//    chain (shared head while httpd runs; the signed <log>.head at start-up),
//    writes a `recovered` or `discontinuity` record if it must, and starts the
//    logger process (logger_process.cpp), as mod_cgid starts its daemon:
//    restarted if it dies, stopped before each new generation's post_config
//    (a restart: it stops after its current batch; a stop: it writes
//    everything left first).
//  - Request threads (children) hand records to it through the shared ring
//    (libcmi/audit_ring.hpp): no lock, no system call. A begin record with
//    CMIAuditSync On waits for the group commit; nothing else waits.
//  - The ring and the chain state live in shared memory kept for the life of
//    the parent (ap_retained_data), so records queued by a dying generation
//    or a dead logger are written by the next one.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/audit_ring.hpp"
#include "libcmi/audit_writer.hpp"
#include "mod_cmi_audit/begin_position.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace cmi::audit {

struct ServerConfig;

class AuditLog {
public:
    // The parent, in post_config: opens `path`, checks it, continues its chain.
    // Throws std::runtime_error with a message for the administrator.
    AuditLog(apr_pool_t* pconf, server_rec* s, const ServerConfig& cfg, const char* path, const char* default_node);
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;
    ~AuditLog();

    // --- request threads ---------------------------------------------------------
    struct Begin {
        bool queued = false;   // in the ring: it will be in the chain, its end record must follow
        bool failed = false;   // refused, or the writer could not write it
        std::uint32_t entry = 0;
        std::string error;     // empty: in the chain, and durable if asked
        bool ok() const { return error.empty(); }
    };
    // A begin record. With `durable` (CMIAuditSync On) it waits until the
    // record is on stable storage (at most CMIAuditTimeout).
    // `fields`: the record serialized (serialize_fields).
    Begin begin(std::string_view fields, bool durable);
    // The end record of the operation whose begin took `entry`; lets go of
    // the entry. Returns an error text, or empty.
    std::string end(std::uint32_t entry, std::string_view fields);
    // Lets go of an entry whose operation gets no end record.
    void abandon(std::uint32_t entry);
    // The begin record's place in the chain, waiting up to `max_wait` for it.
    std::optional<BeginPosition> position(std::uint32_t entry, apr_interval_time_t max_wait);
    // Waits (at most `max_wait`) until everything queued so far is written.
    void settle(apr_interval_time_t max_wait);

    // --- the parent ----------------------------------------------------------------
    // The monitor hook (about every 10 s): entries of children that died
    // mid-operation given back; <log>.head saved if the chain moved.
    void monitor();
    // child_init: children close the log (only the logger process writes it).
    void child_init();
    // The logger process: (re)starts it; stops it (before the next generation).
    void start_logger();
    void stop_logger(bool draining);

    const Signer* signer() const { return signer_; }
    const char* path() const { return path_; }
    const char* default_node() const { return default_node_; }
    server_rec* server() const { return server_; }

private:
    friend class LoggerProcess;
    void open_shared();
    void set_process();
    void start_up_checks(const std::string& head_path);
    void save_head(bool stopped);
    void check_path();
    WriterConfig writer_config() const;

    server_rec* server_;
    apr_pool_t* pconf_;
    const char* path_;
    const char* default_node_;
    std::string head_path_;
    int fd_ = -1;
    bool regular_ = true;
    pid_t parent_pid_ = 0;
    bool sync_ = true;
    std::int64_t timeout_ns_ = 5000000000LL;
    const Signer* signer_ = nullptr;
    const SignatureVerifier* verifier_ = nullptr;
    std::uint64_t checkpoint_records_ = 1000;
    std::int64_t checkpoint_us_ = 60000000;
    ChainState* chain_ = nullptr;
    std::optional<Ring> ring_;
    std::uint64_t saved_seq_ = ~0ULL;
    std::uint64_t reported_ino_ = 0;  // check_path: the other file at the log's path already reported
    class LoggerProcess* logger_ = nullptr;
};

}  // namespace cmi::audit
