#include "libcmi/audit_writer.hpp"

#include "libcmi/log_id.hpp"

#include "libcmi/ascii_scan.hpp"
#include "libcmi/hex_pairs.hpp"

#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_verify.hpp"
#include "libcmi/futex.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace cmi::audit {
namespace {

constexpr std::size_t kMaxBatch = 1 << 20;
constexpr std::int64_t kIdleNs = 500000000;              // an idle writer looks around this often
constexpr std::int64_t kCreditLow = 512 * 1024;          // allocate more file space below this
constexpr std::int64_t kCreditSteps[] = {4 << 20, 1 << 20, 256 << 10, 64 << 10, 16 << 10, 8 << 10};
constexpr std::int64_t kFailingNs = 1000000000;          // Sync Off begins refused after a failed write

std::int64_t wall_us() {
    struct timeval tv {};
    gettimeofday(&tv, nullptr);
    return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

std::string errno_text(int err) { return std::strerror(err); }

int pwrite_all(int fd, std::string_view data, off_t at, std::size_t& written) {
    written = 0;
    while (written < data.size()) {
        const ssize_t n = pwrite(fd, data.data() + written, data.size() - written, at + static_cast<off_t>(written));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        written += static_cast<std::size_t>(n);
    }
    return 0;
}

// Records are printable ASCII by construction (audit_record.cpp); the ring is
// shared with every child, so the writer checks before a line enters the log.
bool printable(std::string_view s) { return ascii_run<false>(s.data(), s.size()) == s.size(); }

// Lower-case hex of a digest into `out` (64 characters), reusing its buffer.
void hex_into(std::string& out, const unsigned char d[32]) {
    out.resize(64);
    char* p = out.data();
    for (int i = 0; i < 32; ++i) put_hex_pair(p + 2 * i, d[i]);
}

}  // namespace

void append_line(std::string& out, std::uint64_t seq, std::string_view f1, std::string_view f2, std::string_view prev) {
    char num[24];
    const auto r = std::to_chars(num, num + sizeof num, seq);
    out.append("{\"v\":1,\"seq\":", 13);
    out.append(num, static_cast<std::size_t>(r.ptr - num));
    out.push_back(',');
    out.append(f1);
    out.append(f2);
    out.append(",\"prev\":\"", 9);
    out.append(prev);
    out.append("\"}\n", 3);
}

void init_chain_state(ChainState& s) {
    std::memset(static_cast<void*>(&s), 0, sizeof s);
    std::memcpy(s.hash, kGenesisPrev.data(), 64);
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0 || pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
        pthread_mutex_init(&s.writer_lock, &attr) != 0)
        throw std::runtime_error("cannot create the audit writer lock");
    pthread_mutexattr_destroy(&attr);
}

FileHead read_head(const ChainState& s) {
    FileHead h;
    for (;;) {
        const std::uint32_t v1 = s.version.load(std::memory_order_acquire);
        if (v1 & 1) continue;
        h.seq = s.seq;
        h.hash.assign(s.hash, 64);
        h.size = s.size;
        h.last_len = s.last_len;
        std::atomic_thread_fence(std::memory_order_acquire);
        if (s.version.load(std::memory_order_relaxed) == v1) return h;
    }
}

LogWriter::LogWriter(Ring ring, ChainState& chain, int fd, WriterConfig cfg, WriterEvents& events)
    : ring_(ring), c_(ring.control()), chain_(chain), fd_(fd), cfg_(std::move(cfg)), events_(events) {
    struct stat st {};
    regular_ = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    md_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));  // once: an implicit fetch per digest costs more than the digest
    ctx_.reset(EVP_MD_CTX_new());
    if (!md_ || !ctx_) throw std::runtime_error("SHA-256 is not available");
    head_ = read_head(chain_);
    cp_seq_ = chain_.checkpoint_seq;
    cp_time_us_ = chain_.checkpoint_time_us;  // 0 in a new chain state: a checkpoint soon after the first records
    pos_ = c_.consumed.load(std::memory_order_acquire);
    buf_.reserve(kMaxBatch + 64 * 1024);
    resume();
}

void LogWriter::resume() {
    if (chain_.inflight_end.load(std::memory_order_acquire) != 0) {
        FileHead ph{chain_.pend_seq, std::string(chain_.pend_hash, 64), chain_.inflight_end.load(),
                    chain_.pend_last_len};
        const bool published = head_.seq == ph.seq && head_.hash == ph.hash && head_.size == ph.size;
        bool complete = published || !regular_;
        if (!complete && ph.last_len > 0 && static_cast<off_t>(ph.last_len) <= ph.size) {
            std::string line(ph.last_len, '\0');
            struct stat st {};
            complete = fstat(fd_, &st) == 0 && st.st_size >= ph.size &&
                       pread(fd_, line.data(), line.size(), ph.size - ph.last_len) == static_cast<ssize_t>(line.size()) &&
                       line_hash(line) == ph.hash;
        }
        if (complete) {  // the whole batch is in the file: finish it as its writer would have
            if (!published) {
                head_ = ph;
                publish_head(chain_.pend_ring_pos);
            }
            ring_.walk(pos_, chain_.pend_ring_pos, [this](const SlotView& v) {
                if (v.kind != SlotKind::begin || !v.entry) return;
                Entry& e = ring_.entry(v.entry - 1);
                // Only entries still waiting for this batch (seq set before the write);
                // the dead writer may have finished, and a producer reused, others.
                if (e.state.load() != kEntryQueued || e.seq == 0) return;
                if (v.durable) {
                    ring_.set_entry(v.entry - 1, kEntryWritten);
                } else {
                    ring_.finish_entry(v.entry - 1, kEntryWritten);
                }
            });
            ring_.release_to(chain_.pend_ring_pos);
            pos_ = chain_.pend_ring_pos;
            chain_.inflight_end.store(0);
        }  // else: a write cut short, left to check_file (cut off, recorded, written again)
    }
    // Entries the dead writer had finished but not let go of; begin records
    // written (and published) but not yet synced when it died.
    ring_.release_finished_entries();
    for (std::uint32_t i = 0; i < ring_.entry_count(); ++i) {
        const Entry& e = ring_.entry(i);
        if (e.state.load(std::memory_order_acquire) == kEntryWritten && e.wants_sync.load()) unsynced_entries_.push_back(i);
    }
}

void LogWriter::digest(std::string_view line, unsigned char out[32]) {
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx_.get(), line.data(), line.size()) != 1 || EVP_DigestFinal_ex(ctx_.get(), out, &n) != 1 ||
        n != 32)
        throw std::runtime_error("SHA-256 failed");
}

void LogWriter::publish_head(std::uint64_t ring_pos) {
    chain_.version.fetch_add(1, std::memory_order_acq_rel);  // odd: changing
    chain_.ring_pos = ring_pos;
    chain_.seq = head_.seq;
    std::memcpy(chain_.hash, head_.hash.data(), 64);
    chain_.hash[64] = '\0';
    chain_.size = head_.size;
    chain_.last_len = head_.last_len;
    chain_.checkpoint_seq = cp_seq_;
    chain_.checkpoint_time_us = cp_time_us_;
    chain_.version.fetch_add(1, std::memory_order_release);
}

void LogWriter::wake(std::atomic<std::uint32_t>& gen, std::atomic<std::uint32_t>& waiters) {
    gen.fetch_add(1, std::memory_order_seq_cst);
    if (waiters.load(std::memory_order_seq_cst)) futex_wake(gen);
}

// --- the file -----------------------------------------------------------------------

bool LogWriter::check_file() {
    if (!regular_) return true;
    TailCheck t;
    try {
        t = check_tail(fd_, head_, chain_.inflight_base.load() == head_.size ? chain_.inflight_end.load() : 0,
                       last_line_.size() == head_.last_len && head_.last_len ? &last_line_ : nullptr);
    } catch (const std::exception& e) {
        events_.message(3, CMILOGNO(40101), std::string("cannot look at the log: ") + e.what());
        return false;
    }
    if (t.kind == TailCheck::deleted) {
        // Records written now would be gone when the file is closed: keep them
        // queued (requests wait, then fail closed) until a graceful restart
        // opens a new file, which continues the chain with them.
        if (!deleted_reported_)
            events_.message(1, CMILOGNO(40111),
                            "the log file was deleted (or replaced, by a rename over it) while httpd runs (the chain it holds ends with seq " +
                                std::to_string(head_.seq) + "): nothing more is written to it; operations are "
                                "refused (audit-unavailable) until a graceful restart opens a new file, which "
                                "continues the chain with every record queued");
        deleted_reported_ = true;
        return false;
    }
    chain_.inflight_base.store(0);
    chain_.inflight_end.store(0);
    if (t.kind == TailCheck::same) return true;
    const std::int64_t now = wall_us();
    if (t.kind == TailCheck::torn) {
        // A write cut short (this writer's predecessor died in it, or a crash):
        // the bytes before it are still our chain, so cut it off and say so.
        if (ftruncate(fd_, head_.size) != 0) {
            events_.message(3, CMILOGNO(40102), "cannot cut off a torn write: " + errno_text(errno));
            return false;
        }
        Record rec = recovered_record(cfg_.node, now, t.cut);
        if (!write_own(rec, head_.size, head_.seq + 1, head_.hash)) return false;
        events_.message(4, CMILOGNO(40103),
                        "the log ended with a torn write (" + std::to_string(t.cut.size()) + " bytes after seq " +
                            std::to_string(rec.seq - 1) + "; a writer died mid-write?); cut off and recorded as seq " +
                            std::to_string(rec.seq) + " (ev recovered)");
        return true;
    }
    // Someone else changed the file: never adopt it. The truth is our head;
    // the record goes after whatever is there now, its prev naming our head,
    // so the chain visibly breaks at it. A last partial line is cut (hashed).
    off_t at = t.file_size;
    std::string cut_note;
    if (at > 0) {
        char last = '\n';
        if (pread(fd_, &last, 1, at - 1) == 1 && last != '\n') {
            const LogTail tail = read_tail(fd_);
            std::string cut(static_cast<std::size_t>(at - tail.valid_size), '\0');
            if (pread(fd_, cut.data(), cut.size(), tail.valid_size) == static_cast<ssize_t>(cut.size()) &&
                ftruncate(fd_, tail.valid_size) == 0) {
                cut_note = "; a last partial line of " + std::to_string(cut.size()) + " bytes (sha256 " +
                           sha256_hex(cut) + ") was cut off";
                at = tail.valid_size;
            }
        }
    }
    const ChainHead expected{head_.seq, head_.hash};
    Record rec = discontinuity_record(cfg_.node, now, t.detail + cut_note, expected, t);
    if (!write_own(rec, at, head_.seq + 1, head_.hash)) return false;
    chain_.discontinuities.fetch_add(1);
    events_.message(1, CMILOGNO(40104),
                    "the log was changed behind the server (the chain it wrote ends with seq " +
                        std::to_string(expected.seq) + ", line sha256 " + expected.hash + "): " + t.detail +
                        cut_note + ". Not adopted: recorded as seq " + std::to_string(rec.seq) +
                        " (ev discontinuity, prev = the server's head), so cmi-audit verify fails there");
    return true;
}

bool LogWriter::write_own(Record& rec, off_t at, std::uint64_t seq, const std::string& prev) {
    rec.seq = seq;
    rec.prev = prev;
    std::string line = serialize(rec) + "\n";
    const bool cp_after = (rec.ev == "discontinuity" || rec.ev == "unconfirmed") && cfg_.signer;
    FileHead next{seq, line_hash(line), at + static_cast<off_t>(line.size()), static_cast<std::uint32_t>(line.size())};
    std::int64_t cp_time = cp_time_us_;
    if (cp_after) {
        Record cp;
        cp.node = cfg_.node;
        cp.ev = "checkpoint";
        cp.time_us = rec.time_us;
        cp.seq = seq + 1;
        cp.prev = next.hash;
        const auto sig = cfg_.signer->sign(checkpoint_message(cp.seq, cp.prev));
        cp.checkpoint = Record::Checkpoint{cfg_.signer->algorithm(), cfg_.signer->keyid(), base64(sig.data(), sig.size())};
        const std::string cp_line = serialize(cp) + "\n";
        line += cp_line;
        next = FileHead{cp.seq, line_hash(cp_line), at + static_cast<off_t>(line.size()),
                        static_cast<std::uint32_t>(cp_line.size())};
        cp_time = cp.time_us;
    }
    std::size_t written = 0;
    if (const int err = pwrite_all(fd_, line, at, written)) {
        if (written > 0 && regular_) (void)!ftruncate(fd_, at);
        events_.message(3, CMILOGNO(40105), "cannot write a " + rec.ev + " record: " + errno_text(err));
        return false;
    }
    if (cfg_.sync && fdatasync(fd_) != 0)
        events_.message(3, CMILOGNO(40106), "fdatasync after a " + rec.ev + " record failed: " + errno_text(errno));
    head_ = next;
    last_line_.assign(line, line.size() - next.last_len, next.last_len);
    if (cp_after) {
        cp_seq_ = next.seq;
        cp_time_us_ = cp_time;
    }
    c_.disk_credit.fetch_sub(static_cast<std::int64_t>(line.size()));
    publish_head(pos_);
    return true;
}

void LogWriter::top_up() {
    if (!regular_ || c_.disk_unlimited.load(std::memory_order_relaxed)) return;
    if (c_.disk_credit.load(std::memory_order_acquire) >= kCreditLow) return;
    const std::int64_t from = std::max<std::int64_t>(chain_.allocated, head_.size);
    for (const std::int64_t step : kCreditSteps) {
        if (fallocate(fd_, FALLOC_FL_KEEP_SIZE, from, step) == 0) {
            chain_.allocated = from + step;
            c_.disk_credit.fetch_add(step);
            c_.disk_full.store(0);
            wake(c_.space_gen, c_.waiters_space);
            return;
        }
        if (errno == EOPNOTSUPP || errno == ENOSYS) {
            c_.disk_unlimited.store(1);
            wake(c_.space_gen, c_.waiters_space);
            return;
        }
        if (errno != ENOSPC && errno != EDQUOT && errno != EFBIG) break;
    }
    if (!c_.disk_full.exchange(1))
        events_.message(3, CMILOGNO(40107),
                        "no room to allocate ahead in the log's file system (" + errno_text(errno) +
                            "): new operations are refused (503 audit-unavailable) until there is");
    wake(c_.space_gen, c_.waiters_space);  // those waiting for room: there is none
}

// --- batches -------------------------------------------------------------------------

bool LogWriter::checkpoint_due(std::int64_t now_us) const {
    if (!cfg_.signer || head_.seq == cp_seq_) return false;
    return head_.seq - cp_seq_ >= cfg_.checkpoint_records || now_us - cp_time_us_ >= cfg_.checkpoint_us;
}

void LogWriter::stage_checkpoint(std::int64_t now_us) {
    Record cp;
    cp.node = cfg_.node;
    cp.ev = "checkpoint";
    cp.time_us = now_us;
    const std::uint64_t seq = head_.seq + 1;
    const auto sig = cfg_.signer->sign(checkpoint_message(seq, head_.hash));
    cp.checkpoint = Record::Checkpoint{cfg_.signer->algorithm(), cfg_.signer->keyid(), base64(sig.data(), sig.size())};
    const std::string fields = serialize_fields(cp);
    stage_line(fields, std::string_view());
    items_.back().kind = static_cast<SlotKind>(0);  // the writer's own
    cp_seq_ = seq;
    cp_time_us_ = now_us;
}

void LogWriter::stage_line(std::string_view f1, std::string_view f2) {
    const std::size_t start = buf_.size();
    const std::uint64_t seq = head_.seq + 1;
    append_line(buf_, seq, f1, f2, head_.hash);
    Item it{};
    it.seq = seq;
    it.line_len = static_cast<std::uint32_t>(buf_.size() - start);
    digest(std::string_view(buf_.data() + start, it.line_len), it.digest);
    items_.push_back(it);
    head_.seq = seq;
    hex_into(head_.hash, it.digest);
    head_.last_len = it.line_len;
}

std::size_t LogWriter::write_ready() {
    const std::int64_t now_ns = monotonic_ns();
    const std::int64_t now_us = wall_us();
    buf_.clear();
    items_.clear();
    const FileHead before = head_;
    const std::uint64_t cp_seq_before = cp_seq_;
    const std::int64_t cp_time_before = cp_time_us_;
    std::uint64_t pos = pos_, lost = 0;
    std::size_t records = 0;
    while (buf_.size() < kMaxBatch) {
        const auto v = ring_.peek(pos, now_ns, watch_, lost);
        if (!v) break;
        const std::uint64_t next = v->pos + v->size;
        if (!printable(v->first) || !printable(v->second) || v->first.size() + v->second.size() == 0) {
            ++lost;
            if (v->entry) ring_.finish_entry(v->entry - 1, kEntryFailed);
            pos = next;
            continue;
        }
        stage_line(v->first, v->second);
        Item& it = items_.back();
        it.kind = v->kind;
        it.durable = v->durable;
        it.entry = v->entry;
        it.promised = v->kind == SlotKind::begin ? static_cast<std::int64_t>(v->first.size() + v->second.size()) + kLineOverhead
                                                 : v->reserve;
        ++records;
        pos = next;
        if (checkpoint_due(now_us)) stage_checkpoint(now_us);
    }
    if (lost) {
        c_.records_lost.fetch_add(lost);
        events_.message(3, CMILOGNO(40108),
                        std::to_string(lost) + " record(s) lost in the ring: the child that made them died "
                                               "before it had finished queueing them");
    }
    if (items_.empty()) {
        if (pos != pos_) {
            ring_.release_to(pos);
            pos_ = pos;
        }
        return 0;
    }
    // The write: at the end of the chain, never where the file happens to end.
    // Before it, the results (seq, line hash) go into the entries (not yet
    // visible: their state says so) and the head the batch leads to into the
    // shared state, so that a writer killed from here on leaves the next one
    // what it needs (resume()).
    const off_t at = regular_ ? before.size : 0;
    FileHead after = head_;
    after.size = at + static_cast<off_t>(buf_.size());
    for (const Item& it : items_) {
        if (it.kind != SlotKind::begin || !it.entry) continue;
        Entry& e = ring_.entry(it.entry - 1);
        e.seq = it.seq;
        std::memcpy(e.sha256, it.digest, 32);
    }
    chain_.pend_seq = after.seq;
    std::memcpy(chain_.pend_hash, after.hash.data(), 64);
    chain_.pend_hash[64] = '\0';
    chain_.pend_last_len = after.last_len;
    chain_.pend_ring_pos = pos;
    chain_.inflight_base.store(at);
    chain_.inflight_end.store(after.size, std::memory_order_release);
    std::size_t written = 0;
    if (const int err = pwrite_all(fd_, buf_, at, written)) {
        if (written > 0 && regular_) (void)!ftruncate(fd_, at);
        chain_.inflight_end.store(0);
        head_ = before;
        cp_seq_ = cp_seq_before;
        cp_time_us_ = cp_time_before;
        fail_batch(err, pos);
        return records;
    }
    head_ = after;
    last_line_.assign(buf_, buf_.size() - after.last_len, after.last_len);
    publish_head(pos);
    finish_items();
    std::int64_t refund = 0;
    std::uint32_t begins = 0, ends = 0;
    for (const Item& it : items_) {
        refund += it.promised - static_cast<std::int64_t>(it.line_len);
        if (it.kind == SlotKind::begin) ++begins;
        if (it.kind == SlotKind::end) ++ends;
    }
    c_.disk_credit.fetch_add(refund);
    ring_.release_to(pos);
    pos_ = pos;
    chain_.inflight_end.store(0, std::memory_order_release);
    if (begins) events_.written(SlotKind::begin, begins);
    if (ends) events_.written(SlotKind::end, ends);
    wake(c_.written_gen, c_.waiters_written);
    return records;
}

void LogWriter::finish_items() {
    for (const Item& it : items_) {
        if (it.kind != SlotKind::begin || !it.entry) continue;
        if (it.durable) {
            ring_.set_entry(it.entry - 1, kEntryWritten);
            unsynced_entries_.push_back(it.entry - 1);
        } else {
            ring_.finish_entry(it.entry - 1, kEntryWritten);
        }
    }
}

void LogWriter::fail_batch(int err, std::uint64_t new_pos) {
    const std::string why = "write failed: " + errno_text(err);
    std::uint32_t begins = 0, ends = 0;
    std::size_t off = 0;
    for (const Item& it : items_) {
        const std::string line(buf_.data() + off, it.line_len - 1);
        off += it.line_len;
        if (it.kind == SlotKind::begin) {
            ++begins;
            if (it.entry) {
                ring_.entry(it.entry - 1).error = err;
                ring_.entry(it.entry - 1).seq = 0;  // not in the chain
                ring_.finish_entry(it.entry - 1, kEntryFailed);
            }
            // Its waiter (Sync On) reports it; a Sync Off begin has no waiter.
            if (!it.durable) events_.not_recorded(it.kind, line, why);
            // The line's own room is given back; its end record's stays with the operation.
            c_.disk_credit.fetch_add(it.promised);
        } else if (it.kind == SlotKind::end) {
            ++ends;
            events_.not_recorded(it.kind, line, why);
            c_.disk_credit.fetch_add(it.promised);
        }
    }
    if (begins) events_.failed(SlotKind::begin, begins);
    if (ends) events_.failed(SlotKind::end, ends);
    // Records that cannot be written are reported, not kept: the ring must move on.
    ring_.release_to(new_pos);
    pos_ = new_pos;
    c_.failing_until_ns.store(monotonic_ns() + kFailingNs);
    wake(c_.written_gen, c_.waiters_written);
    wake(c_.durable_gen, c_.waiters_durable);
}

bool LogWriter::unsynced() const { return head_.size > chain_.synced || !unsynced_entries_.empty(); }

void LogWriter::sync() {
    const std::int64_t t0 = monotonic_ns();
    const std::int64_t upto = head_.size;
    const int rc = fdatasync(fd_);
    const int err = errno;
    const std::int64_t took = monotonic_ns() - t0;
    if (rc == 0) {
        chain_.synced = upto;
        for (const std::uint32_t e : unsynced_entries_) ring_.finish_entry(e, kEntryDurable);
        events_.synced(took, static_cast<std::uint32_t>(unsynced_entries_.size()));
    } else {
        // Never retried for these records: after a failed fdatasync a second
        // one can succeed although the data is lost.
        chain_.synced = upto;
        for (const std::uint32_t e : unsynced_entries_) {
            ring_.entry(e).error = err;
            ring_.finish_entry(e, kEntryFailed);
        }
        events_.message(3, CMILOGNO(40109),
                        "fdatasync failed: " + errno_text(err) + "; records up to byte " + std::to_string(upto) +
                            " may not be durable");
    }
    unsynced_entries_.clear();
    sync_due_ns_ = 0;
    wake(c_.durable_gen, c_.waiters_durable);
}

void LogWriter::checkpoint_if_idle() {
    const std::int64_t now_us = wall_us();
    if (!checkpoint_due(now_us) || !check_file()) return;
    buf_.clear();
    items_.clear();
    const FileHead before = head_;
    stage_checkpoint(now_us);
    std::size_t written = 0;
    const off_t at = regular_ ? before.size : 0;
    if (const int err = pwrite_all(fd_, buf_, at, written)) {
        if (written > 0 && regular_) (void)!ftruncate(fd_, at);
        head_ = before;
        cp_seq_ = chain_.checkpoint_seq;
        cp_time_us_ = chain_.checkpoint_time_us;
        events_.message(3, CMILOGNO(40110), "cannot write an idle checkpoint: " + errno_text(err));
        return;
    }
    head_.size = at + static_cast<off_t>(buf_.size());
    last_line_.assign(buf_, buf_.size() - head_.last_len, head_.last_len);
    c_.disk_credit.fetch_sub(static_cast<std::int64_t>(buf_.size()));
    publish_head(pos_);
}

// --- the loop ------------------------------------------------------------------------

bool LogWriter::everyone_waiting() const {
    const std::uint32_t waiting = c_.waiters_durable.load(std::memory_order_seq_cst);
    return waiting > 0 && waiting >= c_.open_ops.load(std::memory_order_seq_cst);
}

void LogWriter::idle_wait(std::int64_t max_ns) {
    const std::uint32_t gen = c_.writer_wake.load(std::memory_order_seq_cst);
    c_.writer_idle.store(1, std::memory_order_seq_cst);
    if (!ring_.pending(pos_)) futex_wait(c_.writer_wake, gen, max_ns);
    c_.writer_idle.store(0, std::memory_order_seq_cst);
}

void LogWriter::run(const std::atomic<int>& stop) {
    std::int64_t drain_deadline = 0;
    for (;;) {
        const int s = stop.load(std::memory_order_acquire);
        const std::int64_t now = monotonic_ns();
        c_.progress_ns.store(now, std::memory_order_release);
        if (s == 1) {
            if (unsynced()) sync();
            return;
        }
        if (s == 2 && !drain_deadline) drain_deadline = now + 3000000000LL;
        top_up();
        if (ring_.pending(pos_) && !check_file()) {
            idle_wait(100000000);
            continue;
        }
        const std::size_t n = write_ready();
        if (!unsynced_entries_.empty()) {
            if (!sync_due_ns_) sync_due_ns_ = now + cfg_.commit_delay_ns;
            if (now >= sync_due_ns_ || everyone_waiting() || s == 2) {
                sync();
                continue;
            }
            // Group commit: a little longer, for more begins to share the fdatasync.
            const std::uint32_t gen = c_.writer_wake.load(std::memory_order_seq_cst);
            c_.writer_delaying.store(1, std::memory_order_seq_cst);
            if (!everyone_waiting()) futex_wait(c_.writer_wake, gen, sync_due_ns_ - now);
            c_.writer_delaying.store(0, std::memory_order_seq_cst);
            continue;
        }
        if (n > 0) {
            if (!cfg_.sync && s == 0) {
                const std::uint32_t gen = c_.writer_wake.load(std::memory_order_seq_cst);
                futex_wait(c_.writer_wake, gen, cfg_.poll_ns);  // let a batch gather
            }
            continue;
        }
        if (cfg_.sync && unsynced()) {  // end records: durable a moment after the load stops
            sync();
            continue;
        }
        checkpoint_if_idle();
        if (s == 2) {
            if (!ring_.pending(pos_) || now > drain_deadline) {
                if (unsynced() || !cfg_.sync) sync();
                return;
            }
            idle_wait(10000000);
            continue;
        }
        // A reservation without a published record yet: look again soon.
        idle_wait(ring_.pending(pos_) ? 1000000 : kIdleNs);
    }
}

}  // namespace cmi::audit
