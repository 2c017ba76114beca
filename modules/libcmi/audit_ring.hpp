// The audit ring: shared memory through which every httpd child hands its
// records to the one log writer (a process of its own).
//
// Request threads never take a lock nor make a system call here (unless the
// writer sleeps and must be woken, or they wait for it): a record is admitted
// with compare-and-swaps on three counters (ring space, disk space the writer
// has allocated ahead, a result entry), reserved with one fetch-add, copied
// in and published with a release store. The writer takes published records
// in reservation order (which is chain order), and releases their space only
// once they are in the file: a record in the ring survives the death of the
// process that made it, and of the writer.
//
// A `begin` record reserves, besides its own slot, room for its `end` record
// in the ring and in the file (kEndReserve each), so an operation that was
// let in always gets its end record. It also takes a result entry: the writer
// puts the record's seq and line hash there and marks it written, durable or
// failed; a producer that waits sleeps on its entry's state word, and the
// writer wakes exactly the waiters an fdatasync covered (group commit, without
// waking those whose records came after it). An entry is freed by whichever of
// the two lets go last.
//
// Robustness: a slot header is written (with the producer's pid) before its
// payload and published after it; a slot whose producer died before
// publishing is skipped. Headers carry magic words with every byte >= 0x80 and
// their own position, and payloads are printable ASCII, so a header is never
// confused with payload or with a stale header of an earlier lap. A producer
// killed between its reservation and its header leaves a hole without a
// header; the writer finds its end by scanning for the next header, but skips
// it only when no live producer process is between a reservation and its
// publication (each process counts those in a slot of its own, registered at
// child_init): a producer that is merely slow (descheduled on a busy machine)
// is waited for, never overtaken.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace cmi::audit {

enum class SlotKind : std::uint16_t { begin = 1, end = 2 };

// What a result entry says (Entry::state).
enum EntryState : std::uint32_t {
    kEntryFree = 0,
    kEntryQueued = 1,   // in the ring
    kEntryWritten = 2,  // in the file, seq and hash set
    kEntryDurable = 3,  // and on stable storage
    kEntryFailed = 4,   // not written, or written but not made durable (error set)
};

struct RingLimits {
    std::size_t ring_bytes = 8u << 20;  // rounded up to a power of two
    std::uint32_t entries = 4096;       // operations in flight at once
    std::uint32_t processes = 256;      // producer processes at once (children, both generations)
};

// Entry::refs bits: each side lets go with one fetch_and, so a process killed
// at any instruction never leaves an entry held by nobody (or twice let go).
inline constexpr std::uint32_t kRefProducer = 1;
inline constexpr std::uint32_t kRefWriter = 2;

inline constexpr std::int64_t kEndReserve = 4096;      // per begin: room for its end record
inline constexpr std::int64_t kLineOverhead = 128;     // a line is its fields + at most this
inline constexpr std::int64_t kHoleTimeoutNs = 100000000;  // a hole is looked into after this

struct SlotHeader;

// A result entry (two cache lines).
struct alignas(64) Entry {
    std::atomic<std::uint32_t> state;
    std::atomic<std::uint32_t> refs;           // kRefProducer | kRefWriter: who still holds it
    std::uint32_t pad;
    std::int32_t pid;                          // the producer's process
    std::atomic<std::uint32_t> next;           // free list (index + 1)
    std::int32_t error;                        // errno of a failure
    std::atomic<std::uint32_t> wants_sync;     // the producer waits for durability
    std::atomic<std::uint32_t> sleeping;       // its producer sleeps on `state` (futex): wake it
    std::uint64_t seq;                         // set by the writer before the write, read after `state` says so
    unsigned char sha256[32];
};
static_assert(sizeof(Entry) == 128, "Entry is two cache lines");

// One producer process: how many of its threads are between a reservation
// and its publication right now.
struct alignas(64) ProcSlot {
    std::atomic<std::int32_t> pid;
    std::atomic<std::uint32_t> reserving;
};

// The counters and futex words everyone shares. Producer- and writer-side
// fields are on separate cache lines.
struct RingControl {
    std::uint64_t magic;
    std::uint64_t capacity;
    std::uint32_t entry_count;
    std::uint32_t process_count;

    alignas(64) std::atomic<std::uint64_t> head;       // bytes reserved (virtual position)
    std::atomic<std::int64_t> committed;               // ring bytes in use or promised
    std::atomic<std::int64_t> disk_credit;             // file bytes allocated and not yet promised
    std::atomic<std::uint32_t> disk_unlimited;         // no reservation possible/needed (a device, no fallocate)
    std::atomic<std::uint32_t> open_ops;               // begins whose producer has not let go
    std::atomic<std::uint64_t> free_top;               // entry free stack: tag << 32 | (index + 1)

    alignas(64) std::atomic<std::uint64_t> consumed;   // bytes released by the writer
    std::atomic<std::uint32_t> writer_wake;            // futex: the writer sleeps here
    std::atomic<std::uint32_t> writer_idle;            // 1: sleeping until woken
    std::atomic<std::uint32_t> writer_delaying;        // 1: in a commit delay
    std::atomic<std::uint32_t> written_gen;            // futex: bumped after each write
    std::atomic<std::uint32_t> durable_gen;            // futex: bumped after each fdatasync
    std::atomic<std::uint32_t> space_gen;              // futex: ring space or disk credit freed
    std::atomic<std::uint32_t> waiters_written;
    std::atomic<std::uint32_t> waiters_durable;
    std::atomic<std::uint32_t> waiters_space;
    std::atomic<std::uint32_t> disk_full;              // the writer could not allocate more
    std::atomic<std::int64_t> progress_ns;             // the writer's last look (monotonic)
    std::atomic<std::int64_t> failing_until_ns;        // writes fail: Sync Off begins refused until
    std::atomic<std::uint64_t> records_lost;           // holes and dead producers' unpublished slots
};


// One record taken from the ring by the writer.
struct SlotView {
    std::uint64_t pos = 0;   // virtual position of the slot
    std::uint32_t size = 0;  // bytes of the slot (header included)
    SlotKind kind = SlotKind::begin;
    std::uint32_t entry = 0;      // entry index + 1, 0: none
    std::int64_t reserve = 0;     // an end record: its begin's reserve it uses
    bool durable = false;         // a begin record whose producer waits for an fdatasync
    std::string_view first, second;  // the payload, in one or two pieces (wrap-around)
};

// The writer's watch over a slot that has a reservation but no header yet.
struct HoleWatch {
    std::uint64_t pos = ~0ULL;
    std::int64_t since_ns = 0;
};

// A process's view of a ring in shared memory (the memory is the state; this
// object only holds addresses, so every process makes its own).
class Ring {
public:
    static std::size_t bytes_needed(const RingLimits& limits);
    // Lays out a new ring in `mem` (bytes_needed(limits) bytes, zeroed, shared).
    static Ring create(void* mem, const RingLimits& limits);
    // The ring made by create() in `mem`; throws std::runtime_error if it is not one.
    static Ring attach(void* mem);

    RingControl& control() const { return *c_; }
    std::uint64_t capacity() const { return cap_; }
    std::uint32_t entry_count() const { return nentries_; }
    Entry& entry(std::uint32_t index) const { return entries_[index]; }
    ProcSlot& process(std::uint32_t index) const { return procs_[index]; }

    // --- producers ------------------------------------------------------------
    enum class Admit { ok, no_entry, ring_full, disk_full, too_large, no_process };
    // Claims the process slot of `pid` (a free one, or one of a process that
    // is gone); its index goes to every publish_* of the process. ~0u: none free.
    std::uint32_t register_process(std::int32_t pid);
    // A begin record: takes an entry (set to queued, owned by `pid`), room for
    // the record and its end record, and publishes it. On ok `entry_out` is
    // the entry's index. Never blocks.
    // `durable`: the producer will wait for the record to be synced.
    Admit publish_begin(std::string_view fields, std::int32_t pid, std::uint32_t& entry_out, bool durable = false,
                        std::uint32_t process = ~0u);
    // The end record of the begin that took `entry` (which stays the
    // producer's until release_entry). Uses the begin's reserve; needs more
    // room only when it is larger (then it may fail with ring_full/too_large).
    Admit publish_end(std::string_view fields, std::uint32_t entry, std::int32_t pid, std::uint32_t process = ~0u);
    // The producer lets go of its entry. `end_published`: publish_end used the
    // reserve; otherwise the reserve goes back.
    void release_entry(std::uint32_t entry, bool end_published);
    // Wakes the writer if it sleeps for want of work.
    void nudge_writer();

    // --- the writer -------------------------------------------------------------
    // The published record at `pos` (the writer's position), if any. A hole
    // (a producer died before publishing) is skipped once older than
    // kHoleTimeoutNs: `pos` is then moved past it and `lost` counts it.
    std::optional<SlotView> peek(std::uint64_t& pos, std::int64_t now_ns, HoleWatch& watch, std::uint64_t& lost);
    // Whether anything is reserved at or after `pos` (published or not).
    bool pending(std::uint64_t pos) const;
    // Calls f(view) for every record with a header from `from` to `to` (all
    // published: an earlier writer took them), skipping holes without waiting.
    template <class F>
    void walk(std::uint64_t from, std::uint64_t to, F f) const;
    // Frees the ring bytes up to `pos` (every record before it is in the file).
    void release_to(std::uint64_t pos);
    // Sets the state of a begin record's entry (seq/hash/error set before);
    // finish_entry also lets go of it: `state` is final for the writer.
    void set_entry(std::uint32_t entry, std::uint32_t state);
    void finish_entry(std::uint32_t entry, std::uint32_t state);
    // A new writer: lets go of the entries its predecessor had finished but
    // not let go of (it died in between). Returns how many.
    std::uint32_t release_finished_entries();
    // Bytes reserved but not yet released (what the writer still has to do).
    std::uint64_t backlog() const;

    // --- anyone -------------------------------------------------------------------
    // Entries whose producer process is gone (a child killed mid-request):
    // their reserves and entry are given back. Returns how many.
    std::uint32_t reclaim_dead_producers();
    // Free entries (for tests and server-status).
    std::uint32_t free_entries() const;

private:
    Ring(RingControl* c, Entry* entries, ProcSlot* procs, char* data, std::uint64_t cap, std::uint32_t n,
         std::uint32_t nprocs)
        : c_(c), entries_(entries), procs_(procs), data_(data), cap_(cap), nentries_(n), nprocs_(nprocs) {}
    bool pop_entry(std::uint32_t& index);
    void push_entry(std::uint32_t index);
    // Lets go of `who`'s hold; false if it had none. The last one frees the entry.
    bool drop_ref(std::uint32_t index, std::uint32_t who);
    bool take_ring(std::int64_t bytes);
    bool take_credit(std::int64_t bytes);
    // Reserves `size` bytes and writes the header; returns the slot position.
    std::uint64_t reserve_slot(std::uint32_t size, SlotKind kind, std::uint32_t entry, std::int64_t reserve,
                               std::int32_t pid, std::size_t payload, bool durable = false);
    void copy_in(std::uint64_t pos, std::string_view payload);
    // A publish_* of process slot `process` (registered on the fly when ~0u).
    class Reserving;
    std::uint32_t process_slot(std::uint32_t process, std::int32_t pid);
    // Whether a live producer process is between a reservation and its publication.
    bool someone_reserving() const;
    SlotHeader* header(std::uint64_t pos) const;
    // The slot at `pos` (all but its payload) and its state; 0: no header of this slot there.
    std::uint32_t view_at(std::uint64_t pos, SlotView& v) const;

    RingControl* c_;
    Entry* entries_;
    ProcSlot* procs_;
    char* data_;
    std::uint64_t cap_;
    std::uint32_t nentries_;
    std::uint32_t nprocs_;
};

template <class F>
void Ring::walk(std::uint64_t from, std::uint64_t to, F f) const {
    SlotView v;
    for (std::uint64_t pos = from; pos < to;) {
        if (view_at(pos, v)) {
            f(v);
            pos += v.size;
        } else {
            pos += 32;  // a hole: its end is where the next header is
        }
    }
}

}  // namespace cmi::audit
