#include "mod_cmi_audit/audit_log.hpp"

#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_verify.hpp"
#include "libcmi/sha256.hpp"
#include "mod_cmi_audit/audit_config.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <climits>
#include <cstdlib>
#include <cstdint>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace cmi::audit {
namespace {


std::string errno_text(int err) {
    char buf[256];
    return std::string(apr_strerror(APR_FROM_OS_ERROR(err), buf, sizeof buf));
}

std::string apr_text(apr_status_t rv) {
    char buf[256];
    return std::string(apr_strerror(rv, buf, sizeof buf));
}

// Writes all of `data` at the end of the file; returns 0 or an errno.
int write_all(int fd, const std::string& data, std::size_t& written) {
    written = 0;
    while (written < data.size()) {
        const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        written += static_cast<std::size_t>(n);
    }
    return 0;
}

}  // namespace

// In shared memory that lives as long as the httpd parent (retained across
// graceful restarts), so every generation of children appends to one chain.
struct AuditLog::Shared {
    apr_uint64_t magic;
    apr_uint64_t seq;   // 0 with has_head false: nothing known yet
    int has_head;
    char hash[65];
    dev_t dev;          // the file currently configured (after a rotation,
    ino_t ino;          // old children still hold the file before it)
    apr_off_t size;     // its size as of the head
    apr_off_t synced;   // its bytes known to be on stable storage
    apr_uint64_t checkpoint_seq;  // the last checkpoint record
    apr_time_t checkpoint_time;
    // Space kept for the end records still to come (see reserve_locked).
    apr_off_t reserved;       // the current file has blocks allocated up to here
    apr_uint64_t open_ops;    // begin records in it whose end is not written yet
    // The append lock: a process-shared, robust pthread mutex without
    // priority inheritance. APR's default global mutex here is a PI robust
    // mutex layered under a per-process thread mutex; under load every
    // contended unlock hands the lock to a sleeping waiter (a context switch
    // per record), which cut throughput to a third in bench/audit_overhead.
    // A plain robust futex lets a running thread take a free lock at once,
    // and the kernel still releases it when its holder dies (EOWNERDEAD).
    pthread_mutex_t append_lock;
    // Group commit (sync_to): at most one process runs fdatasync at a time,
    // the leader (its pid, 0: none); the others sleep on the futex word
    // sync_gen, which the leader bumps and wakes them all with, at once.
    // (A priority-inheritance mutex here handed the lock from waiter to
    // waiter, one kernel round trip each: a third of the CPU with Sync On.)
    std::int32_t sync_leader;
    std::uint32_t sync_gen;
    apr_off_t failed_upto;  // a failed fdatasync covered the bytes up to here
    apr_off_t wanted;       // end records left to the leader reach up to here
};

namespace {

constexpr apr_uint64_t kSharedMagic = 0x434d494155443037ULL;  // "CMIAUD07"
// Versioned with the layout of Shared: a module upgrade by graceful restart
// gets a new segment (its head comes from the file) instead of a stale one.
constexpr const char* kRetainedKey = "mod_cmi_audit:chain:CMIAUD07";

// What survives a restart of the configuration (not of the parent).
struct Retained {
    apr_shm_t* shm;
};

Retained& retained_state(server_rec* s) {
    if (auto* r = static_cast<Retained*>(ap_retained_data_get(kRetainedKey)); r && r->shm) return *r;
    auto* r = static_cast<Retained*>(ap_retained_data_create(kRetainedKey, sizeof(Retained)));
    apr_pool_t* pool = s->process->pool;  // the parent's lifetime, not a generation's
    apr_status_t rv;
    rv = apr_shm_create(&r->shm, sizeof(AuditLog::Shared), nullptr, pool);
    if (rv != APR_SUCCESS) throw std::runtime_error("cannot create audit log shared memory: " + apr_text(rv));
    auto* sh = static_cast<AuditLog::Shared*>(apr_shm_baseaddr_get(r->shm));
    std::memset(sh, 0, sizeof(AuditLog::Shared));
    sh->magic = kSharedMagic;
    std::memcpy(sh->hash, kGenesisPrev.data(), 64);
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0 || pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
        pthread_mutex_init(&sh->append_lock, &attr) != 0)
        throw std::runtime_error("cannot create the audit log locks");
    pthread_mutexattr_destroy(&attr);
    return *r;
}

}  // namespace

// The mutex of this generation, then the file lock that also holds off the
// children of an older one.
class AuditLog::Lock {
public:
    // with_file: also the fcntl lock on the file (start-up: a writer of
    // another parent on the same file). The shared mutex, kept across
    // generations, already orders every writer of this parent.
    explicit Lock(AuditLog& log, bool with_file = false) : log_(log) {
        int rc = pthread_mutex_lock(&log_.shared_->append_lock);
        if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&log_.shared_->append_lock);  // resync repairs the file
        if (rc != 0) {
            error = "cannot take the audit log lock: " + errno_text(rc);
            return;
        }
        mutex_held_ = true;
        if (!log_.regular_ || !with_file) return;
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        while (fcntl(log_.fd_, F_SETLKW, &fl) != 0) {
            if (errno == EINTR) continue;
            error = "cannot lock the audit log file: " + errno_text(errno);
            return;
        }
        file_locked_ = true;
    }
    ~Lock() {
        if (file_locked_) {
            struct flock fl {};
            fl.l_type = F_UNLCK;
            fl.l_whence = SEEK_SET;
            fcntl(log_.fd_, F_SETLK, &fl);
        }
        if (mutex_held_) pthread_mutex_unlock(&log_.shared_->append_lock);
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    std::string error;

private:
    AuditLog& log_;
    bool mutex_held_ = false;
    bool file_locked_ = false;
};

AuditLog::AuditLog(apr_pool_t* pconf, server_rec* s, const char* path, const char* default_node)
    : server_(s), path_(apr_pstrdup(pconf, path)), default_node_(apr_pstrdup(pconf, default_node)),
      head_path_(std::string(path) + ".head"), parent_pid_(getpid()) {
    // Children run as another user: they use this descriptor, never the path.
    fd_ = ::open(path_, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) throw std::runtime_error(std::string("cannot open audit log ") + path_ + ": " + errno_text(errno));
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw std::runtime_error(std::string("cannot stat ") + path_ + ": " + errno_text(errno));
    regular_ = S_ISREG(st.st_mode);
    dev_ = st.st_dev;
    ino_ = st.st_ino;

    Retained& kept = retained_state(s);
    shm_ = kept.shm;
    shared_ = static_cast<Shared*>(apr_shm_baseaddr_get(shm_));
    if (shared_->magic != kSharedMagic) throw std::runtime_error("audit log shared memory is not ours");

    // Old children of a graceful restart may be appending right now: read
    // and repair the tail only while holding the lock they write under.
    Lock lock(*this, true);
    if (!lock.error.empty()) throw std::runtime_error(std::string("audit log ") + path_ + ": " + lock.error);
    if (fstat(fd_, &st) != 0) throw std::runtime_error(std::string("cannot stat ") + path_ + ": " + errno_text(errno));
    LogTail tail;
    try {
        tail = read_tail(fd_);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("cannot read audit log ") + path_ + ": " + e.what());
    }
    if (!tail.error.empty())
        throw std::runtime_error(std::string("audit log ") + path_ + ": " + tail.error +
                                 "; check it with cmi-audit verify and move it aside");
    // A file with records is the truth. An empty one (new, or just rotated)
    // continues the head this parent already knows, if any, or else the one
    // the last parent saved in <log>.head (a rotation while httpd was stopped).
    if (tail.head.seq == 0 && tail.valid_size == 0 && !shared_->has_head && regular_) {
        if (const auto saved = read_head_file()) {
            tail.head = *saved;
            ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_NOTICE, 0, s,
                          "audit log %s is empty: it continues the chain saved in %s (seq %" APR_UINT64_T_FMT ")",
                          path_, head_path_.c_str(), static_cast<apr_uint64_t>(saved->seq));
        }
    }
    if (tail.head.seq > 0 || !shared_->has_head) {
        shared_->seq = tail.head.seq;
        std::memcpy(shared_->hash, tail.head.hash.c_str(), 65);
        shared_->has_head = 1;
    }
    shared_->size = tail.valid_size;
    shared_->synced = 0;
    shared_->failed_upto = 0;
    shared_->wanted = 0;
    if (shared_->dev != dev_ || shared_->ino != ino_) {  // a new file: nothing reserved in it yet
        shared_->reserved = 0;
        shared_->open_ops = 0;
    }
    shared_->dev = dev_;
    shared_->ino = ino_;

    if (tail.torn) {
        // An interrupted write left part of a line. Cut it off and say so in
        // the chain: the recovered record carries the size and hash of what was cut.
        const off_t torn_bytes = st.st_size - tail.valid_size;
        std::string fragment(static_cast<std::size_t>(torn_bytes), '\0');
        const ssize_t got = pread(fd_, fragment.data(), fragment.size(), tail.valid_size);
        if (got != static_cast<ssize_t>(fragment.size()) || ftruncate(fd_, tail.valid_size) != 0)
            throw std::runtime_error(std::string("cannot recover the torn last line of ") + path_ + ": " +
                                     errno_text(errno));
        Record rec = recovered_record(Record::Recovered{static_cast<std::uint64_t>(torn_bytes), sha256_hex(fragment)});
        Result res;
        write_locked(rec, res);
        if (res.ok() && fdatasync(fd_) != 0) res.error = "fdatasync failed: " + errno_text(errno);
        if (!res.ok()) throw std::runtime_error(std::string("audit log ") + path_ + ": " + res.error);
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_WARNING, 0, s,
                      "audit log %s ended with a torn record (%" APR_OFF_T_FMT
                      " bytes after seq %" APR_UINT64_T_FMT "); cut off and recorded as seq %" APR_UINT64_T_FMT
                      " (ev recovered)",
                      path_, static_cast<apr_off_t>(torn_bytes), static_cast<apr_uint64_t>(tail.head.seq),
                      static_cast<apr_uint64_t>(rec.seq));
    }
}

AuditLog::~AuditLog() {
    if (getpid() == parent_pid_) {
        try {
            save_head();
        } catch (...) {
        }
    }
    if (fd_ >= 0) ::close(fd_);
}

std::optional<ChainHead> AuditLog::read_head_file() const {
    const int fd = ::open(head_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error("cannot open " + head_path_ + ": " + errno_text(errno));
    }
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    const int err = errno;
    ::close(fd);
    if (n < 0) throw std::runtime_error("cannot read " + head_path_ + ": " + errno_text(err));
    auto head = parse_head_file(std::string_view(buf, static_cast<std::size_t>(n)));
    if (!head)
        throw std::runtime_error(head_path_ + " is not a saved chain head; remove it to start a new chain at seq 1");
    return head;
}

void AuditLog::save_head() {
    if (!regular_ || getpid() != parent_pid_) return;
    ChainHead head;
    {
        Lock lock(*this);
        if (!lock.error.empty() || !shared_->has_head || shared_->seq == 0) return;
        head.seq = shared_->seq;
        head.hash.assign(shared_->hash, 64);
    }
    if (head.seq == saved_seq_) return;
    // A new file of a name nobody could know in advance (mkostemp: O_CREAT |
    // O_EXCL, which never follows a symlink): we run as root, and a child
    // that can write in the log directory could plant <log>.head.tmp -> any
    // file. rename() then replaces the name <log>.head, never what it points to.
    std::string tmp = head_path_ + ".XXXXXX";
    const std::string text = format_head_file(head);
    const int fd = mkostemp(tmp.data(), O_CLOEXEC);
    std::size_t written = 0;
    int err = fd < 0 ? errno : 0;
    if (!err && fchmod(fd, 0640) != 0) err = errno;
    if (!err) err = write_all(fd, text, written);
    if (!err && fdatasync(fd) != 0) err = errno;
    if (fd >= 0) ::close(fd);
    if (!err && ::rename(tmp.c_str(), head_path_.c_str()) != 0) err = errno;
    if (err && fd >= 0) ::unlink(tmp.c_str());
    if (err) {
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_WARNING, 0, server_,
                      "audit log %s: cannot save the chain head to %s: %s (a log rotated while httpd is "
                      "stopped would start a new chain)",
                      path_, head_path_.c_str(), errno_text(err).c_str());
        return;
    }
    saved_seq_ = head.seq;
}

bool AuditLog::current_locked() const { return shared_->dev == dev_ && shared_->ino == ino_; }

std::optional<Record::Recovered> AuditLog::resync_locked() {
    // A child of an older generation still writing to a rotated file keeps
    // the one chain going there; only the current file can be re-read.
    if (!regular_ || !current_locked()) return std::nullopt;
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
    if (st.st_size == shared_->size) return std::nullopt;
    // Someone appended without updating the head (a child killed between its
    // write and the update, an older generation, another process): the file
    // is the truth.
    const LogTail tail = read_tail(fd_);
    if (!tail.error.empty()) throw std::runtime_error("the log changed under us: " + tail.error);
    std::optional<Record::Recovered> cut;
    if (tail.torn) {
        std::string fragment(static_cast<std::size_t>(st.st_size - tail.valid_size), '\0');
        if (pread(fd_, fragment.data(), fragment.size(), tail.valid_size) != static_cast<ssize_t>(fragment.size()) ||
            ftruncate(fd_, tail.valid_size) != 0)
            throw std::system_error(errno, std::generic_category(), "cutting off a torn record");
        cut = Record::Recovered{fragment.size(), sha256_hex(fragment)};
    }
    shared_->seq = tail.head.seq;
    shared_->size = tail.valid_size;
    std::memcpy(shared_->hash, tail.head.hash.c_str(), 65);
    return cut;
}

Record AuditLog::recovered_record(const Record::Recovered& what) const {
    Record rec;
    rec.node = default_node_;
    rec.ev = "recovered";
    rec.time_us = apr_time_now();
    rec.recovered = what;
    return rec;
}

AuditLog::Mark AuditLog::mark_locked() const {
    Mark m{shared_->seq, shared_->open_ops, shared_->checkpoint_seq, shared_->checkpoint_time, shared_->has_head, {}};
    std::memcpy(m.hash, shared_->hash, sizeof m.hash);
    return m;
}

void AuditLog::rollback_locked(const Mark& m) {
    shared_->seq = m.seq;
    shared_->open_ops = m.open_ops;
    shared_->checkpoint_seq = m.checkpoint_seq;
    shared_->checkpoint_time = m.checkpoint_time;
    shared_->has_head = m.has_head;
    std::memcpy(shared_->hash, m.hash, sizeof m.hash);
}

apr_off_t AuditLog::base_locked() const {
    // The current file is as long as the shared head says (resync_locked made
    // sure); only a rotated one needs fstat, for cutting back a failed write.
    if (!regular_) return 0;
    if (current_locked()) return shared_->size;
    struct stat st {};
    return fstat(fd_, &st) == 0 ? st.st_size : -1;
}

void AuditLog::write_batch(Pending* batch) noexcept {
    auto fail_all = [batch](const char* why, const std::string& detail = std::string()) noexcept {
        for (Pending* p = batch; p; p = p->next) {
            try {
                p->res.error = why + detail;
            } catch (...) {
                p->res.error = "out of memory";  // short enough not to allocate
            }
        }
    };
    try {
        Lock lock(*this);
        if (!lock.error.empty()) return fail_all("", lock.error);
        std::optional<Record::Recovered> cut;
        try {
            cut = resync_locked();
        } catch (const std::exception& e) {
            return fail_all("cannot read the head of the chain: ", e.what());
        }
        if (cut) {
            Record recovered = recovered_record(*cut);
            Result rr;
            write_locked(recovered, rr);
            if (!rr.ok()) return fail_all("cannot record the recovery of a torn record: ", rr.error);
            ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_WARNING, 0, server_,
                          "audit log %s ended with a torn record (%" APR_UINT64_T_FMT
                          " bytes; a writer died mid-write?); cut off and recorded as seq %" APR_UINT64_T_FMT
                          " (ev recovered)",
                          path_, static_cast<apr_uint64_t>(cut->bytes), static_cast<apr_uint64_t>(recovered.seq));
        }
        const apr_off_t base = base_locked();
        if (base < 0) return fail_all("cannot stat the log: ", errno_text(errno));
        const Mark mark = mark_locked();
        std::string lines;
        lines.reserve(2048);
        try {
            for (Pending* p = batch; p; p = p->next) {
                p->end = stage_locked(*p->rec, p->fields, base, lines, p->res);
                if (p->end == 0) continue;
                Result cp;
                const apr_off_t cp_end = checkpoint_locked(base, lines, cp);
                if (!cp.ok())
                    p->res.error = "written as seq " + std::to_string(p->rec->seq) +
                                   ", but the checkpoint after it failed: " + cp.error;
                if (cp_end != 0) p->end = cp_end;
            }
        } catch (...) {
            rollback_locked(mark);  // staged, not written: the chain does not move
            throw;
        }
        if (lines.empty()) return;
        const std::string err = flush_locked(lines, base, mark);
        for (Pending* p = batch; p; p = p->next) {
            if (p->end == 0) continue;
            if (err.empty()) {
                p->res.written = true;
            } else {
                p->res.error = err;
                p->end = 0;
            }
        }
    } catch (const std::exception& e) {
        // Nothing was written (a failure after the write is not possible):
        // the head is as the lock's holder left it.
        fail_all("cannot write the batch: ", e.what());
    } catch (...) {
        fail_all("cannot write the batch");
    }
}

apr_off_t AuditLog::stage_locked(Record& rec, const std::string& fields, apr_off_t base, std::string& batch,
                                 Result& res) {
    rec.seq = shared_->seq + 1;
    rec.prev.assign(shared_->hash, 64);
    const std::size_t start = batch.size();
    batch += assemble_line(rec.seq, fields, rec.prev);
    batch += '\n';
    const std::string_view line(batch.data() + start, batch.size() - start);
    const bool opens = rec.ev == "begin";
    if (opens) {
        res.error = reserve_locked(base + static_cast<apr_off_t>(start), static_cast<apr_off_t>(line.size()));
        if (!res.error.empty()) {
            batch.resize(start);
            return 0;
        }
    }
    res.seq = rec.seq;
    res.line_hash = line_hash(line);
    std::memcpy(shared_->hash, res.line_hash.c_str(), 65);
    shared_->seq = rec.seq;
    shared_->has_head = 1;
    if (!current_locked()) return -1;  // a rotated file: no group commit there
    if (opens) ++shared_->open_ops;
    else if (rec.ev == "end" && shared_->open_ops > 0) --shared_->open_ops;
    return base + static_cast<apr_off_t>(batch.size());
}

std::string AuditLog::flush_locked(const std::string& batch, apr_off_t base, const Mark& mark) {
    std::size_t written = 0;
    if (const int err = write_all(fd_, batch, written)) {
        // Never leave part of a line for the next record to be glued to.
        const bool cut_failed = written > 0 && regular_ && ftruncate(fd_, base) != 0;
        const int cut_err = errno;
        rollback_locked(mark);
        std::string what = "write failed: " + errno_text(err);
        if (cut_failed) what += "; and cutting off the partial line failed: " + errno_text(cut_err);
        return what;
    }
    if (current_locked())
        __atomic_store_n(&shared_->size, base + static_cast<apr_off_t>(batch.size()), __ATOMIC_RELEASE);
    return std::string();
}

template <class Stage>
apr_off_t AuditLog::write_staged_locked(Result& res, Stage&& stage) {
    const apr_off_t base = base_locked();
    if (base < 0) {
        res.error = "cannot stat the log: " + errno_text(errno);
        return 0;
    }
    const Mark mark = mark_locked();
    std::string lines;
    const apr_off_t end = stage(base, lines, res);
    if (end == 0) return 0;
    if (std::string err = flush_locked(lines, base, mark); !err.empty()) {
        res.error = std::move(err);
        return 0;
    }
    res.written = true;
    return end;
}

apr_off_t AuditLog::write_locked(Record& rec, Result& res) {
    return write_staged_locked(res, [this, &rec](apr_off_t base, std::string& lines, Result& r) {
        return stage_locked(rec, serialize_fields(rec), base, lines, r);
    });
}

// A begin record is only written when the file also has room for the end
// records of every operation still open (and a checkpoint): on a filling disk
// an operation is refused at its begin (503 with FailMode closed) rather than
// run and then left without its end. The room is allocated past the end of
// the file (fallocate, FALLOC_FL_KEEP_SIZE) in steps of kReserveStep, so
// most begins cost no system call. File systems without fallocate, and
// devices, get no reservation.
std::string AuditLog::reserve_locked(apr_off_t at, apr_off_t line_size) {
    if (!regular_ || !current_locked() || !reservable_) return std::string();
    const apr_off_t need = at + line_size +
                           static_cast<apr_off_t>(shared_->open_ops + 1) * kEndReserve + kCheckpointReserve;
    if (need <= shared_->reserved) return std::string();
    for (const apr_off_t upto : {need + kReserveStep, need}) {
        if (fallocate(fd_, FALLOC_FL_KEEP_SIZE, at, upto - at) == 0) {
            shared_->reserved = upto;
            return std::string();
        }
        if (errno == EOPNOTSUPP || errno == ENOSYS) {
            reservable_ = false;
            return std::string();
        }
        if (errno != ENOSPC && errno != EDQUOT && errno != EFBIG) break;
    }
    return "no room for this record and the end records of the " + std::to_string(shared_->open_ops) +
           " operations still open: " + errno_text(errno);
}

std::string AuditLog::idle_checkpoint(bool sync) {
    if (!signer_ || getpid() != parent_pid_) return std::string();
    Result res;
    apr_off_t end = 0;
    {
        Lock lock(*this);
        if (!lock.error.empty()) return lock.error;
        if (!current_locked()) return std::string();
        if (shared_->seq == 0 || shared_->seq == shared_->checkpoint_seq) return std::string();  // all covered
        if (apr_time_now() - shared_->checkpoint_time < checkpoint_us_) return std::string();
        // A writer killed mid-write: leave the repair (and its recovered
        // record) to the next request's append.
        struct stat st {};
        if (regular_ && (fstat(fd_, &st) != 0 || st.st_size != shared_->size)) return std::string();
        end = write_staged_locked(res, [this](apr_off_t base, std::string& lines, Result& r) {
            return checkpoint_locked(base, lines, r);
        });
    }
    if (!res.ok()) return "cannot write an idle checkpoint: " + res.error;
    if (end != 0 && sync) {
        const std::string err = sync_to(end);
        if (!err.empty()) return "idle checkpoint written but not made durable: " + err;
    }
    return std::string();
}

apr_off_t AuditLog::checkpoint_locked(apr_off_t base, std::string& batch, Result& res) {
    if (!signer_) return 0;
    const apr_time_t now = apr_time_now();
    if (shared_->seq - shared_->checkpoint_seq < checkpoint_records_ &&
        now - shared_->checkpoint_time < checkpoint_us_)
        return 0;
    Record cp;
    cp.node = default_node_;
    cp.ev = "checkpoint";
    cp.time_us = now;
    const std::uint64_t seq = shared_->seq + 1;
    const std::string prev(shared_->hash, 64);
    const auto sig = signer_->sign(checkpoint_message(seq, prev));
    cp.checkpoint = Record::Checkpoint{signer_->algorithm(), signer_->keyid(), base64(sig.data(), sig.size())};
    const apr_off_t end = stage_locked(cp, serialize_fields(cp), base, batch, res);
    if (end != 0) {  // a failed flush rolls these back with the rest of the head
        shared_->checkpoint_seq = cp.seq;
        shared_->checkpoint_time = now;
    }
    return end;
}

namespace {

long futex(std::uint32_t* word, int op, std::uint32_t val, const struct timespec* timeout) {
    return syscall(SYS_futex, word, op, val, timeout, nullptr, 0);
}

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

int AuditLog::sync_round(int& err) {
    // Everything written so far, which includes the leader's own record.
    const apr_off_t target = __atomic_load_n(&shared_->size, __ATOMIC_ACQUIRE);
    const int rc = fdatasync(fd_);
    err = errno;
    if (rc == 0) {
        if (target > __atomic_load_n(&shared_->synced, __ATOMIC_ACQUIRE))
            __atomic_store_n(&shared_->synced, target, __ATOMIC_RELEASE);
    } else if (target > __atomic_load_n(&shared_->failed_upto, __ATOMIC_ACQUIRE)) {
        // Never retried: after a failed fdatasync a second one can succeed
        // although the data is lost.
        __atomic_store_n(&shared_->failed_upto, target, __ATOMIC_RELEASE);
    }
    return rc;
}

bool AuditLog::left_to_leader() const {
    const apr_off_t wanted = __atomic_load_n(&shared_->wanted, __ATOMIC_SEQ_CST);
    return wanted > __atomic_load_n(&shared_->synced, __ATOMIC_SEQ_CST) &&
           wanted > __atomic_load_n(&shared_->failed_upto, __ATOMIC_SEQ_CST);
}

void AuditLog::hand_over() {
    __atomic_store_n(&shared_->sync_leader, 0, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&shared_->sync_gen, 1, __ATOMIC_ACQ_REL);
    futex(&shared_->sync_gen, FUTEX_WAKE, INT32_MAX, nullptr);
}

int AuditLog::lead(int& err) {
    const int rc = sync_round(err);
    hand_over();
    // Records whose writers did not wait may have come during the round:
    // they saw us leading and left them to us. Looked for after handing over,
    // so one left just before the hand-over is not missed; someone who leads
    // by now covers them instead.
    const pid_t me = getpid();
    for (int round = 0; rc == 0 && round < kExtraRounds && left_to_leader(); ++round) {
        std::int32_t none = 0;
        if (!__atomic_compare_exchange_n(&shared_->sync_leader, &none, me, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
        int extra_err = 0;
        const int extra = sync_round(extra_err);
        hand_over();
        if (extra != 0) {
            ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, server_,
                          "audit log %s: fdatasync failed: %s; end records written up to byte %" APR_OFF_T_FMT
                          " may not be durable",
                          path_, errno_text(extra_err).c_str(), __atomic_load_n(&shared_->failed_upto, __ATOMIC_ACQUIRE));
            break;
        }
    }
    return rc;
}

std::string AuditLog::flush_left() {
    if (!left_to_leader()) return std::string();
    return sync_to(__atomic_load_n(&shared_->wanted, __ATOMIC_SEQ_CST), true);
}

std::string AuditLog::sync_to(apr_off_t end, bool wait) {
    if (end < 0) return fdatasync(fd_) == 0 ? std::string() : "fdatasync failed: " + errno_text(errno);
    if (!wait) {  // leave it to the leader: raise `wanted` before looking for one
        apr_off_t w = __atomic_load_n(&shared_->wanted, __ATOMIC_SEQ_CST);
        while (w < end && !__atomic_compare_exchange_n(&shared_->wanted, &w, end, false, __ATOMIC_SEQ_CST,
                                                       __ATOMIC_SEQ_CST)) {
        }
    }
    const pid_t me = getpid();
    for (;;) {
        if (__atomic_load_n(&shared_->synced, __ATOMIC_ACQUIRE) >= end) return std::string();
        if (__atomic_load_n(&shared_->failed_upto, __ATOMIC_ACQUIRE) >= end)
            return "fdatasync failed (in the group commit that covered this record)";
        const std::uint32_t gen = __atomic_load_n(&shared_->sync_gen, __ATOMIC_ACQUIRE);
        std::int32_t leader = 0;
        if (__atomic_compare_exchange_n(&shared_->sync_leader, &leader, me, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            int err = 0;
            const int rc = lead(err);
            // Our own fdatasync ran after our write: our record is durable,
            // even if `synced` says less (a rotation reset it meanwhile).
            return rc == 0 ? std::string() : "fdatasync failed: " + errno_text(err);
        }
        if (!wait) return std::string();  // the leader covers it (see above)
        if (leader != me && !alive(leader)) {  // killed while syncing: take over
            __atomic_compare_exchange_n(&shared_->sync_leader, &leader, 0, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
            continue;
        }
        // Sleep until the leader's sync is done (or 50 ms, to look again).
        const struct timespec wait_time {0, 50 * 1000 * 1000};
        futex(&shared_->sync_gen, FUTEX_WAIT, gen, &wait_time);
    }
}

}  // namespace cmi::audit
