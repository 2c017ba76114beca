#include "mod_cmi_audit/audit_log.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/status_counters.hpp"
#include "libcmi/audit_group_commit.hpp"
#include "libcmi/futex.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/head_file.hpp"
#include "mod_cmi_audit/logger_process.hpp"
#include "mod_cmi_audit/writer_events.hpp"

#include <ap_mpm.h>
#include <apr_shm.h>

#include <cstdint>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cmi::audit {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string apr_text(apr_status_t rv) {
    char buf[256];
    return std::string(apr_strerror(rv, buf, sizeof buf));
}

// Versioned with the layout of the segment: a module upgrade by graceful
// restart gets a new one (its head comes from the file) instead of a stale one.
constexpr const char* kRetainedKey = "mod_cmi_audit:engine:v2";

struct Retained {
    apr_shm_t* shm;
    pid_t writer_pid;  // the previous generation's log writer, until post_config stops it
};

std::size_t chain_bytes() { return (sizeof(ChainState) + 63) / 64 * 64; }

// As many entries as requests can be in flight at once (every worker thread
// of every child the MPM may ever run, twice over for mod_http2's own
// workers and a generation finishing during a graceful restart), and a ring
// large enough for their end records and a backlog behind a slow disk.
RingLimits limits() {
    int daemons = 16, threads = 64;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    RingLimits l;
    const std::uint64_t workers = static_cast<std::uint64_t>(std::max(daemons, 1)) * std::max(threads, 1);
    l.entries = static_cast<std::uint32_t>(std::min<std::uint64_t>(2 * workers + 256, 1 << 20));
    l.processes = static_cast<std::uint32_t>(2 * std::max(daemons, 1) + 64);  // two generations, and some
    l.ring_bytes = std::max<std::size_t>(8u << 20, static_cast<std::size_t>(l.entries) * (kEndReserve + 1024));
    return l;
}

// The process id, cached (getpid() is a system call): set in the parent, in
// each child (child_init) and in the logger process.
pid_t g_pid = 0;
std::uint32_t g_process = ~0u;  // this process's slot in the ring (Ring::register_process)

}  // namespace


// --- the parent: start-up ----------------------------------------------------------

void AuditLog::set_process() {
    g_pid = getpid();
    g_process = ring_->register_process(g_pid);
    if (g_process == ~0u)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, server_,
                     CMILOGNO(40004) "audit log %s: no free process slot in the log's ring: this process refuses "
                                     "audited operations (503)",
                     path_);
}

AuditLog::AuditLog(apr_pool_t* pconf, server_rec* s, const ServerConfig& cfg, const char* path,
                   const char* default_node)
    : server_(s), pconf_(pconf), path_(apr_pstrdup(pconf, path)), default_node_(apr_pstrdup(pconf, default_node)),
      head_path_(std::string(path) + ".head"), parent_pid_(getpid()) {
    // The writer syncs if any server wants it; each begin says whether its thread waits.
    sync_ = false;
    for (server_rec* v = s; v; v = v->next) sync_ = sync_ || syncs(server_config(v));
    if (cfg.timeout_us) timeout_ns_ = static_cast<std::int64_t>(cfg.timeout_us) * 1000;
    signer_ = cfg.signer;
    if (signer_) verifier_ = httpd::pool_new<SignatureVerifier>(pconf, SignatureVerifier::from_pem(signer_->public_pem()));
    if (cfg.checkpoint_records) checkpoint_records_ = cfg.checkpoint_records;
    if (cfg.checkpoint_us) checkpoint_us_ = cfg.checkpoint_us;

    // Children never see the path: only the logger process writes, with this
    // descriptor (no O_APPEND: it writes at the end of the chain it knows).
    fd_ = ::open(path_, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) throw std::runtime_error(std::string("cannot open audit log ") + path_ + ": " + errno_text(errno));
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw std::runtime_error(std::string("cannot stat ") + path_ + ": " + errno_text(errno));
    regular_ = S_ISREG(st.st_mode);
    if (regular_) {  // one httpd per log: another instance writing it would break the chain
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd_, F_SETLK, &fl) != 0)
            throw std::runtime_error(std::string("audit log ") + path_ +
                                     " is in use by another process (another httpd with the same CMIAuditLog?)");
    }
    open_shared();
    // No writer may run while the file is checked: the previous generation's
    // wrote on while the configuration was read; it stops now (and this lock
    // makes sure).
    if (auto* kept = static_cast<Retained*>(ap_retained_data_get(kRetainedKey)); kept && kept->writer_pid > 0) {
        stop_writer_process(kept->writer_pid, false, s, path_);
        kept->writer_pid = 0;
    }
    struct timespec until {};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int rc = pthread_mutex_timedlock(&chain_->writer_lock, &until);
    if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&chain_->writer_lock);
    if (rc != 0)
        throw std::runtime_error(std::string("audit log ") + path_ + ": the previous log writer does not let go (" +
                                 errno_text(rc) + ")");
    try {
        start_up_checks(head_path_);
    } catch (...) {
        pthread_mutex_unlock(&chain_->writer_lock);
        throw;
    }
    pthread_mutex_unlock(&chain_->writer_lock);
    save_head(false);
    set_process();  // the parent produces records itself under -X (one process)
}

namespace {
// The chain state and the ring want cache-line alignment (their atomics are
// alignas(64)); apr_shm's base address is only 8-aligned (APR keeps the size
// in front of it), so the segment has a line more and starts at the next one.
constexpr std::size_t kShmAlign = 64;

char* aligned_base(apr_shm_t* shm) {
    const auto at = reinterpret_cast<std::uintptr_t>(apr_shm_baseaddr_get(shm));
    return reinterpret_cast<char*>((at + kShmAlign - 1) & ~std::uintptr_t{kShmAlign - 1});
}
}  // namespace

void AuditLog::open_shared() {
    auto* kept = static_cast<Retained*>(ap_retained_data_get(kRetainedKey));
    if (!kept || !kept->shm) {
        kept = static_cast<Retained*>(ap_retained_data_create(kRetainedKey, sizeof(Retained)));
        const RingLimits l = limits();
        const apr_status_t rv = apr_shm_create(&kept->shm, kShmAlign + chain_bytes() + Ring::bytes_needed(l), nullptr,
                                               server_->process->pool);  // the parent's lifetime
        if (rv != APR_SUCCESS) {
            kept->shm = nullptr;
            throw std::runtime_error("cannot create the audit log's shared memory: " + apr_text(rv));
        }
        // Anonymous shared memory comes zeroed: only the control parts are
        // laid out (touching the whole ring would commit all of it at once).
        char* base = aligned_base(kept->shm);
        init_chain_state(*reinterpret_cast<ChainState*>(base));
        Ring::create(base + chain_bytes(), l);
    }
    char* base = aligned_base(kept->shm);
    chain_ = reinterpret_cast<ChainState*>(base);
    ring_.emplace(Ring::attach(base + chain_bytes()));
}

WriterConfig AuditLog::writer_config() const {
    WriterConfig w;
    w.node = default_node_;
    w.sync = sync_;
    w.commit_delay_ns = 0;  // natural group commit: measured, a delay did not help (docs/performance.md)
    w.checkpoint_records = checkpoint_records_;
    w.checkpoint_us = checkpoint_us_;
    w.signer = signer_;
    return w;
}

void AuditLog::start_up_checks(const std::string& head_path) {
    RingControl& c = ring_->control();
    ModuleEvents events(server_, path_);
    struct stat st {};
    fstat(fd_, &st);
    const bool first = chain_->dev == 0 && chain_->ino == 0 && chain_->seq == 0 && chain_->size == 0;
    const bool same_file = chain_->dev == static_cast<std::uint64_t>(st.st_dev) &&
                           chain_->ino == static_cast<std::uint64_t>(st.st_ino);
    c.disk_unlimited.store(regular_ ? 0 : 1);
    if (!regular_) {
        chain_->dev = st.st_dev;
        chain_->ino = st.st_ino;
        return;
    }
    if (!same_file) {
        // A new file (httpd starting, or a rotation): what the writer
        // allocated and promised belonged to the old one. Begin records still
        // open keep their end records' room by making the credit negative.
        chain_->allocated = 0;
        chain_->synced = 0;
        const std::int64_t owed = static_cast<std::int64_t>(c.open_ops.load()) * kEndReserve +
                                  static_cast<std::int64_t>(ring_->backlog()) * 5;
        c.disk_credit.store(-owed);
        c.disk_full.store(0);
    }
    auto write_own = [&](Record rec, off_t at, std::uint64_t seq, const std::string& prev) {
        LogWriter w(*ring_, *chain_, fd_, writer_config(), events);
        if (!w.write_own(rec, at, seq, prev))
            throw std::runtime_error(std::string("audit log ") + path_ + ": cannot write its " + rec.ev + " record");
        return rec.seq;
    };
    auto set_head = [&](const FileHead& h) {
        chain_->version.fetch_add(1);
        chain_->seq = h.seq;
        std::memcpy(chain_->hash, h.hash.data(), 64);
        chain_->hash[64] = '\0';
        chain_->size = h.size;
        chain_->last_len = h.last_len;
        chain_->version.fetch_add(1);
        chain_->dev = st.st_dev;
        chain_->ino = st.st_ino;
    };
    if (!first && same_file) {
        // A graceful restart: the shared head is the truth; the file must still end with it.
        LogWriter w(*ring_, *chain_, fd_, writer_config(), events);
        w.check_file();
        return;
    }
    std::optional<std::string> saved;
    if (first) {
        saved = read_head_file(head_path);
    } else {
        // A rotation: the new file continues the chain this parent wrote;
        // compare it with that head, as a saved one (never with <log>.head).
        saved = format_saved_head(SavedHead{ChainHead{chain_->seq, std::string(chain_->hash, 64)}, std::nullopt, false, false},
                                  nullptr);
        if (chain_->seq == 0) saved.reset();
    }
    StartupPlan plan = plan_startup(fd_, saved, first ? verifier_ : nullptr, path_);
    if (!first && plan.kind == StartupPlan::continue_log && plan.level == 4)  // a new file may not run ahead of us
        plan.kind = StartupPlan::discontinuity, plan.expected = ChainHead{chain_->seq, std::string(chain_->hash, 64)};
    if (plan.kind == StartupPlan::refuse) throw std::runtime_error(plan.message);
    if (plan.kind == StartupPlan::discontinuity && !first) {
        plan.found.file_size = st.st_size;
        plan.id = CMILOGNO(40005);
        plan.message = "audit log " + std::string(path_) + " (a new file) does not continue the chain (seq " +
                       std::to_string(chain_->seq) + "): not adopted, a discontinuity record follows";
    }
    if (plan.level) ap_log_error(APLOG_MARK, plan.level, 0, server_, "%s%s", plan.id, plan.message.c_str());
    std::string torn_note;
    if (!plan.torn.empty()) {
        const off_t valid = st.st_size - static_cast<off_t>(plan.torn.size());
        if (ftruncate(fd_, valid) != 0)
            throw std::runtime_error(std::string("cannot cut off the torn last line of ") + path_ + ": " +
                                     errno_text(errno));
        torn_note = "; " + std::to_string(plan.torn.size()) + " bytes of a torn last line were cut off (sha256 " +
                    sha256_hex(plan.torn) + ")";
    }
    if (plan.kind == StartupPlan::discontinuity) {
        FileHead h = plan.head;  // the file as found
        set_head(h);
        const std::optional<ChainHead>& expected = plan.expected;
        Record rec = discontinuity_record(default_node_, apr_time_now(), plan.message + torn_note, expected, plan.found);
        const std::uint64_t seq = expected ? expected->seq + 1 : plan.found.found ? plan.found.found->seq + 1 : 1;
        const std::string prev = expected ? expected->hash : std::string(kGenesisPrev);
        write_own(std::move(rec), h.size, seq, prev);
        chain_->discontinuities.fetch_add(1);
        return;
    }
    set_head(plan.head);
    if (plan.unconfirmed) {
        // httpd was killed: name the records no signature confirms (they end
        // the chain as found) before a checkpoint follows; a torn tail was cut.
        Record rec;
        rec.node = default_node_;
        rec.ev = "unconfirmed";
        rec.time_us = apr_time_now();
        rec.unconfirmed = plan.unconfirmed;
        write_own(std::move(rec), plan.head.size, plan.head.seq + 1, plan.head.hash);
    }
    if (!plan.torn.empty()) {
        Record rec = recovered_record(default_node_, apr_time_now(), plan.torn);
        const FileHead h = read_head(*chain_);
        const std::uint64_t seq = write_own(std::move(rec), h.size, h.seq + 1, h.hash);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, server_,
                     CMILOGNO(40006) "audit log %s ended with a torn record (%zu bytes after seq %" APR_UINT64_T_FMT
                                     "); cut off and recorded as seq %" APR_UINT64_T_FMT " (ev recovered)",
                     path_, plan.torn.size(), static_cast<apr_uint64_t>(plan.head.seq),
                     static_cast<apr_uint64_t>(seq));
    }
}

AuditLog::~AuditLog() {
    if (getpid() == parent_pid_) {
        // The logger has been stopped (its cleanup runs first): the head is final.
        try {
            save_head(ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING);
        } catch (...) {
        }
    }
    if (fd_ >= 0) ::close(fd_);
}

void AuditLog::save_head(bool stopped) {
    if (!regular_ || getpid() != parent_pid_) return;
    const FileHead h = read_head(*chain_);
    // Without a key, v1 (which has no seq 0); with one, always: a start-up
    // with records in the log and no signed head is reported.
    if (!signer_ && h.seq == 0) return;
    const std::uint64_t key = h.seq * 2 + (stopped ? 1 : 0);
    if (key == saved_seq_) return;
    SavedHead saved{ChainHead{h.seq, h.hash}, h.size, stopped, false};
    if (const int err = write_head_file(head_path_, format_saved_head(saved, signer_))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, server_,
                     CMILOGNO(40007) "audit log %s: cannot save the chain head to %s: %s (a log rotated while httpd "
                                     "is stopped would not continue the chain; a start-up would report the log as "
                                     "not matching)",
                     path_, head_path_.c_str(), errno_text(err).c_str());
        return;
    }
    saved_seq_ = key;
}

void AuditLog::start_logger() {
    if (!logger_) {
        logger_ = httpd::pool_new<LoggerProcess>(pconf_, *this, pconf_);
        // Registered after this object's cleanup, so it runs first: the
        // logger is stopped before the head is saved for the last time.
        apr_pool_cleanup_register(
            pconf_, this,
            [](void* p) noexcept -> apr_status_t {
                auto* log = static_cast<AuditLog*>(p);
                if (getpid() != log->parent_pid_) return APR_SUCCESS;
                httpd::server_barrier(log->server_, cmi_audit_module, "log writer cleanup", [log] {
                    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
                        log->stop_logger(true);  // httpd stops: write everything left
                    } else if (auto* kept = static_cast<Retained*>(ap_retained_data_get(kRetainedKey))) {
                        kept->writer_pid = log->logger_->detach();  // a restart: it writes on meanwhile
                    } else {
                        log->stop_logger(false);
                    }
                });
                return APR_SUCCESS;
            },
            apr_pool_cleanup_null);
    }
    logger_->start();
}

void AuditLog::stop_logger(bool draining) {
    if (logger_) logger_->stop(draining);
}

void AuditLog::monitor() {
    if (getpid() != parent_pid_) return;
    if (const std::uint32_t n = ring_->reclaim_dead_producers())
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, server_,
                     "audit log %s: %u operation(s) of children that died gave back their room", path_, n);
    save_head(false);
    check_path();
}

// The log's path naming a file with records that is not the one being written:
// someone renamed the log away and put another there (a rotation leaves the
// path empty, or an empty new file, until its graceful restart). The writer
// goes on with the renamed file; the next restart does not adopt the other
// one (a discontinuity); say so now.
void AuditLog::check_path() {
    if (!regular_ || fd_ < 0) return;
    struct stat mine {}, named {};
    if (fstat(fd_, &mine) != 0 || stat(path_, &named) != 0) return;
    if ((named.st_dev == mine.st_dev && named.st_ino == mine.st_ino) || named.st_size == 0) return;
    if (reported_ino_ == static_cast<std::uint64_t>(named.st_ino)) return;
    reported_ino_ = static_cast<std::uint64_t>(named.st_ino);
    ap_log_error(APLOG_MARK, APLOG_ALERT, 0, server_,
                 CMILOGNO(40013) "audit log %s: the path names another file (%" APR_OFF_T_FMT
                                 " bytes) than the one the log writer appends to: the log was renamed away and "
                                 "another file put in its place. Records go on to the renamed file; the other "
                                 "file is not the chain and will not be continued",
                 path_, static_cast<apr_off_t>(named.st_size));
}

void AuditLog::child_init() {
    set_process();
    if (getpid() != parent_pid_ && fd_ >= 0) {  // children never write the file (not under -X)
        ::close(fd_);
        fd_ = -1;
    }
}

// --- request threads ------------------------------------------------------------------

AuditLog::Begin AuditLog::begin(std::string_view fields, bool durable) {
    Begin b;
    Ring& ring = *ring_;
    if (!durable && (writes_failing(ring) || writer_stuck(ring, timeout_ns_))) {
        b.failed = true;
        b.error = writes_failing(ring) ? "the log's last write failed" : "the log writer is not running";
        return b;
    }
    switch (admit_begin(ring, fields, g_pid, timeout_ns_, b.entry, durable, g_process)) {
        case Ring::Admit::ok:
            break;
        case Ring::Admit::disk_full:
            b.failed = true;
            b.error = "no room in the log's file system for this record and the end records of the operations "
                      "in flight (No space left on device)";
            return b;
        case Ring::Admit::too_large:
            b.failed = true;
            b.error = "the record is too large for the log's ring";
            return b;
        case Ring::Admit::no_process:
            b.failed = true;
            b.error = "this process has no slot in the log's ring";
            return b;
        default:
            b.failed = true;
            b.error = "the log writer is not keeping up (its queue stayed full for CMIAuditTimeout)";
            return b;
    }
    b.queued = true;
    if (!durable) return b;
    const std::uint32_t state = await_entry(ring, b.entry, Await::durable, timeout_ns_);
    if (state == kEntryDurable) return b;
    const Entry& e = ring.entry(b.entry);
    if (state == kEntryFailed) {
        if (e.seq == 0) {
            b.failed = true;  // not in the chain: no end record will follow
            b.error = std::string("could not be written: ") + errno_text(e.error);
        } else {
            b.error = "written as seq " + std::to_string(e.seq) + " but not made durable: " + errno_text(e.error);
        }
        return b;
    }
    b.error = "not made durable within CMIAuditTimeout (" + std::to_string(timeout_ns_ / 1000000000) +
              " s): the log writer is not keeping up or not running";
    return b;
}

std::string AuditLog::end(std::uint32_t entry, std::string_view fields) {
    const Ring::Admit a = admit_end(*ring_, fields, entry, g_pid, timeout_ns_, g_process);
    ring_->release_entry(entry, a == Ring::Admit::ok);
    if (a == Ring::Admit::ok) return std::string();
    return a == Ring::Admit::too_large ? "the record is too large for the log's ring"
                                       : "the log writer is not keeping up (its queue stayed full)";
}

void AuditLog::abandon(std::uint32_t entry) { ring_->release_entry(entry, false); }

std::optional<BeginPosition> AuditLog::position(std::uint32_t entry, apr_interval_time_t max_wait) {
    const std::uint32_t state =
        await_entry(*ring_, entry, Await::written, static_cast<std::int64_t>(std::max<apr_interval_time_t>(max_wait, 0)) * 1000);
    const Entry& e = ring_->entry(entry);
    if (state < kEntryWritten || e.seq == 0) return std::nullopt;
    BeginPosition pos;
    pos.seq = e.seq;
    std::memcpy(pos.sha256.data(), e.sha256, 32);
    return pos;
}

void AuditLog::settle(apr_interval_time_t max_wait) {
    RingControl& c = ring_->control();
    const std::uint64_t target = c.head.load(std::memory_order_acquire);
    const std::int64_t deadline = monotonic_ns() + static_cast<std::int64_t>(max_wait) * 1000;
    c.waiters_written.fetch_add(1);
    while (c.consumed.load(std::memory_order_acquire) < target) {
        const std::uint32_t g = c.written_gen.load();
        if (c.consumed.load(std::memory_order_acquire) >= target) break;
        const std::int64_t left = deadline - monotonic_ns();
        if (left <= 0) break;
        ring_->nudge_writer();
        futex_wait(c.written_gen, g, std::min<std::int64_t>(left, 10000000));
    }
    c.waiters_written.fetch_sub(1);
}

}  // namespace cmi::audit
