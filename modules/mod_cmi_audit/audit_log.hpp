// The operation log file and the one hash chain all children append to.
//
// The root parent opens the file (O_APPEND) in post_config. The shared-memory
// head {seq, hash, current file, size} and its two process-shared robust
// mutexes (append, sync) are made once per parent (ap_retained_data) and kept
// across graceful restarts, so every generation of children appends to the
// same chain. (Why not ap_global_mutex: see Shared in audit_log.cpp.) An append
// serialises the record's fields before taking the mutex; under it, it only
// assembles the line with seq and prev, writes it and hashes it. It re-reads
// the head from the file when the file's size is not the one the shared head
// belongs to (a writer killed between write and update; a torn line is cut
// off and recorded). Start-up also takes an fcntl lock on the file.
//
// Durability (CMIAuditSync On) is a group commit: the append lock is released
// before fdatasync. A writer whose record an earlier sync already covered (the
// shared `synced` size) goes on; else one leader (CAS of its pid) syncs
// everything written so far and wakes all waiters through a shared futex.
// An `end` record is written after its response has gone out, so nothing
// waits for it: its writer leaves it to the leader of the moment (the shared
// `wanted` size), which leads again after its round if such records came
// during it, or becomes the leader itself when there is none.
//
// Within a child, appends are combined (audit_append.cpp): a thread that
// finds another thread of its process writing queues its record and sleeps
// until that writer has written it (and, for a begin record with Sync On,
// made it durable); the writer takes every queued record, chains them under
// one hold of the append lock and writes them with one write(). An end
// record is only queued: its thread does not wait at all.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/signer.hpp"

#include <apr_shm.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>

namespace cmi::audit {

class AuditLog {
public:
    // Opens `path` and continues its chain; in the parent, during post_config.
    // A torn last line is cut off and a `recovered` record says what was cut.
    // Throws std::runtime_error with a message for the administrator.
    AuditLog(apr_pool_t* pconf, server_rec* s, const char* path, const char* default_node);
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;
    ~AuditLog();

    struct Result {
        bool written = false;  // the line is in the file (and in the chain)
        std::string error;     // empty: written and, if asked, durable
        std::uint64_t seq = 0;   // where it was chained (0: not chained)
        std::string line_hash;   // hex SHA-256 of its line, line feed included
        bool ok() const { return error.empty(); }
    };
    enum class Durable {
        no,      // CMIAuditSync Off: written (in the page cache)
        now,     // durable before append returns (a begin record)
        soon,    // durable within a group commit, without waiting for it (an end record)
    };
    // Sets rec.seq and rec.prev, appends the line and makes it as durable as
    // asked. On a failed write the chain does not advance and a partial line
    // is cut off again.
    Result append(Record& rec, Durable durable);
    // The same for a record nobody waits for (an end record): it returns as
    // soon as the record is queued for this process's writer of the moment,
    // which counts it on server-status and logs it to the error log if it
    // cannot be written.
    void append_later(Record&& rec, Durable durable);

    // Signed checkpoints: after at least `every_records` records or
    // `every_us` microseconds since the last one (checked on each append).
    void set_signer(const Signer* signer, apr_uint64_t every_records, apr_time_t every_us) {
        signer_ = signer;
        checkpoint_records_ = every_records;
        checkpoint_us_ = every_us;
    }

    // In the parent (the monitor hook, about every 10 s, and at shutdown):
    // saves the head of the chain to `<log>.head` if it moved since the last
    // save, so that a new empty log continues it even after a full stop.
    void save_head();

    // In the parent (the monitor hook): a signed checkpoint when records
    // have come after the last one and it is older than the checkpoint
    // interval, so that an idle server's last records are covered too.
    // Returns an error text, or empty.
    std::string idle_checkpoint(bool sync);

    // In the parent (the monitor hook): syncs end records that were left to
    // a leader whose extra rounds ran out just as the load stopped.
    std::string flush_left();

    const Signer* signer() const { return signer_; }
    const char* path() const { return path_; }
    const char* default_node() const { return default_node_; }

    struct Shared;

private:
    class Lock;
    // One queued append (audit_append.cpp).
    struct Pending {
        Record* rec = nullptr;
        std::string fields;  // serialize_fields(*rec), made before queueing
        Durable durable = Durable::no;
        bool waits = true;            // a thread sleeps on `done` (else the writer deletes it)
        std::optional<Record> owned;  // the record of append_later
        Result res;
        apr_off_t end = 0;  // where its line (or a checkpoint after it) ends; -1 rotated file; 0 not written
        std::uint32_t done = 0;  // futex word: 1 once res is final
        Pending* next = nullptr;  // in the queue, then in the writer's list (no allocation there)
    };
    // Queues `p`; writes the queue if no other thread of this process does.
    void enqueue(Pending* p);
    // As this process's writer: writes batches until the queue is empty, then
    // makes them durable and completes them. `lock` holds queue_mutex_.
    void drain(std::unique_lock<std::mutex>& lock) noexcept;
    // Chains and writes one batch (a list) under the append lock; the
    // outcome goes into each Pending.
    void write_batch(Pending* batch) noexcept;
    void make_durable(Pending* written) noexcept;
    void complete(Pending* done) noexcept;
    void report_handed_over(const Pending& p) noexcept;
    bool current_locked() const;
    // The head saved in <log>.head, if there is one; throws if it is unreadable.
    std::optional<ChainHead> read_head_file() const;
    // Re-reads the head if the current file changed behind the shared head;
    // a torn last line (a child killed mid-write) is cut off and returned.
    std::optional<Record::Recovered> resync_locked();
    Record recovered_record(const Record::Recovered& what) const;
    // The chain head as it was before a batch: a failed write goes back to it.
    struct Mark {
        apr_uint64_t seq, open_ops, checkpoint_seq;
        apr_time_t checkpoint_time;
        int has_head;
        char hash[65];
    };
    Mark mark_locked() const;
    void rollback_locked(const Mark& mark);
    // Adds rec's line to `batch` (the lines after the file's `base` size) and
    // advances the head; returns the offset its line will end at (-1 in a
    // rotated file), or 0 with res.error if it cannot be written. `fields` is
    // serialize_fields(rec), made before the lock was taken.
    apr_off_t stage_locked(Record& rec, const std::string& fields, apr_off_t base, std::string& batch, Result& res);
    // Writes the staged lines; on failure cuts off any partial write, rolls
    // the head back to `mark` and returns why.
    std::string flush_locked(const std::string& batch, apr_off_t base, const Mark& mark);
    // The size of the file the staged lines go after.
    apr_off_t base_locked() const;
    // Stages with stage(base, lines, res) -> stage_locked's value, then
    // writes what it staged; the offset the lines end at (0: not written).
    template <class Stage>
    apr_off_t write_staged_locked(Result& res, Stage&& stage);
    // One record, staged and written; the offset its line ends at (0: not written).
    apr_off_t write_locked(Record& rec, Result& res);
    // Group commit: makes everything up to `end` durable, sharing one
    // fdatasync with every process that wrote before it. With `wait` false it
    // returns at once if another writer leads the commit (which then covers
    // `end`, see the top of this file).
    std::string sync_to(apr_off_t end, bool wait = true);
    // As leader: one fdatasync of everything written so far.
    int sync_round(int& err);
    // As leader: a round, hand over (waking the waiters), then lead again
    // while records are left to the leader (at most kExtraRounds more).
    // Returns the first round's result.
    int lead(int& err);
    void hand_over();
    bool left_to_leader() const;
    static constexpr int kExtraRounds = 2;  // a leader's rounds for records left to it
    // Room for a begin record of `line_size` bytes at offset `at` and the end
    // records still to come; an error text if the file system has none.
    std::string reserve_locked(apr_off_t at, apr_off_t line_size);
    static constexpr apr_off_t kEndReserve = 4096;         // per open operation
    static constexpr apr_off_t kCheckpointReserve = 1024;
    static constexpr apr_off_t kReserveStep = 64 * 1024;
    // Stages a checkpoint record if one is due; returns stage_locked's value or 0.
    apr_off_t checkpoint_locked(apr_off_t base, std::string& batch, Result& res);

    server_rec* server_;
    const char* path_;
    const char* default_node_;
    int fd_ = -1;
    bool regular_ = false;
    bool reservable_ = true;  // fallocate works on this file
    std::string head_path_;   // <log>.head
    pid_t parent_pid_ = 0;    // the process that opened the log (the parent)
    apr_uint64_t saved_seq_ = 0;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
    apr_shm_t* shm_ = nullptr;
    Shared* shared_ = nullptr;
    const Signer* signer_ = nullptr;
    apr_uint64_t checkpoint_records_ = 1000;
    apr_time_t checkpoint_us_ = apr_time_from_sec(60);
    // This process's queue (each child has its own copy of the object).
    std::mutex queue_mutex_;
    Pending* queue_head_ = nullptr;
    Pending** queue_tail_ = &queue_head_;
    bool writing_ = false;  // a thread of this process is writing the queue
};

}  // namespace cmi::audit
