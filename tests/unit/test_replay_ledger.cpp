#include "libcmi/replay_ledger.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

using namespace cmi::replay;

namespace {

Key key_in(unsigned char first, unsigned n) {
    Key k{};
    k[0] = first;
    k[1] = static_cast<unsigned char>(n);
    k[2] = static_cast<unsigned char>(n >> 8);
    return k;
}

struct Mem {
    explicit Mem(unsigned subcaches, unsigned capacity)
        : words((Ledger::bytes(subcaches, capacity) + 7) / 8) {}
    void* get() { return words.data(); }
    std::vector<std::uint64_t> words;
};

}  // namespace

class ReplayLedgerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReplayLedgerTest);
    CPPUNIT_TEST(keys_are_fixed_size_and_salted);
    CPPUNIT_TEST(keys_spread_over_subcaches);
    CPPUNIT_TEST(full_fifo_refuses_instead_of_evicting);
    CPPUNIT_TEST(expired_head_entries_make_room);
    CPPUNIT_TEST(expired_entry_behind_a_live_head_still_counts);
    CPPUNIT_TEST(subcaches_are_independent);
    CPPUNIT_TEST(unclaim_gives_the_slot_back);
    CPPUNIT_TEST(attach_sees_the_same_ledger);
    CPPUNIT_TEST(bad_geometry_is_refused);
    CPPUNIT_TEST_SUITE_END();

public:
    void keys_are_fixed_size_and_salted() {
        const std::string long_key(10000, 'x');
        const Key a = replay_key("salt", long_key);
        CPPUNIT_ASSERT_EQUAL(std::size_t{32}, a.size());
        CPPUNIT_ASSERT(a == replay_key("salt", long_key));
        CPPUNIT_ASSERT(a != replay_key("other salt", long_key));
        CPPUNIT_ASSERT(replay_key("", "cmi-dg:n:00000001") != replay_key("", "cmi-dg:n:00000002"));
        // The separator keeps salt and key apart: ("ab", "c") is not ("a", "bc").
        CPPUNIT_ASSERT(replay_key("ab", "c") != replay_key("a", "bc"));
    }

    void keys_spread_over_subcaches() {
        // Keys with a common prefix (all "cmi-dg:...") must not share a first byte.
        std::set<unsigned char> first;
        for (int i = 0; i < 200; ++i) first.insert(replay_key("s", "cmi-dg:" + std::to_string(i))[0]);
        CPPUNIT_ASSERT(first.size() > 100);
    }

    void full_fifo_refuses_instead_of_evicting() {
        Mem m(4, 3);
        Ledger l = Ledger::format(m.get(), 4, 3);
        for (unsigned i = 0; i < 3; ++i)
            CPPUNIT_ASSERT(l.claim(key_in(0, i), 1000, 10) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(0, 3), 1000, 10) == Ledger::Claim::full);
        CPPUNIT_ASSERT(l.claim(key_in(4, 3), 1000, 10) == Ledger::Claim::full);  // 4 & 3 == 0: same FIFO
        CPPUNIT_ASSERT_EQUAL(3u, l.live(key_in(0, 0), 10));
    }

    void expired_head_entries_make_room() {
        Mem m(1, 2);
        Ledger l = Ledger::format(m.get(), 1, 2);
        CPPUNIT_ASSERT(l.claim(key_in(0, 0), 100, 10) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(0, 1), 200, 10) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(0, 2), 300, 99) == Ledger::Claim::full);
        // shmcb expires entries whose expiry <= now.
        CPPUNIT_ASSERT(l.claim(key_in(0, 2), 300, 100) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(0, 3), 300, 150) == Ledger::Claim::full);
        CPPUNIT_ASSERT(l.claim(key_in(0, 3), 400, 300) == Ledger::Claim::stored);  // both expired
        CPPUNIT_ASSERT_EQUAL(1u, l.live(key_in(0, 0), 300));
    }

    void expired_entry_behind_a_live_head_still_counts() {
        // shmcb reclaims only from the head: a short-lived entry stored after a
        // long-lived one keeps its space until the long-lived one goes.
        Mem m(1, 2);
        Ledger l = Ledger::format(m.get(), 1, 2);
        CPPUNIT_ASSERT(l.claim(key_in(0, 0), 10000, 0) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(0, 1), 5, 0) == Ledger::Claim::stored);
        CPPUNIT_ASSERT_EQUAL(1u, l.live(key_in(0, 0), 50));
        CPPUNIT_ASSERT(l.claim(key_in(0, 2), 100, 50) == Ledger::Claim::full);
    }

    void subcaches_are_independent() {
        Mem m(2, 1);
        Ledger l = Ledger::format(m.get(), 2, 1);
        CPPUNIT_ASSERT(l.claim(key_in(0, 0), 100, 0) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(1, 0), 100, 0) == Ledger::Claim::stored);
        CPPUNIT_ASSERT(l.claim(key_in(2, 0), 100, 0) == Ledger::Claim::full);
        CPPUNIT_ASSERT(l.claim(key_in(3, 0), 100, 0) == Ledger::Claim::full);
    }

    void unclaim_gives_the_slot_back() {
        Mem m(1, 1);
        Ledger l = Ledger::format(m.get(), 1, 1);
        CPPUNIT_ASSERT(l.claim(key_in(0, 0), 100, 0) == Ledger::Claim::stored);
        l.unclaim(key_in(0, 0));
        CPPUNIT_ASSERT(l.claim(key_in(0, 1), 100, 0) == Ledger::Claim::stored);
    }

    void attach_sees_the_same_ledger() {
        Mem m(8, 4);
        Ledger::format(m.get(), 8, 4).claim(key_in(5, 0), 100, 0);
        Ledger l = Ledger::attach(m.get());
        CPPUNIT_ASSERT_EQUAL(8u, l.subcaches());
        CPPUNIT_ASSERT_EQUAL(4u, l.capacity());
        CPPUNIT_ASSERT_EQUAL(1u, l.live(key_in(5, 1), 0));
        CPPUNIT_ASSERT_EQUAL(0u, l.live(key_in(4, 1), 0));
        std::vector<std::uint64_t> blank(8, 0);
        CPPUNIT_ASSERT_THROW(Ledger::attach(blank.data()), std::invalid_argument);
    }

    void bad_geometry_is_refused() {
        Mem m(256, 1);
        CPPUNIT_ASSERT_THROW(Ledger::format(m.get(), 3, 1), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(Ledger::format(m.get(), 0, 1), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(Ledger::format(m.get(), 512, 1), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(Ledger::format(m.get(), 4, 0), std::invalid_argument);
        CPPUNIT_ASSERT_NO_THROW(Ledger::format(m.get(), 256, 1));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReplayLedgerTest);
