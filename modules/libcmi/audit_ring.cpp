#include "libcmi/audit_ring.hpp"

#include "libcmi/futex.hpp"

#include <cerrno>
#include <cstring>
#include <new>
#include <signal.h>
#include <stdexcept>

namespace cmi::audit {

// A slot starts with this header, at a kAlign-aligned position (so it never
// wraps around the end of the ring). Its first word holds the state and the
// slot's position together and is stored last (release): a slot's place on a
// later lap still holds an earlier lap's header that said "ready", and a
// reader must never take that word with fields a producer is rewriting — it
// sees the old word (another position: not this slot yet) or the new one,
// and then every field and byte written before it.
struct SlotHeader {
    std::atomic<std::uint64_t> tag;    // (position / kAlign) << 32 | kSlotPending or kSlotReady
    std::uint32_t size;                // bytes, header included, a multiple of kAlign
    std::uint32_t payload;             // bytes of fields
    std::uint32_t entry;               // entry index + 1, 0: none
    std::uint16_t kind;
    std::uint16_t flags;               // kSlotDurable
    std::int32_t pid;
    std::uint32_t reserve;             // an end record: the reserve of its begin it uses
};

namespace {

constexpr std::uint64_t kMagic = 0x434d4952494e4731ULL;  // "CMIRING1"
constexpr std::uint64_t kAlign = 32;
static_assert(sizeof(SlotHeader) == kAlign, "a slot header is one alignment unit");
// Every byte >= 0x80: never found in a payload (printable ASCII).
constexpr std::uint32_t kSlotPending = 0xC3A5D1E5u;
constexpr std::uint32_t kSlotReady = 0xE5D1A5C3u;
constexpr std::uint16_t kSlotDurable = 1;

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }

std::uint64_t pow2_at_least(std::uint64_t v) {
    std::uint64_t p = 64 * 1024;
    while (p < v) p <<= 1;
    return p;
}

std::size_t control_bytes() { return round_up(sizeof(RingControl), 64); }

std::uint64_t tag_of(std::uint64_t pos, std::uint32_t state) {
    return static_cast<std::uint64_t>(static_cast<std::uint32_t>(pos / kAlign)) << 32 | state;
}

// The state of the header at `pos` if it is this slot's (kSlotPending or
// kSlotReady), else 0 (no header yet, or an earlier lap's).
std::uint32_t state_at(std::uint64_t tag, std::uint64_t pos) {
    const auto state = static_cast<std::uint32_t>(tag);
    if ((tag >> 32) != static_cast<std::uint32_t>(pos / kAlign)) return 0;
    return state == kSlotPending || state == kSlotReady ? state : 0;
}

bool alive(std::int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

}  // namespace

std::size_t Ring::bytes_needed(const RingLimits& limits) {
    return control_bytes() + static_cast<std::size_t>(limits.entries) * sizeof(Entry) +
           static_cast<std::size_t>(limits.processes) * sizeof(ProcSlot) + pow2_at_least(limits.ring_bytes);
}

Ring Ring::create(void* mem, const RingLimits& limits) {
    if (limits.entries == 0 || limits.processes == 0) throw std::invalid_argument("a ring needs entries and processes");
    auto* base = static_cast<char*>(mem);
    auto* c = new (base) RingControl();
    c->capacity = pow2_at_least(limits.ring_bytes);
    c->entry_count = limits.entries;
    c->process_count = limits.processes;
    auto* entries = reinterpret_cast<Entry*>(base + control_bytes());
    for (std::uint32_t i = 0; i < limits.entries; ++i) {
        auto* e = new (&entries[i]) Entry();
        e->next.store(i + 1 < limits.entries ? i + 2 : 0, std::memory_order_relaxed);  // index + 1 of the next free one
    }
    c->free_top.store(1, std::memory_order_relaxed);  // entry 0 first, tag 0
    auto* procs = reinterpret_cast<ProcSlot*>(base + control_bytes() + limits.entries * sizeof(Entry));
    for (std::uint32_t i = 0; i < limits.processes; ++i) new (&procs[i]) ProcSlot();
    c->magic = kMagic;
    return Ring(c, entries, procs,
                base + control_bytes() + limits.entries * sizeof(Entry) + limits.processes * sizeof(ProcSlot),
                c->capacity, limits.entries, limits.processes);
}

Ring Ring::attach(void* mem) {
    auto* base = static_cast<char*>(mem);
    auto* c = reinterpret_cast<RingControl*>(base);
    if (c->magic != kMagic) throw std::runtime_error("not an audit ring");
    auto* entries = reinterpret_cast<Entry*>(base + control_bytes());
    auto* procs = reinterpret_cast<ProcSlot*>(base + control_bytes() + c->entry_count * sizeof(Entry));
    return Ring(c, entries, procs,
                base + control_bytes() + c->entry_count * sizeof(Entry) + c->process_count * sizeof(ProcSlot),
                c->capacity, c->entry_count, c->process_count);
}

// --- producer processes -------------------------------------------------------------

std::uint32_t Ring::register_process(std::int32_t pid) {
    for (int pass = 0; pass < 2; ++pass) {
        for (std::uint32_t i = 0; i < nprocs_; ++i) {
            ProcSlot& p = procs_[i];
            std::int32_t cur = p.pid.load(std::memory_order_acquire);
            if (cur == pid) return i;
            // First pass: free slots; second: slots of processes that are gone
            // (a dead process cannot be mid-reservation any more: its count is void).
            if (pass == 0 ? cur != 0 : (cur == 0 || alive(cur))) continue;
            if (p.pid.compare_exchange_strong(cur, pid, std::memory_order_acq_rel)) {
                p.reserving.store(0, std::memory_order_release);
                return i;
            }
        }
    }
    return ~0u;
}

std::uint32_t Ring::process_slot(std::uint32_t process, std::int32_t pid) {
    return process < nprocs_ ? process : register_process(pid);
}

// Marks the process as between a reservation and its publication.
class Ring::Reserving {
public:
    explicit Reserving(ProcSlot& p) : p_(p) { p_.reserving.fetch_add(1, std::memory_order_seq_cst); }
    ~Reserving() { p_.reserving.fetch_sub(1, std::memory_order_seq_cst); }
    Reserving(const Reserving&) = delete;
    Reserving& operator=(const Reserving&) = delete;

private:
    ProcSlot& p_;
};

bool Ring::someone_reserving() const {
    for (std::uint32_t i = 0; i < nprocs_; ++i) {
        const ProcSlot& p = procs_[i];
        if (p.reserving.load(std::memory_order_seq_cst) == 0) continue;
        if (alive(p.pid.load(std::memory_order_acquire))) return true;
    }
    return false;
}

SlotHeader* Ring::header(std::uint64_t pos) const {
    return reinterpret_cast<SlotHeader*>(data_ + (pos & (cap_ - 1)));
}

// --- entries ------------------------------------------------------------------

bool Ring::pop_entry(std::uint32_t& index) {
    std::uint64_t top = c_->free_top.load(std::memory_order_acquire);
    for (;;) {
        const std::uint32_t first = static_cast<std::uint32_t>(top);
        if (first == 0) return false;
        const std::uint32_t next = entries_[first - 1].next.load(std::memory_order_relaxed);  // may be stale: then the tag has moved on
        const std::uint64_t want = ((top >> 32) + 1) << 32 | next;
        if (c_->free_top.compare_exchange_weak(top, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
            index = first - 1;
            return true;
        }
    }
}

void Ring::push_entry(std::uint32_t index) {
    Entry& e = entries_[index];
    e.seq = 0;
    e.wants_sync.store(0, std::memory_order_relaxed);
    e.state.store(kEntryFree, std::memory_order_relaxed);
    std::uint64_t top = c_->free_top.load(std::memory_order_acquire);
    for (;;) {
        e.next.store(static_cast<std::uint32_t>(top), std::memory_order_relaxed);
        const std::uint64_t want = ((top >> 32) + 1) << 32 | (index + 1);
        if (c_->free_top.compare_exchange_weak(top, want, std::memory_order_acq_rel, std::memory_order_acquire))
            return;
    }
}

bool Ring::drop_ref(std::uint32_t index, std::uint32_t who) {
    const std::uint32_t before = entries_[index].refs.fetch_and(~who, std::memory_order_acq_rel);
    if (!(before & who)) return false;  // already let go
    if (before == who) push_entry(index);
    return true;
}

std::uint32_t Ring::free_entries() const {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < nentries_; ++i)
        if (entries_[i].state.load(std::memory_order_relaxed) == kEntryFree) ++n;
    return n;
}

// --- admission -----------------------------------------------------------------

bool Ring::take_ring(std::int64_t bytes) {
    std::int64_t used = c_->committed.load(std::memory_order_relaxed);
    do {
        if (bytes > 0 && used + bytes > static_cast<std::int64_t>(cap_)) return false;
    } while (!c_->committed.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed));
    return true;
}

bool Ring::take_credit(std::int64_t bytes) {
    if (c_->disk_unlimited.load(std::memory_order_relaxed)) return true;
    std::int64_t credit = c_->disk_credit.load(std::memory_order_relaxed);
    do {
        if (credit < bytes) return false;
    } while (!c_->disk_credit.compare_exchange_weak(credit, credit - bytes, std::memory_order_acq_rel,
                                                    std::memory_order_relaxed));
    return true;
}

std::uint64_t Ring::reserve_slot(std::uint32_t size, SlotKind kind, std::uint32_t entry, std::int64_t reserve,
                                 std::int32_t pid, std::size_t payload, bool durable) {
    const std::uint64_t pos = c_->head.fetch_add(size, std::memory_order_seq_cst);
    SlotHeader* h = header(pos);
    h->size = size;
    h->payload = static_cast<std::uint32_t>(payload);
    h->entry = entry;
    h->kind = static_cast<std::uint16_t>(kind);
    h->flags = durable ? kSlotDurable : 0;
    h->pid = pid;
    h->reserve = static_cast<std::uint32_t>(reserve);
    h->tag.store(tag_of(pos, kSlotPending), std::memory_order_release);
    return pos;
}

void Ring::copy_in(std::uint64_t pos, std::string_view payload) {
    const std::uint64_t at = (pos + kAlign) & (cap_ - 1);
    const std::size_t first = std::min<std::size_t>(payload.size(), cap_ - at);
    std::memcpy(data_ + at, payload.data(), first);
    if (first < payload.size()) std::memcpy(data_, payload.data() + first, payload.size() - first);
}

void Ring::nudge_writer() {
    // seq_cst with the writer's store of writer_idle before it looks again.
    if (c_->writer_idle.load(std::memory_order_seq_cst) && c_->writer_idle.exchange(0, std::memory_order_seq_cst)) {
        c_->writer_wake.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(c_->writer_wake, 1);
    }
}

Ring::Admit Ring::publish_begin(std::string_view fields, std::int32_t pid, std::uint32_t& entry_out, bool durable,
                               std::uint32_t process) {
    const std::uint64_t size = round_up(kAlign + fields.size(), kAlign);
    if (size + kEndReserve > cap_ / 4) return Admit::too_large;
    process = process_slot(process, pid);
    if (process >= nprocs_) return Admit::no_process;
    std::uint32_t index = 0;
    if (!pop_entry(index)) return Admit::no_entry;
    Entry& e = entries_[index];
    e.pid = pid;
    e.error = 0;
    e.seq = 0;
    e.wants_sync.store(durable ? 1 : 0, std::memory_order_relaxed);
    e.refs.store(kRefProducer | kRefWriter, std::memory_order_release);  // after pid (reclaim_dead_producers)
    e.state.store(kEntryQueued, std::memory_order_release);
    const auto ring_need = static_cast<std::int64_t>(size) + kEndReserve;
    if (!take_ring(ring_need)) {
        e.refs.store(kRefProducer, std::memory_order_relaxed);
        drop_ref(index, kRefProducer);
        return Admit::ring_full;
    }
    if (!take_credit(static_cast<std::int64_t>(fields.size()) + kLineOverhead + kEndReserve)) {
        c_->committed.fetch_sub(ring_need, std::memory_order_acq_rel);
        e.refs.store(kRefProducer, std::memory_order_relaxed);
        drop_ref(index, kRefProducer);
        return Admit::disk_full;
    }
    c_->open_ops.fetch_add(1, std::memory_order_relaxed);
    {
        Reserving busy(procs_[process]);
        const std::uint64_t pos =
            reserve_slot(static_cast<std::uint32_t>(size), SlotKind::begin, index + 1, 0, pid, fields.size(), durable);
        copy_in(pos, fields);
        header(pos)->tag.store(tag_of(pos, kSlotReady), std::memory_order_seq_cst);
    }
    nudge_writer();
    entry_out = index;
    return Admit::ok;
}

Ring::Admit Ring::publish_end(std::string_view fields, std::uint32_t entry, std::int32_t pid, std::uint32_t process) {
    const std::uint64_t size = round_up(kAlign + fields.size(), kAlign);
    if (size > cap_ / 4) return Admit::too_large;
    process = process_slot(process, pid);
    if (process >= nprocs_) return Admit::no_process;
    // The begin reserved kEndReserve of ring space: take only what is beyond it.
    const std::int64_t extra = static_cast<std::int64_t>(size) - kEndReserve;
    if (!take_ring(extra)) return Admit::ring_full;
    (void)entry;
    {
        Reserving busy(procs_[process]);
        const std::uint64_t pos = reserve_slot(static_cast<std::uint32_t>(size), SlotKind::end, 0, kEndReserve, pid,
                                               fields.size());
        copy_in(pos, fields);
        header(pos)->tag.store(tag_of(pos, kSlotReady), std::memory_order_seq_cst);
    }
    nudge_writer();
    return Admit::ok;
}

void Ring::release_entry(std::uint32_t index, bool end_published) {
    // The reserve goes back after the entry (a producer killed in between
    // leaves ring space and credit promised to nobody: less room, never more).
    if (!drop_ref(index, kRefProducer)) return;  // let go of already
    c_->open_ops.fetch_sub(1, std::memory_order_relaxed);
    if (!end_published) {
        c_->committed.fetch_sub(kEndReserve, std::memory_order_acq_rel);
        c_->disk_credit.fetch_add(kEndReserve, std::memory_order_acq_rel);
    }
}

std::uint32_t Ring::reclaim_dead_producers() {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < nentries_; ++i) {
        Entry& e = entries_[i];
        if (!(e.refs.load(std::memory_order_acquire) & kRefProducer) || alive(e.pid)) continue;
        // Its end record never came: give the reserve back (release_entry).
        if (!drop_ref(i, kRefProducer)) continue;
        c_->open_ops.fetch_sub(1, std::memory_order_relaxed);
        c_->committed.fetch_sub(kEndReserve, std::memory_order_acq_rel);
        c_->disk_credit.fetch_add(kEndReserve, std::memory_order_acq_rel);
        ++n;
    }
    return n;
}

// --- the writer ---------------------------------------------------------------------

std::uint32_t Ring::view_at(std::uint64_t pos, SlotView& v) const {
    const SlotHeader* h = header(pos);
    const std::uint32_t state = state_at(h->tag.load(std::memory_order_acquire), pos);
    if (!state || h->size < kAlign || h->size % kAlign != 0 || h->size > cap_ / 4 || h->payload > h->size - kAlign)
        return 0;
    v.pos = pos;
    v.size = h->size;
    v.kind = static_cast<SlotKind>(h->kind);
    v.entry = state == kSlotReady ? h->entry : 0;
    v.reserve = h->reserve;
    v.durable = (h->flags & kSlotDurable) != 0;
    return state;
}

bool Ring::pending(std::uint64_t pos) const { return c_->head.load(std::memory_order_seq_cst) > pos; }

std::optional<SlotView> Ring::peek(std::uint64_t& pos, std::int64_t now_ns, HoleWatch& watch, std::uint64_t& lost) {
    for (;;) {
        const std::uint64_t head = c_->head.load(std::memory_order_acquire);
        if (pos >= head) return std::nullopt;
        const SlotHeader* h = header(pos);
        SlotView v;
        const std::uint32_t state = view_at(pos, v);
        if (state == kSlotReady) {
            const std::uint64_t at = (pos + kAlign) & (cap_ - 1);
            const std::size_t first = std::min<std::size_t>(h->payload, cap_ - at);
            v.first = std::string_view(data_ + at, first);
            v.second = std::string_view(data_, h->payload - first);
            return v;
        }
        if (state) {  // pending: its producer is copying it in, or died doing so
            if (alive(h->pid)) return std::nullopt;
            if (h->entry) finish_entry(h->entry - 1, kEntryFailed);
            pos += h->size;
            ++lost;
            continue;
        }
        // No header yet: a producer between its reservation and its header, or
        // one that died there. Looked into after a while: it is a hole only if
        // no live process is between a reservation and its publication (every
        // slot before `head` was reserved before this look; a live producer of
        // one is counted until its record is published, and then has a header).
        if (watch.pos != pos) {
            watch.pos = pos;
            watch.since_ns = now_ns;
            return std::nullopt;
        }
        if (now_ns - watch.since_ns < kHoleTimeoutNs || someone_reserving()) return std::nullopt;
        std::uint64_t next = pos;
        for (; next < head; next += kAlign) {
            const SlotHeader* n = header(next);
            if (state_at(n->tag.load(std::memory_order_acquire), next)) break;
        }
        if (next == pos) continue;  // it got its header meanwhile
        if (next >= head) return std::nullopt;  // nothing after it yet: keep waiting
        pos = next;
        ++lost;
    }
}

void Ring::release_to(std::uint64_t pos) {
    const std::uint64_t before = c_->consumed.exchange(pos, std::memory_order_acq_rel);
    if (pos > before) c_->committed.fetch_sub(static_cast<std::int64_t>(pos - before), std::memory_order_acq_rel);
    if (c_->waiters_space.load(std::memory_order_seq_cst)) {
        c_->space_gen.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(c_->space_gen);
    }
}

void Ring::set_entry(std::uint32_t index, std::uint32_t state) {
    Entry& e = entries_[index];
    e.state.store(state, std::memory_order_seq_cst);
    if (e.sleeping.load(std::memory_order_seq_cst)) futex_wake(e.state);  // seq_cst with await_entry
}

void Ring::finish_entry(std::uint32_t index, std::uint32_t state) {
    set_entry(index, state);
    drop_ref(index, kRefWriter);
}

std::uint32_t Ring::release_finished_entries() {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < nentries_; ++i) {
        const Entry& e = entries_[i];
        if (!(e.refs.load(std::memory_order_acquire) & kRefWriter)) continue;
        const std::uint32_t s = e.state.load(std::memory_order_acquire);
        const bool final = s == kEntryDurable || s == kEntryFailed || (s == kEntryWritten && !e.wants_sync.load());
        if (final && drop_ref(i, kRefWriter)) ++n;
    }
    return n;
}

std::uint64_t Ring::backlog() const {
    return c_->head.load(std::memory_order_acquire) - c_->consumed.load(std::memory_order_acquire);
}

}  // namespace cmi::audit
