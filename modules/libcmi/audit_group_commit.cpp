#include "libcmi/audit_group_commit.hpp"

#include "libcmi/futex.hpp"

#include <optional>

namespace cmi::audit {
namespace {

// Counts the caller among the waiters of `counter` while it lives.
class Waiting {
public:
    explicit Waiting(std::atomic<std::uint32_t>& counter) : counter_(counter) {
        counter_.fetch_add(1, std::memory_order_seq_cst);
    }
    ~Waiting() { counter_.fetch_sub(1, std::memory_order_seq_cst); }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;

private:
    std::atomic<std::uint32_t>& counter_;
};

template <class Try>
Ring::Admit with_room(Ring& ring, std::int64_t timeout_ns, Try attempt) {
    RingControl& c = ring.control();
    Ring::Admit a = attempt();
    if (a == Ring::Admit::ok || a == Ring::Admit::too_large || a == Ring::Admit::no_process) return a;
    const std::int64_t deadline = monotonic_ns() + timeout_ns;
    Waiting w(c.waiters_space);
    for (;;) {
        if (a == Ring::Admit::disk_full && c.disk_full.load(std::memory_order_acquire)) return a;
        const std::uint32_t gen = c.space_gen.load(std::memory_order_seq_cst);
        a = attempt();
        if (a == Ring::Admit::ok || a == Ring::Admit::too_large) return a;
        const std::int64_t left = deadline - monotonic_ns();
        if (left <= 0) return a;
        ring.nudge_writer();
        futex_wait(c.space_gen, gen, std::min<std::int64_t>(left, 100000000));
    }
}

}  // namespace

Ring::Admit admit_begin(Ring& ring, std::string_view fields, std::int32_t pid, std::int64_t timeout_ns,
                        std::uint32_t& entry, bool durable, std::uint32_t process) {
    return with_room(ring, timeout_ns, [&] { return ring.publish_begin(fields, pid, entry, durable, process); });
}

Ring::Admit admit_end(Ring& ring, std::string_view fields, std::uint32_t entry, std::int32_t pid,
                      std::int64_t timeout_ns, std::uint32_t process) {
    return with_room(ring, timeout_ns, [&] { return ring.publish_end(fields, entry, pid, process); });
}

std::uint32_t await_entry(Ring& ring, std::uint32_t index, Await what, std::int64_t timeout_ns) {
    RingControl& c = ring.control();
    Entry& e = ring.entry(index);
    const std::uint32_t goal = what == Await::durable ? kEntryDurable : kEntryWritten;
    auto done = [&](std::uint32_t s) { return s >= goal; };  // kEntryFailed is beyond both
    std::uint32_t state = e.state.load(std::memory_order_acquire);
    if (done(state)) return state;
    std::optional<Waiting> counted;
    if (what == Await::durable) {
        counted.emplace(c.waiters_durable);
        // The writer may be holding an fdatasync back for more begins: if every
        // operation in flight now waits for it, there are none to come.
        if (c.writer_delaying.load(std::memory_order_seq_cst) &&
            c.waiters_durable.load(std::memory_order_seq_cst) >= c.open_ops.load(std::memory_order_seq_cst)) {
            c.writer_wake.fetch_add(1, std::memory_order_seq_cst);
            futex_wake(c.writer_wake, 1);
        }
    }
    // On the entry's own state word: the writer wakes exactly this thread when
    // the state changes (seq_cst: the writer stores the state, then looks at
    // `sleeping`; we count ourselves, then look at the state).
    Waiting sleeping(e.sleeping);
    const std::int64_t deadline = monotonic_ns() + timeout_ns;
    for (;;) {
        state = e.state.load(std::memory_order_seq_cst);
        if (done(state)) return state;
        const std::int64_t left = deadline - monotonic_ns();
        if (left <= 0) return state;
        futex_wait(e.state, state, left);
    }
}

bool writer_stuck(const Ring& ring, std::int64_t stale_ns) {
    const RingControl& c = ring.control();
    if (ring.backlog() == 0) return false;
    return monotonic_ns() - c.progress_ns.load(std::memory_order_acquire) > stale_ns;
}

bool writes_failing(const Ring& ring) {
    return monotonic_ns() < ring.control().failing_until_ns.load(std::memory_order_acquire);
}

}  // namespace cmi::audit
