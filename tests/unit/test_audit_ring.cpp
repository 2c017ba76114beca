// The audit ring (libcmi/audit_ring): admission, order, wrap-around, several
// producer processes at once, producers that die, reserves given back.
#include "libcmi/audit_ring.hpp"
#include "libcmi/futex.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <csignal>
#include <cstdio>
#include <sched.h>
#include <functional>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace cmi::audit;

namespace {

struct SharedRing {
    void* mem = nullptr;
    std::size_t bytes = 0;
    Ring ring;
    explicit SharedRing(const RingLimits& limits)
        : mem(map(limits)), bytes(Ring::bytes_needed(limits)), ring(Ring::create(mem, limits)) {
        ring.control().disk_unlimited.store(1);
    }
    ~SharedRing() { munmap(mem, bytes); }
    static void* map(const RingLimits& limits) {
        void* m = mmap(nullptr, Ring::bytes_needed(limits), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) std::abort();
        return m;
    }
};

std::string payload(const SlotView& v) { return std::string(v.first) + std::string(v.second); }

// Everything published, in order (the writer's view), releasing as it goes.
std::vector<SlotView> drain(Ring& ring, std::uint64_t& pos, std::vector<std::string>& texts) {
    std::vector<SlotView> out;
    HoleWatch watch;
    std::uint64_t lost = 0;
    while (auto v = ring.peek(pos, cmi::monotonic_ns(), watch, lost)) {
        out.push_back(*v);
        texts.push_back(payload(*v));
        pos = v->pos + v->size;
    }
    ring.release_to(pos);
    return out;
}

// A slot header as audit_ring.cpp lays it out (shared memory: its layout is
// fixed): a tag word (position / 32 << 32 | state), stored last, then the fields.
struct HeaderLayout {
    std::atomic<std::uint64_t> tag;
    std::uint32_t size, payload, entry;
    std::uint16_t kind, flags;
    std::int32_t pid;
    std::uint32_t reserve;
};
static_assert(sizeof(HeaderLayout) == 32, "one alignment unit");
constexpr std::uint64_t kSlotAlign = 32;
constexpr std::uint32_t kSlotReady = 0xE5D1A5C3u;

// What a producer has written of a slot header at `pos` when it is
// descheduled just before publishing it: every field but the tag.
void write_header_fields_only(SharedRing& s, std::uint64_t pos, std::uint32_t size, std::uint32_t payload_len) {
    char* data = static_cast<char*>(s.mem) + s.bytes - s.ring.capacity();
    auto* h = reinterpret_cast<HeaderLayout*>(data + (pos & (s.ring.capacity() - 1)));
    h->size = size;
    h->payload = payload_len;
    h->entry = 0;
    h->kind = static_cast<std::uint16_t>(SlotKind::end);
    h->flags = 0;
    h->pid = getpid();
    h->reserve = 0;
}

pid_t fork_run(const std::function<void()>& f) {
    const pid_t pid = fork();
    if (pid == 0) {
        f();
        _exit(0);
    }
    return pid;
}

// `producers` processes, each publishing the begin records text(p, 0..records-1)
// in order (let go of at once; retried while the ring is full); their pids.
std::vector<pid_t> start_producers(Ring& ring, int producers, int records,
                                   const std::function<std::string(int, int)>& text) {
    std::vector<pid_t> pids;
    for (int p = 0; p < producers; ++p) {
        pids.push_back(fork_run([&ring, &text, p, records] {
            for (int i = 0; i < records; ++i) {
                const std::string t = text(p, i);
                std::uint32_t e = 0;
                Ring::Admit a;
                while ((a = ring.publish_begin(t, getpid(), e)) != Ring::Admit::ok) {
                    if (a == Ring::Admit::too_large) _exit(3);
                    sched_yield();
                }
                ring.release_entry(e, false);
            }
        }));
    }
    return pids;
}

int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

class AuditRingTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuditRingTest);
    CPPUNIT_TEST(begin_and_end_round_trip);
    CPPUNIT_TEST(wraps_around_without_losing_a_byte);
    CPPUNIT_TEST(full_ring_refuses_and_frees);
    CPPUNIT_TEST(entries_run_out_and_come_back);
    CPPUNIT_TEST(disk_credit_is_needed);
    CPPUNIT_TEST(end_record_always_fits_after_its_begin);
    CPPUNIT_TEST(many_producer_processes_keep_their_order);
    CPPUNIT_TEST(headers_reused_on_later_laps_are_never_read_half_written);
    CPPUNIT_TEST(dead_producer_before_publishing_is_skipped);
    CPPUNIT_TEST(hole_of_a_producer_killed_before_its_header);
    CPPUNIT_TEST(slow_producer_is_never_overtaken);
    CPPUNIT_TEST(producer_stalled_inside_its_header_over_an_old_lap);
    CPPUNIT_TEST(reclaim_gives_back_a_dead_operation);
    CPPUNIT_TEST_SUITE_END();

public:
    void begin_and_end_round_trip() {
        SharedRing s({64 * 1024, 8});
        std::uint32_t e = 99;
        CPPUNIT_ASSERT(s.ring.publish_begin("\"ev\":\"begin\"", getpid(), e) == Ring::Admit::ok);
        CPPUNIT_ASSERT(e < 8);
        CPPUNIT_ASSERT_EQUAL(1u, s.ring.control().open_ops.load());
        CPPUNIT_ASSERT(s.ring.publish_end("\"ev\":\"end\"", e, getpid()) == Ring::Admit::ok);
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        const auto v = drain(s.ring, pos, texts);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, v.size());
        CPPUNIT_ASSERT(v[0].kind == SlotKind::begin && v[0].entry == e + 1);
        CPPUNIT_ASSERT(v[1].kind == SlotKind::end && v[1].entry == 0 && v[1].reserve == kEndReserve);
        CPPUNIT_ASSERT_EQUAL(std::string("\"ev\":\"begin\""), texts[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("\"ev\":\"end\""), texts[1]);
        // Both let go of the entry: it is free again, and no ring space is held.
        CPPUNIT_ASSERT_EQUAL(7u, s.ring.free_entries());
        s.ring.finish_entry(e, kEntryWritten);
        s.ring.release_entry(e, true);
        CPPUNIT_ASSERT_EQUAL(8u, s.ring.free_entries());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, s.ring.control().committed.load());
        CPPUNIT_ASSERT_EQUAL(0u, s.ring.control().open_ops.load());
    }

    void wraps_around_without_losing_a_byte() {
        SharedRing s({64 * 1024, 64});
        std::uint64_t pos = 0;
        for (int round = 0; round < 200; ++round) {
            std::vector<std::string> sent;
            for (int i = 0; i < 5; ++i) {
                std::string p(static_cast<std::size_t>(700 + (round * 37 + i * 101) % 2000), 'a');
                for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<char>(' ' + (k + round + i) % 90);
                std::uint32_t e = 0;
                CPPUNIT_ASSERT(s.ring.publish_begin(p, getpid(), e) == Ring::Admit::ok);
                s.ring.release_entry(e, false);
                sent.push_back(p);
            }
            std::vector<std::string> got;
            const auto v = drain(s.ring, pos, got);
            CPPUNIT_ASSERT(got == sent);
            for (const auto& x : v) s.ring.finish_entry(x.entry - 1, kEntryWritten);
        }
        CPPUNIT_ASSERT(s.ring.control().head.load() > 4 * s.ring.capacity());  // it did wrap, many times
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, s.ring.control().committed.load());
    }

    void full_ring_refuses_and_frees() {
        SharedRing s({64 * 1024, 1024});
        const std::string p(3000, 'x');
        std::uint32_t e = 0;
        int admitted = 0;
        while (s.ring.publish_begin(p, getpid(), e) == Ring::Admit::ok) ++admitted;
        CPPUNIT_ASSERT(admitted > 3 && admitted < 64 * 1024 / 3000);
        CPPUNIT_ASSERT(s.ring.publish_begin(p, getpid(), e) == Ring::Admit::ring_full);
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        drain(s.ring, pos, texts);
        CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(admitted), texts.size());
        // The records' own space is free; their end reserves are still held.
        CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(admitted) * kEndReserve, s.ring.control().committed.load());
        CPPUNIT_ASSERT(s.ring.publish_begin(std::string(200, 'y'), getpid(), e) == Ring::Admit::ok);
        CPPUNIT_ASSERT(s.ring.publish_begin(std::string(40000, 'z'), getpid(), e) == Ring::Admit::too_large);
    }

    void entries_run_out_and_come_back() {
        SharedRing s({256 * 1024, 3});
        std::uint32_t e[4];
        for (int i = 0; i < 3; ++i) CPPUNIT_ASSERT(s.ring.publish_begin("a", getpid(), e[i]) == Ring::Admit::ok);
        CPPUNIT_ASSERT(s.ring.publish_begin("a", getpid(), e[3]) == Ring::Admit::no_entry);
        s.ring.release_entry(e[1], false);
        CPPUNIT_ASSERT(s.ring.publish_begin("a", getpid(), e[3]) == Ring::Admit::no_entry);  // the writer still has it
        s.ring.finish_entry(e[1], kEntryWritten);
        CPPUNIT_ASSERT(s.ring.publish_begin("a", getpid(), e[3]) == Ring::Admit::ok);
        CPPUNIT_ASSERT_EQUAL(e[1], e[3]);
    }

    void disk_credit_is_needed() {
        SharedRing s({256 * 1024, 16});
        RingControl& c = s.ring.control();
        c.disk_unlimited.store(0);
        c.disk_credit.store(kEndReserve + kLineOverhead + 10);
        std::uint32_t e = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("0123456789", getpid(), e) == Ring::Admit::ok);
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, c.disk_credit.load());
        CPPUNIT_ASSERT(s.ring.publish_begin("0", getpid(), e) == Ring::Admit::disk_full);
        CPPUNIT_ASSERT_EQUAL(15u, s.ring.free_entries());  // the refused one's entry went back
        c.disk_credit.store(1 << 20);
        CPPUNIT_ASSERT(s.ring.publish_begin("0", getpid(), e) == Ring::Admit::ok);
    }

    void end_record_always_fits_after_its_begin() {
        SharedRing s({64 * 1024, 64});
        std::uint32_t e = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("b", getpid(), e) == Ring::Admit::ok);
        // Others fill the ring to the brim.
        std::uint32_t other = 0;
        while (s.ring.publish_begin(std::string(1000, 'f'), getpid(), other) == Ring::Admit::ok) {
        }
        CPPUNIT_ASSERT(s.ring.publish_end(std::string(3000, 'e'), e, getpid()) == Ring::Admit::ok);
        // Larger than the reserve, and no room: refused.
        std::uint32_t e2 = 0;
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        drain(s.ring, pos, texts);
        CPPUNIT_ASSERT(s.ring.publish_begin("b2", getpid(), e2) == Ring::Admit::ok);
        while (s.ring.publish_begin(std::string(1000, 'f'), getpid(), other) == Ring::Admit::ok) {
        }
        CPPUNIT_ASSERT(s.ring.publish_end(std::string(6000, 'e'), e2, getpid()) == Ring::Admit::ring_full);
    }

    void many_producer_processes_keep_their_order() {
        SharedRing s({128 * 1024, 256});
        constexpr int kProducers = 4, kRecords = 3000;
        const std::vector<pid_t> pids = start_producers(s.ring, kProducers, kRecords, [](int p, int i) {
            return "p" + std::to_string(p) + " " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 300), '.');
        });
        std::vector<int> next(kProducers, 0);
        std::uint64_t pos = 0;
        int total = 0;
        while (total < kProducers * kRecords) {
            std::vector<std::string> texts;
            const auto v = drain(s.ring, pos, texts);
            for (std::size_t i = 0; i < v.size(); ++i) {
                const int p = texts[i][1] - '0';
                const int n = std::stoi(texts[i].substr(3));
                CPPUNIT_ASSERT_EQUAL(next[p], n);  // each producer's records in its own order
                next[p] = n + 1;
                s.ring.finish_entry(v[i].entry - 1, kEntryWritten);
            }
            total += static_cast<int>(v.size());
            if (v.empty()) usleep(100);
        }
        for (const pid_t pid : pids) CPPUNIT_ASSERT_EQUAL(0, wait_exit(pid));
        CPPUNIT_ASSERT_EQUAL(256u, s.ring.free_entries());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, s.ring.control().committed.load());
    }

    // A slot's position on a later lap holds an earlier lap's header, which
    // said "ready": while a producer rewrites it, the writer must see either
    // the old header (not its position: wait) or the whole new one, never a
    // mix (a payload length of the old record over the new bytes: a record
    // cut short or lost). Many laps of a small ring, records of every length.
    void headers_reused_on_later_laps_are_never_read_half_written() {
        SharedRing s({64 * 1024, 256});
        constexpr int kProducers = 3, kRecords = 40000;
        const std::vector<pid_t> pids = start_producers(s.ring, kProducers, kRecords, [](int p, int i) {
            const std::size_t fill = static_cast<std::size_t>((i * 7 + p * 13) % 97);
            return "p" + std::to_string(p) + " " + std::to_string(i) + " " + std::to_string(fill) + " " +
                   std::string(fill, static_cast<char>('a' + i % 26)) + "$";
        });
        std::vector<int> next(kProducers, 0);
        std::uint64_t pos = 0;
        int total = 0;
        std::uint64_t lost = 0;
        HoleWatch watch;
        while (total < kProducers * kRecords) {
            auto v = s.ring.peek(pos, cmi::monotonic_ns(), watch, lost);
            CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, lost);
            if (!v) {
                s.ring.release_to(pos);
                sched_yield();
                continue;
            }
            const std::string text = payload(*v);
            // "p<P> <i> <fill> <fill letters>$": the whole record, as written.
            char letter = 0;
            int p = -1, i = -1, fill = -1, used = 0;
            CPPUNIT_ASSERT_MESSAGE(text, std::sscanf(text.c_str(), "p%d %d %d %n", &p, &i, &fill, &used) == 3);
            CPPUNIT_ASSERT_MESSAGE(text, p >= 0 && p < kProducers && fill >= 0);
            letter = static_cast<char>('a' + i % 26);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(text, static_cast<std::size_t>(used + fill + 1), text.size());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(text, std::string(static_cast<std::size_t>(fill), letter) + "$",
                                         text.substr(static_cast<std::size_t>(used)));
            CPPUNIT_ASSERT_EQUAL(next[p], i);
            next[p] = i + 1;
            s.ring.finish_entry(v->entry - 1, kEntryWritten);
            pos = v->pos + v->size;
            ++total;
            if (total % 64 == 0) s.ring.release_to(pos);
        }
        s.ring.release_to(pos);
        for (const pid_t pid : pids) CPPUNIT_ASSERT_EQUAL(0, wait_exit(pid));
    }

    void dead_producer_before_publishing_is_skipped() {
        SharedRing s({64 * 1024, 8});
        // A producer whose header says "pending" and which is gone: what a
        // child SIGKILLed during its memcpy leaves.
        const pid_t dead = fork_run([] {});
        wait_exit(dead);
        RingControl& c = s.ring.control();
        std::uint32_t e = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("first", getpid(), e) == Ring::Admit::ok);
        // Rewrite its header's state and pid as a producer that died mid-copy would leave them.
        auto* header = reinterpret_cast<std::uint32_t*>(  // the ring data follows the entries and process slots
            reinterpret_cast<char*>(&s.ring.entry(0)) + 8 * sizeof(Entry) + RingLimits{}.processes * sizeof(ProcSlot));
        header[0] = 0xC3A5D1E5u;  // pending
        header[6] = static_cast<std::uint32_t>(dead);
        std::uint32_t e2 = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("second", getpid(), e2) == Ring::Admit::ok);
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        drain(s.ring, pos, texts);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, texts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("second"), texts[0]);
        CPPUNIT_ASSERT_EQUAL(c.head.load(), pos);
        CPPUNIT_ASSERT_EQUAL(std::uint32_t{kEntryFailed}, s.ring.entry(e).state.load());
    }

    void hole_of_a_producer_killed_before_its_header() {
        SharedRing s({64 * 1024, 8});
        RingControl& c = s.ring.control();
        // A reservation nobody wrote a header for (killed right after fetch_add).
        c.committed.fetch_add(96);
        c.head.fetch_add(96);
        std::uint32_t e = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("after the hole", getpid(), e) == Ring::Admit::ok);
        std::uint64_t pos = 0, lost = 0;
        HoleWatch watch;
        const std::int64_t t0 = cmi::monotonic_ns();
        CPPUNIT_ASSERT(!s.ring.peek(pos, t0, watch, lost));  // it waits a while first
        CPPUNIT_ASSERT(!s.ring.peek(pos, t0 + kHoleTimeoutNs / 2, watch, lost));
        const auto v = s.ring.peek(pos, t0 + kHoleTimeoutNs + 1, watch, lost);
        CPPUNIT_ASSERT(v);
        CPPUNIT_ASSERT_EQUAL(std::string("after the hole"), payload(*v));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, lost);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{96}, v->pos);
    }

    void slow_producer_is_never_overtaken() {
        // A live producer descheduled between its reservation and its header
        // (a busy machine): however long it takes, its slot is not a hole.
        SharedRing s({64 * 1024, 8});
        RingControl& c = s.ring.control();
        const std::uint32_t me = s.ring.register_process(getpid());
        CPPUNIT_ASSERT(me != ~0u);
        s.ring.process(me).reserving.fetch_add(1);
        c.committed.fetch_add(96);
        c.head.fetch_add(96);
        std::uint32_t e = 0;
        CPPUNIT_ASSERT(s.ring.publish_begin("after it", getpid(), e, false, me) == Ring::Admit::ok);
        std::uint64_t pos = 0, lost = 0;
        HoleWatch watch;
        const std::int64_t t0 = cmi::monotonic_ns();
        CPPUNIT_ASSERT(!s.ring.peek(pos, t0, watch, lost));
        CPPUNIT_ASSERT(!s.ring.peek(pos, t0 + 100 * kHoleTimeoutNs, watch, lost));  // still reserving: wait
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, pos);
        s.ring.process(me).reserving.fetch_sub(1);  // (a real producer would have published by now)
        const auto v = s.ring.peek(pos, t0 + 101 * kHoleTimeoutNs, watch, lost);
        CPPUNIT_ASSERT(v && payload(*v) == "after it" && lost == 1);
        // A dead process's count does not hold the writer up.
        const pid_t dead = fork_run([] {});
        wait_exit(dead);
        const std::uint32_t slot = s.ring.register_process(dead);
        s.ring.process(slot).reserving.fetch_add(1);
        std::uint64_t pos2 = c.head.load();
        c.committed.fetch_add(64);
        c.head.fetch_add(64);
        CPPUNIT_ASSERT(s.ring.publish_begin("after a dead one", getpid(), e, false, me) == Ring::Admit::ok);
        HoleWatch w2;
        CPPUNIT_ASSERT(!s.ring.peek(pos2, t0, w2, lost));
        const auto v2 = s.ring.peek(pos2, t0 + 2 * kHoleTimeoutNs, w2, lost);
        CPPUNIT_ASSERT(v2 && payload(*v2) == "after a dead one");
    }

    void producer_stalled_inside_its_header_over_an_old_lap() {
        // A live producer descheduled while it writes its slot header, where
        // the ring's previous lap left a published header at the same offset:
        // the writer must neither take the old lap's bytes for the new record
        // nor count the record lost (the bug behind "1 record(s) lost in the
        // ring" with no child killed).
        SharedRing s({64 * 1024, 8});
        RingControl& c = s.ring.control();
        const std::uint32_t me = s.ring.register_process(getpid());
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        while (pos < s.ring.capacity()) {  // one whole lap of 1 KB slots, written and released
            std::uint32_t e = 0;
            CPPUNIT_ASSERT(s.ring.publish_begin(std::string(1024 - 32, 'o'), getpid(), e, false, me) == Ring::Admit::ok);
            drain(s.ring, pos, texts);
            s.ring.finish_entry(e, kEntryWritten);
            s.ring.release_entry(e, false);
        }
        CPPUNIT_ASSERT_EQUAL(s.ring.capacity(), pos);
        // The stalled producer: reserved the slot at offset 0 of the next lap
        // and wrote its header's fields, but not yet the word that publishes them.
        s.ring.process(me).reserving.fetch_add(1);
        c.committed.fetch_add(512);
        const std::uint64_t at = c.head.fetch_add(512);
        CPPUNIT_ASSERT_EQUAL(pos, at);
        write_header_fields_only(s, at, 512, 100);
        HoleWatch watch;
        std::uint64_t lost = 0, p = pos;
        const std::int64_t t0 = cmi::monotonic_ns();
        for (int i = 0; i < 3; ++i) {
            const auto v = s.ring.peek(p, t0 + i * 100 * kHoleTimeoutNs, watch, lost);
            CPPUNIT_ASSERT_MESSAGE(v ? "took the old lap's bytes: " + payload(*v).substr(0, 40) : "", !v);
            CPPUNIT_ASSERT_EQUAL(pos, p);
            CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, lost);
        }
        // It goes on: payload, tag; the writer takes exactly its record.
        char* data = static_cast<char*>(s.mem) + s.bytes - s.ring.capacity();
        std::memset(data + kSlotAlign, 'n', 100);
        reinterpret_cast<HeaderLayout*>(data)->tag.store((at / kSlotAlign) << 32 | kSlotReady);
        s.ring.process(me).reserving.fetch_sub(1);
        const auto v = s.ring.peek(p, t0 + 400 * kHoleTimeoutNs, watch, lost);
        CPPUNIT_ASSERT(v);
        CPPUNIT_ASSERT_EQUAL(std::string(100, 'n'), payload(*v));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, lost);
    }

    void reclaim_gives_back_a_dead_operation() {
        SharedRing s({64 * 1024, 8});
        RingControl& c = s.ring.control();
        const pid_t child = fork_run([&s] {
            std::uint32_t e = 0;
            if (s.ring.publish_begin("begin of a child that dies", getpid(), e) != Ring::Admit::ok) _exit(1);
            kill(getpid(), SIGKILL);
        });
        CPPUNIT_ASSERT_EQUAL(128 + SIGKILL, wait_exit(child));
        std::uint64_t pos = 0;
        std::vector<std::string> texts;
        const auto v = drain(s.ring, pos, texts);  // the begin is there: it survived its child
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, v.size());
        s.ring.finish_entry(v[0].entry - 1, kEntryWritten);
        CPPUNIT_ASSERT_EQUAL(1u, c.open_ops.load());
        CPPUNIT_ASSERT_EQUAL(kEndReserve, c.committed.load());
        CPPUNIT_ASSERT_EQUAL(1u, s.ring.reclaim_dead_producers());
        CPPUNIT_ASSERT_EQUAL(0u, c.open_ops.load());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{0}, c.committed.load());
        CPPUNIT_ASSERT_EQUAL(8u, s.ring.free_entries());
        CPPUNIT_ASSERT_EQUAL(0u, s.ring.reclaim_dead_producers());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuditRingTest);
