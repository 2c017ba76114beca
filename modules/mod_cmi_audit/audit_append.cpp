// Appends combined per process. Under load many worker threads of one child
// want to append at once; one at a time each taking the cross-process append
// lock, writing one line and waking the next costs a write() and often a
// context switch per record. Here the first thread to find nobody writing
// becomes its process's writer: it takes every record queued so far, chains
// them under one hold of the lock and writes them with one write(), until the
// queue is empty. The others sleep on a private futex of their own until
// their record is written (and made durable, if asked) — one wake-up each,
// never a herd. End records (append_later) are only queued.
//
// No record is left behind: a thread queues while holding queue_mutex_, and
// the writer gives up its role only under that mutex with the queue empty.
#include "mod_cmi_audit/audit_log.hpp"

#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_status.hpp"

#include <algorithm>
#include <cstdint>
#include <linux/futex.h>
#include <memory>
#include <sys/syscall.h>
#include <unistd.h>

namespace cmi::audit {

namespace {

void futex_wait(std::uint32_t* word, std::uint32_t val) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, nullptr, nullptr, 0);
}

void futex_wake_one(std::uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }

}  // namespace

AuditLog::Result AuditLog::append(Record& rec, Durable durable) {
    Pending p;
    p.rec = &rec;
    p.fields = serialize_fields(rec);  // the costly part, outside every lock
    p.durable = durable;
    enqueue(&p);
    while (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE) == 0) futex_wait(&p.done, 0);
    return p.res;
}

void AuditLog::append_later(Record&& rec, Durable durable) {
    auto p = std::make_unique<Pending>();
    p->owned.emplace(std::move(rec));
    p->rec = &*p->owned;
    p->fields = serialize_fields(*p->rec);
    p->durable = durable;
    p->waits = false;
    enqueue(p.get());  // throws only before queueing it
    p.release();       // the writer that took it deletes it
}

void AuditLog::enqueue(Pending* p) {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    *queue_tail_ = p;  // a list: queueing never allocates, never throws
    queue_tail_ = &p->next;
    if (writing_) return;  // that writer takes it before it stops
    writing_ = true;
    drain(lock);
}

void AuditLog::drain(std::unique_lock<std::mutex>& lock) noexcept {
    Pending* written = nullptr;
    Pending** written_tail = &written;
    while (queue_head_) {
        Pending* batch = queue_head_;
        queue_head_ = nullptr;
        queue_tail_ = &queue_head_;
        lock.unlock();
        write_batch(batch);
        *written_tail = batch;
        while (*written_tail) written_tail = &(*written_tail)->next;
        lock.lock();
    }
    writing_ = false;
    lock.unlock();
    // Another thread may write the next batch while this one waits for the
    // group commit of its own.
    make_durable(written);
    complete(written);
}

void AuditLog::make_durable(Pending* written) noexcept {
    // Where the records to make durable end (0: none); a batch goes to one
    // file: the current one, or a rotated one (ends -1).
    bool rotated = false;
    apr_off_t now_end = 0, soon_end = 0;
    for (const Pending* p = written; p; p = p->next) {
        if (!p->res.written || p->end == 0 || p->durable == Durable::no) continue;
        rotated |= p->end < 0;
        apr_off_t& upto = p->durable == Durable::now ? now_end : soon_end;
        upto = std::max(upto, p->end);
    }
    auto not_durable = [written](const std::string& err, apr_off_t upto) noexcept {
        for (Pending* p = written; p; p = p->next) {
            if (!p->res.written || p->end == 0 || p->durable == Durable::no || p->end > upto) continue;
            try {
                p->res.error = "written as seq " + std::to_string(p->rec->seq) + " but not made durable: " + err;
            } catch (...) {
                p->res.error = "not durable";  // short enough not to allocate
            }
        }
    };
    try {
        if (rotated) {  // a file rotated away: a plain fdatasync, no group commit there
            if (const std::string err = sync_to(-1); !err.empty()) not_durable(err, -1);
            return;
        }
        if (now_end > 0) {
            if (const std::string err = sync_to(now_end, true); !err.empty()) {
                not_durable(err, now_end);
                return;
            }
        }
        if (soon_end > now_end) {  // else the wait above covered them
            if (const std::string err = sync_to(soon_end, false); !err.empty()) not_durable(err, soon_end);
        }
    } catch (const std::exception& e) {
        not_durable(e.what(), std::max(now_end, soon_end));
    } catch (...) {
        not_durable("unknown error", std::max(now_end, soon_end));
    }
}

void AuditLog::complete(Pending* done) noexcept {
    for (Pending* p = done, *next = nullptr; p; p = next) {
        next = p->next;  // read first: p may be gone once completed
        if (!p->waits) {
            report_handed_over(*p);
            delete p;
            continue;
        }
        // After the store the waiter may return and its Pending be gone:
        // only the wake-up (harmless on a stale address) touches it.
        std::uint32_t* word = &p->done;
        __atomic_store_n(word, 1, __ATOMIC_RELEASE);
        futex_wake_one(word);
    }
}

void AuditLog::report_handed_over(const Pending& p) noexcept {
    try {
        count_record(server_, p.res);
        if (p.res.ok()) return;
        const Record& rec = *p.rec;
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, server_,
                      "audit log %s: %s record NOT recorded (%s) [CMI-Transaction-ID %s]: %s", path_,
                      rec.ev.c_str(), p.res.error.c_str(), rec.txid ? rec.txid->c_str() : "-",
                      serialize(rec).c_str());
    } catch (...) {
    }
}

}  // namespace cmi::audit
