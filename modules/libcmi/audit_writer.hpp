// The one writer of an audit log: takes records from the ring in order,
// assigns seq, chains them (prev = SHA-256 of the line before), writes each
// batch with one pwrite at the end of the chain, runs fdatasync (group
// commit: one for every begin record waiting), and tells the waiters. It is
// the only process that writes the log, so it never re-reads the file to
// learn the head: before each batch it checks that the file still ends with
// the line it wrote last (audit_recovery.hpp) — a torn write of its own is
// cut and recorded (`recovered`), anything else is recorded as a
// `discontinuity` and never adopted.
#pragma once
#include "libcmi/audit_record.hpp"
#include "libcmi/audit_recovery.hpp"
#include "libcmi/audit_ring.hpp"
#include "libcmi/ossl.hpp"

#include <atomic>
#include <cstdint>
#include <pthread.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cmi {
class Signer;
}

namespace cmi::audit {

// Where the chain stands, in shared memory that lives as long as the httpd
// parent (the ring's neighbour): the writer's truth, published for the parent
// (which saves it to <log>.head) and for the next writer.
struct ChainState {
    std::atomic<std::uint32_t> version;  // seqlock: odd while the writer changes the head
    std::uint64_t seq;
    char hash[65];                       // hex, NUL-terminated
    std::int64_t size;                   // the file's size as of the head
    std::uint32_t last_len;              // bytes of the head's line in this file (0: in an earlier file)
    std::uint64_t checkpoint_seq;
    std::int64_t checkpoint_time_us;
    std::int64_t synced;                 // bytes on stable storage
    std::int64_t allocated;              // the file has blocks allocated up to here
    std::uint64_t ring_pos;              // the ring records up to here are in the file (at the head)
    // The batch being written: where it goes, and the head (and ring
    // position) it leads to, set before the write. inflight_end is non-zero
    // until the batch is published and released: a writer that dies in
    // between leaves the next one what it needs to finish it (or to cut it
    // off as torn, when the write itself did not finish).
    std::atomic<std::int64_t> inflight_base, inflight_end;
    std::uint64_t pend_seq;
    char pend_hash[65];
    std::uint32_t pend_last_len;
    std::uint64_t pend_ring_pos;
    std::atomic<std::uint64_t> discontinuities;
    std::uint64_t dev, ino;              // the file all this belongs to
    pthread_mutex_t writer_lock;         // robust, process-shared: held by the one writer
};

// Sets up `state` (zeroed shared memory): genesis head, the writer lock.
void init_chain_state(ChainState& state);
// A consistent copy of the head (seqlock read).
FileHead read_head(const ChainState& state);

// What the writer reports to its host (the module: server-status, error log).
class WriterEvents {
public:
    virtual ~WriterEvents() = default;
    virtual void written(SlotKind, std::uint32_t /*count*/) {}
    virtual void failed(SlotKind, std::uint32_t /*count*/) {}
    virtual void synced(std::int64_t /*ns*/, std::uint32_t /*records*/) {}
    // A record that could not be written, in full (for the error log).
    virtual void not_recorded(SlotKind, const std::string& /*record*/, const std::string& /*why*/) {}
    // level: 1 alert, 3 error, 4 warning, 5 notice (syslog/APLOG levels).
    // `id`: the message's log id (CMILOGNO, libcmi/log_id.hpp), "" for none.
    virtual void message(int /*level*/, const char* /*id*/, const std::string& /*text*/) {}
};

struct WriterConfig {
    std::string node;                    // `node` of the records the writer makes
    bool sync = true;                    // CMIAuditSync On somewhere: end records are synced too (a moment later)
    std::int64_t commit_delay_ns = 0;    // Sync On: wait this long for more begins before an fdatasync
    std::int64_t poll_ns = 1000000;      // Sync Off, busy: look again after this
    std::uint64_t checkpoint_records = 1000;
    std::int64_t checkpoint_us = 60000000;
    const Signer* signer = nullptr;
};

class LogWriter {
public:
    // `fd`: the log, open for writing (no O_APPEND: lines go at the chain's end).
    LogWriter(Ring ring, ChainState& chain, int fd, WriterConfig cfg, WriterEvents& events);
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Compares the file with the head: repairs a torn write (recovered
    // record) or records a discontinuity. Returns false if the file could not
    // be looked at, or was deleted (the caller tries again later; records
    // stay queued until a graceful restart opens a new file).
    bool check_file();
    // One batch: every record published in the ring (up to 1 MiB), chained
    // and written with one pwrite. Returns the number of ring records written.
    std::size_t write_ready();
    // One fdatasync; the begin records it covers are durable, their waiters woken.
    void sync();
    bool unsynced() const;
    // A checkpoint when records have come since the last and it is older than the interval.
    void checkpoint_if_idle();
    // Keeps file space allocated ahead of what producers may promise.
    void top_up();
    // Writes one record of the writer's own now (recovered, discontinuity),
    // at byte `at` with the given seq and prev; a checkpoint follows a
    // discontinuity when there is a signer.
    bool write_own(Record& rec, off_t at, std::uint64_t seq, const std::string& prev);

    // The writer process: loops until `stop` is non-zero. 1: return after
    // the current batch is synced (a restart; the next writer continues).
    // 2: write and sync everything in the ring first (httpd stops).
    void run(const std::atomic<int>& stop);

    // For tests and the host.
    std::uint64_t position() const { return pos_; }

private:
    struct Item {
        SlotKind kind;
        bool durable;
        std::uint32_t entry;
        std::uint32_t line_len;
        std::int64_t promised;  // disk credit the record's producer took for it
        std::uint64_t seq;
        unsigned char digest[32];
    };
    void stage_line(std::string_view f1, std::string_view f2);
    void stage_checkpoint(std::int64_t now_us);
    bool checkpoint_due(std::int64_t now_us) const;
    void publish_head(std::uint64_t ring_pos);
    // At start: finishes a batch an earlier writer wrote but did not finish,
    // and takes over the begin records it wrote but did not sync.
    void resume();
    void finish_items();
    void fail_batch(int err, std::uint64_t new_pos);
    void wake(std::atomic<std::uint32_t>& gen, std::atomic<std::uint32_t>& waiters);
    bool everyone_waiting() const;
    void idle_wait(std::int64_t max_ns);
    void digest(std::string_view line, unsigned char out[32]);

    Ring ring_;
    RingControl& c_;
    ChainState& chain_;
    int fd_;
    bool regular_ = true;
    bool deleted_reported_ = false;  // the alert for a deleted log, once per writer
    WriterConfig cfg_;
    WriterEvents& events_;
    ossl::UniquePtr<EVP_MD> md_;
    ossl::UniquePtr<EVP_MD_CTX> ctx_;

    // The head as this writer knows it (published to chain_ after each write).
    FileHead head_;
    std::string last_line_;  // the bytes of head_'s line, once this writer wrote it
    std::uint64_t cp_seq_ = 0;
    std::int64_t cp_time_us_ = 0;
    std::uint64_t pos_ = 0;
    HoleWatch watch_;
    std::string buf_;
    std::vector<Item> items_;
    std::vector<std::uint32_t> unsynced_entries_;
    std::int64_t sync_due_ns_ = 0;
};

// Appends `{"v":1,"seq":N,` + fields + `,"prev":"<prev>"}` + "\n" to `out`:
// assemble_line(seq, fields, prev) + "\n", without a temporary string.
void append_line(std::string& out, std::uint64_t seq, std::string_view f1, std::string_view f2, std::string_view prev);

}  // namespace cmi::audit
