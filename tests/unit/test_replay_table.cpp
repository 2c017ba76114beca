#include "libcmi/replay_table.hpp"
#include "libcmi/replay_table_file.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace cmi::replay;

namespace {

constexpr std::int64_t kSec = 1000000;
constexpr std::int64_t kNow = 1000 * kSec;

struct Mem {
    explicit Mem(const Geometry& g) : words((Table::bytes(g) + 7) / 8) {}
    void* get() { return words.data(); }
    std::vector<std::uint64_t> words;
};

const unsigned char kRandom[36] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                   19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 7, 0, 0, 0};

Table::Use nobody() { return {}; }
Table::Use tagged(std::uint64_t owner) {
    Table::Use u;
    u.owner = owner;
    return u;
}
Table::Use made(std::int64_t after) {
    Table::Use u;
    u.made_after = after;
    return u;
}

}  // namespace

class ReplayTableTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ReplayTableTest);
    CPPUNIT_TEST(keys_are_fixed_size_and_salted);
    CPPUNIT_TEST(geometry_fits_the_bytes);
    CPPUNIT_TEST(replay_is_refused_until_expiry);
    CPPUNIT_TEST(full_table_refuses_instead_of_evicting);
    CPPUNIT_TEST(two_choices_fill_most_of_the_table);
    CPPUNIT_TEST(one_owner_cannot_take_more_than_its_share);
    CPPUNIT_TEST(share_frees_as_entries_expire);
    CPPUNIT_TEST(owners_beyond_the_share_slots_are_not_tracked);
    CPPUNIT_TEST(window_takes_one_entry_per_key);
    CPPUNIT_TEST(window_refuses_replays_and_old_counts);
    CPPUNIT_TEST(items_older_than_the_table_are_refused);
    CPPUNIT_TEST(save_and_restore_keep_everything);
    CPPUNIT_TEST(restore_into_a_smaller_table_drops_and_guards);
    CPPUNIT_TEST(damaged_or_foreign_state_is_refused);
    CPPUNIT_TEST(shares_only_table_charges_and_refunds);
    CPPUNIT_TEST(processes_share_one_table);
    CPPUNIT_TEST(bad_geometry_is_refused);
    CPPUNIT_TEST(file_keeps_the_table_for_the_next_httpd);
    CPPUNIT_TEST(file_of_another_size_is_moved);
    CPPUNIT_TEST(first_table_remembers_from_the_system_start);
    CPPUNIT_TEST(missing_file_where_a_table_was_kept_guards);
    CPPUNIT_TEST(damaged_file_is_replaced_and_guards);
    CPPUNIT_TEST(unsafe_files_are_refused);
    CPPUNIT_TEST_SUITE_END();

    std::filesystem::path dir_;

public:
    void setUp() override {
        char tmpl[] = "/tmp/cmi-replay-test-XXXXXX";
        dir_ = mkdtemp(tmpl);
    }
    void tearDown() override { std::filesystem::remove_all(dir_); }

    static void unmap(const TableFile& f) { munmap(f.base, f.bytes); }

    void file_keeps_the_table_for_the_next_httpd() {
        const std::string path = dir_ / "auth.cache";
        const Geometry g{16, 16};
        TableFile a = open_table_file(path, "cmi-auth", g, 10, kRandom, kNow);
        CPPUNIT_ASSERT(a.how == TableFile::Opened::created);
        Table t = Table::attach(a.base);
        CPPUNIT_ASSERT(t.unknown_before() <= kNow);  // the system's start (kNow is earlier: kNow)
        auto u = nobody();
        CPPUNIT_ASSERT(t.check_and_store("used", kNow + 60 * kSec, kNow, u) == Verdict::fresh);
        const std::uint32_t generation = t.generation();
        unmap(a);  // the httpd is gone, even without a clean stop
        CPPUNIT_ASSERT_EQUAL(std::uintmax_t{0600}, std::uintmax_t(std::filesystem::status(path).permissions()));
        const unsigned char other[36] = {42};
        TableFile b = open_table_file(path, "cmi-auth", g, 10, other, kNow + kSec);
        CPPUNIT_ASSERT(b.how == TableFile::Opened::reopened);
        Table t2 = Table::attach(b.base);
        CPPUNIT_ASSERT(t2.check_and_store("used", kNow + 60 * kSec, kNow + kSec, u) == Verdict::replayed);
        CPPUNIT_ASSERT_EQUAL(generation, t2.generation());
        unmap(b);
    }

    void file_of_another_size_is_moved() {
        const std::string path = dir_ / "auth.cache";
        TableFile a = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, kNow);
        auto u = nobody();
        Table::attach(a.base).check_and_store("used", kNow + 60 * kSec, kNow, u);
        unmap(a);
        TableFile b = open_table_file(path, "cmi-auth", {64, 64}, 10, kRandom, kNow + kSec);
        CPPUNIT_ASSERT(b.how == TableFile::Opened::resized);
        CPPUNIT_ASSERT_EQUAL(1u, b.moved.entries);
        CPPUNIT_ASSERT_EQUAL(Table::bytes({64, 64}), std::size_t(std::filesystem::file_size(path)));
        CPPUNIT_ASSERT(Table::attach(b.base).check_and_store("used", kNow + 60 * kSec, kNow + kSec, u) ==
                       Verdict::replayed);
        unmap(b);
        CPPUNIT_ASSERT(!std::filesystem::exists(path + ".new"));
    }

    static std::int64_t real_now() {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    void first_table_remembers_from_the_system_start() {
        // No table was ever kept here: what came before the system started (a
        // reboot emptied /run) may have been used; what came after, not here.
        const std::string path = dir_ / "auth.cache";
        const std::int64_t now = real_now();
        TableFile a = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, now);
        CPPUNIT_ASSERT(a.how == TableFile::Opened::created);
        const std::int64_t since = Table::attach(a.base).unknown_before();
        CPPUNIT_ASSERT(since > 0 && since < now);
        CPPUNIT_ASSERT_EQUAL(since, a.unknown_before);
        CPPUNIT_ASSERT(std::filesystem::exists(path + ".kept"));
        unmap(a);
    }

    void missing_file_where_a_table_was_kept_guards() {
        // The table file deleted while httpd was stopped: what it knew is gone.
        const std::string path = dir_ / "auth.cache";
        const std::int64_t now = real_now();
        TableFile a = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, now);
        auto u = nobody();
        Table::attach(a.base).check_and_store("used", now + 60 * kSec, now, u);
        unmap(a);
        std::filesystem::remove(path);
        TableFile b = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, now + kSec);
        CPPUNIT_ASSERT(b.how == TableFile::Opened::replaced);
        CPPUNIT_ASSERT_EQUAL(now + kSec, Table::attach(b.base).unknown_before());
        CPPUNIT_ASSERT(b.why.find("missing") != std::string::npos);
        unmap(b);
        // A symbolic link planted as the marker is not followed into a target.
        std::filesystem::remove(path);
        std::filesystem::remove(path + ".kept");
        const std::string target = dir_ / "target";
        std::ofstream(target) << "x";
        std::filesystem::create_symlink(target, path + ".kept");
        TableFile c = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, now + 2 * kSec);
        CPPUNIT_ASSERT(c.how == TableFile::Opened::replaced);  // a marker is there: fail closed
        CPPUNIT_ASSERT_EQUAL(std::uintmax_t{1}, std::filesystem::file_size(target));  // untouched
        unmap(c);
    }

    void damaged_file_is_replaced_and_guards() {
        const std::string path = dir_ / "auth.cache";
        std::ofstream(path) << "not a table";
        std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        TableFile a = open_table_file(path, "cmi-auth", {16, 16}, 10, kRandom, kNow);
        CPPUNIT_ASSERT(a.how == TableFile::Opened::replaced);
        // What the lost table knew is gone: items made before now are refused.
        CPPUNIT_ASSERT_EQUAL(kNow, Table::attach(a.base).unknown_before());
        unmap(a);
        // Another cache's table is not taken over, nor replaced.
        TableFile c = open_table_file(dir_ / "content.cache", "cmi-content", {16, 16}, 10, kRandom, kNow);
        unmap(c);
        CPPUNIT_ASSERT_THROW(open_table_file(dir_ / "content.cache", "cmi-auth", {16, 16}, 10, kRandom, kNow),
                             std::runtime_error);
    }

    void unsafe_files_are_refused() {
        const std::string target = dir_ / "target";
        std::ofstream(target) << "x";
        std::filesystem::create_symlink(target, dir_ / "link.cache");
        CPPUNIT_ASSERT_THROW(open_table_file(dir_ / "link.cache", "cmi-auth", {16, 16}, 10, kRandom, kNow),
                             std::runtime_error);
        CPPUNIT_ASSERT_EQUAL(std::uintmax_t{1}, std::filesystem::file_size(target));  // untouched
        const std::string shared = dir_ / "shared.cache";
        std::ofstream(shared) << "x";
        std::filesystem::permissions(shared, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                                 std::filesystem::perms::group_write);
        CPPUNIT_ASSERT_THROW(open_table_file(shared, "cmi-auth", {16, 16}, 10, kRandom, kNow), std::runtime_error);
    }

public:
    void keys_are_fixed_size_and_salted() {
        const std::string long_key(10000, 'x');
        const Digest a = replay_key("salt", long_key);
        CPPUNIT_ASSERT(a == replay_key("salt", long_key));
        CPPUNIT_ASSERT(a != replay_key("other salt", long_key));
        CPPUNIT_ASSERT(replay_key("", "cmi-dg:n:00000001") != replay_key("", "cmi-dg:n:00000002"));
        CPPUNIT_ASSERT(replay_key("ab", "c") != replay_key("a", "bc"));
    }

    void geometry_fits_the_bytes() {
        for (std::size_t bytes : {8192u, 65536u, 512000u, 4194304u}) {
            const Geometry g = Table::fit(bytes);
            CPPUNIT_ASSERT(g.buckets > 0);
            CPPUNIT_ASSERT(Table::bytes(g) <= bytes);
            CPPUNIT_ASSERT(Table::bytes({g.buckets + 1, g.owners + 1}) > bytes);
        }
        // 64 KiB: over a thousand entries.
        CPPUNIT_ASSERT(Table::fit(65536).entries() > 1000);
        CPPUNIT_ASSERT_EQUAL(0u, Table::fit(100).buckets);
    }

    void replay_is_refused_until_expiry() {
        const Geometry g{16, 16};
        Mem m(g);
        Table t = Table::format(m.get(), g, 100, kRandom, "cmi-auth", kNow);
        auto u = nobody();
        CPPUNIT_ASSERT(t.check_and_store("a", kNow + 10 * kSec, kNow, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_store("a", kNow + 10 * kSec, kNow + kSec, u) == Verdict::replayed);
        CPPUNIT_ASSERT(t.check_and_store("b", kNow + 10 * kSec, kNow, u) == Verdict::fresh);
        // Expired: the key is new again.
        CPPUNIT_ASSERT(t.check_and_store("a", kNow + 30 * kSec, kNow + 10 * kSec, u) == Verdict::fresh);
    }

    void full_table_refuses_instead_of_evicting() {
        const Geometry g{1, 1};  // one bucket: 8 entries
        Mem m(g);
        Table t = Table::format(m.get(), g, 100, kRandom, "cmi-auth", kNow);
        auto u = nobody();
        for (int i = 0; i < 8; ++i)
            CPPUNIT_ASSERT(t.check_and_store("k" + std::to_string(i), kNow + 10 * kSec, kNow, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_store("k8", kNow + 10 * kSec, kNow, u) == Verdict::full);
        for (int i = 0; i < 8; ++i)
            CPPUNIT_ASSERT(t.check_and_store("k" + std::to_string(i), kNow + 10 * kSec, kNow, u) == Verdict::replayed);
        // An expired entry makes room.
        CPPUNIT_ASSERT(t.check_and_store("k8", kNow + 30 * kSec, kNow + 10 * kSec, u) == Verdict::fresh);
    }

    void two_choices_fill_most_of_the_table() {
        const Geometry g{128, 128};
        Mem m(g);
        Table t = Table::format(m.get(), g, g.entries(), kRandom, "cmi-auth", kNow);
        auto u = nobody();
        unsigned stored = 0;
        while (t.check_and_store("key " + std::to_string(stored), kNow + 10 * kSec, kNow, u) == Verdict::fresh)
            ++stored;
        // One bucket filling early would stop at a fraction; two choices go near the end.
        CPPUNIT_ASSERT(stored > g.entries() * 8 / 10);
        CPPUNIT_ASSERT_EQUAL(stored, t.live_entries(kNow));
    }

    void one_owner_cannot_take_more_than_its_share() {
        const Geometry g{64, 64};
        Mem m(g);
        Table t = Table::format(m.get(), g, 20, kRandom, "cmi-auth", kNow);
        Table::Use alice = tagged(t.owner_tag("alice")), bob = tagged(t.owner_tag("bob"));
        int fresh = 0;
        for (int i = 0; i < 100; ++i) {
            const Verdict v = t.check_and_store("a" + std::to_string(i), kNow + (10 + i) * kSec, kNow, alice);
            if (v == Verdict::fresh) ++fresh;
            else CPPUNIT_ASSERT(v == Verdict::over_share);
        }
        CPPUNIT_ASSERT_EQUAL(20, fresh);
        CPPUNIT_ASSERT(alice.free_at >= kNow + 10 * kSec);
        CPPUNIT_ASSERT(alice.free_at <= kNow + 30 * kSec);
        // Named rather than tagged: the same owner.
        Table::Use by_name = nobody();
        by_name.owner_name = "alice";
        CPPUNIT_ASSERT(t.check_and_store("a-by-name", kNow + 10 * kSec, kNow, by_name) == Verdict::over_share);
        CPPUNIT_ASSERT_EQUAL(alice.owner, by_name.owner);
        // Someone else still gets in, and alice's refused keys were not stored.
        CPPUNIT_ASSERT(t.check_and_store("b", kNow + 10 * kSec, kNow, bob) == Verdict::fresh);
        CPPUNIT_ASSERT_EQUAL(21u, t.live_entries(kNow));
        // Uncharged entries (no owner) are not limited by a share.
        auto u = nobody();
        CPPUNIT_ASSERT(t.check_and_store("x", kNow + 10 * kSec, kNow, u) == Verdict::fresh);
    }

    void share_frees_as_entries_expire() {
        const Geometry g{64, 64};
        Mem m(g);
        Table t = Table::format(m.get(), g, 30, kRandom, "cmi-auth", kNow);
        Table::Use alice = tagged(t.owner_tag("alice"));
        // A steady client: one entry a second, each living 60 s.
        std::int64_t now = kNow;
        int refused = 0;
        for (int i = 0; i < 600; ++i, now += 3 * kSec)
            if (t.check_and_store("s" + std::to_string(i), now + 60 * kSec, now, alice) != Verdict::fresh) ++refused;
        // 20 live at a time (60 s / 3 s) under a share of 30: the buckets count
        // a little past expiry, never so much that a steady client is refused.
        CPPUNIT_ASSERT_EQUAL(0, refused);
        CPPUNIT_ASSERT(t.live_charge(alice.owner, now) <= 30);
        CPPUNIT_ASSERT_EQUAL(0u, t.live_charge(alice.owner, now + 200 * kSec));
    }

    void owners_beyond_the_share_slots_are_not_tracked() {
        const Geometry g{8, 1};
        Mem m(g);
        Table t = Table::format(m.get(), g, 2, kRandom, "cmi-auth", kNow);
        Table::Use a = tagged(t.owner_tag("a")), b = tagged(t.owner_tag("b"));
        CPPUNIT_ASSERT(t.check_and_store("a1", kNow + kSec, kNow, a) == Verdict::fresh);
        for (int i = 0; i < 5; ++i)  // the one slot is a's: b goes uncounted
            CPPUNIT_ASSERT(t.check_and_store("b" + std::to_string(i), kNow + kSec, kNow, b) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_store("a2", kNow + kSec, kNow, a) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_store("a3", kNow + kSec, kNow, a) == Verdict::over_share);
    }

    void window_takes_one_entry_per_key() {
        const Geometry g{4, 4};
        Mem m(g);
        Table t = Table::format(m.get(), g, 2, kRandom, "cmi-auth", kNow);
        Table::Use alice = tagged(t.owner_tag("alice"));
        for (std::uint32_t nc = 1; nc <= 4000; ++nc)
            CPPUNIT_ASSERT(t.check_and_count("nonce-1", nc, kNow + 300 * kSec, kNow, alice) == Verdict::fresh);
        CPPUNIT_ASSERT_EQUAL(1u, t.live_entries(kNow));
        CPPUNIT_ASSERT_EQUAL(1u, t.live_charge(alice.owner, kNow));
        // A second nonce is a second entry; the share (2) bounds the number of nonces.
        CPPUNIT_ASSERT(t.check_and_count("nonce-2", 1, kNow + 300 * kSec, kNow, alice) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_count("nonce-3", 1, kNow + 300 * kSec, kNow, alice) == Verdict::over_share);
    }

    void window_refuses_replays_and_old_counts() {
        const Geometry g{4, 4};
        Mem m(g);
        Table t = Table::format(m.get(), g, 10, kRandom, "cmi-auth", kNow);
        auto u = nobody();
        const std::int64_t exp = kNow + 300 * kSec;
        CPPUNIT_ASSERT(t.check_and_count("n", 5, exp, kNow, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_count("n", 5, exp, kNow, u) == Verdict::replayed);
        // Out of order within the window: each once.
        for (std::uint32_t c : {3u, 1u, 4u, 2u}) CPPUNIT_ASSERT(t.check_and_count("n", c, exp, kNow, u) == Verdict::fresh);
        for (std::uint32_t c : {1u, 2u, 3u, 4u, 5u})
            CPPUNIT_ASSERT(t.check_and_count("n", c, exp, kNow, u) == Verdict::replayed);
        CPPUNIT_ASSERT(t.check_and_count("n", 5 + kWindow, exp, kNow, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_count("n", 6, exp, kNow, u) == Verdict::fresh);  // 63 behind
        CPPUNIT_ASSERT(t.check_and_count("n", 5, exp, kNow, u) == Verdict::behind_window);
        CPPUNIT_ASSERT(t.check_and_count("n", 1000000, exp, kNow, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_count("n", 1000000, exp, kNow, u) == Verdict::replayed);
        CPPUNIT_ASSERT(t.check_and_count("n", 6 + kWindow, exp, kNow, u) == Verdict::behind_window);
        // Another key has its own window.
        CPPUNIT_ASSERT(t.check_and_count("m", 5, exp, kNow, u) == Verdict::fresh);
    }

    void items_older_than_the_table_are_refused() {
        const Geometry g{4, 4};
        Mem m(g);
        Table t = Table::format(m.get(), g, 10, kRandom, "cmi-auth", kNow);
        Table::Use old = made(kNow - kSec), young = made(kNow + kSec), unknown = made(0);
        CPPUNIT_ASSERT(t.check_and_store("a", kNow + 60 * kSec, kNow + 2 * kSec, old) == Verdict::before_start);
        CPPUNIT_ASSERT(t.check_and_store("a", kNow + 60 * kSec, kNow + 2 * kSec, young) == Verdict::fresh);
        CPPUNIT_ASSERT(t.check_and_store("b", kNow + 60 * kSec, kNow + 2 * kSec, unknown) == Verdict::fresh);
        CPPUNIT_ASSERT_EQUAL(kNow, t.unknown_before());
    }

    void save_and_restore_keep_everything() {
        const Geometry g{32, 32};
        Mem m(g);
        Table t = Table::format(m.get(), g, 50, kRandom, "cmi-auth", kNow);
        Table::Use alice = tagged(t.owner_tag("alice"));
        for (int i = 0; i < 10; ++i) t.check_and_store("k" + std::to_string(i), kNow + 60 * kSec, kNow, alice);
        t.check_and_store("short", kNow + kSec, kNow, alice);
        for (std::uint32_t nc = 1; nc <= 3; ++nc) t.check_and_count("nonce", nc, kNow + 60 * kSec, kNow, alice);
        const std::string state = t.save(kNow + 2 * kSec);

        const Geometry g2{64, 64};  // a new table, another size
        Mem m2(g2);
        const unsigned char other[36] = {9};
        Table t2 = Table::format(m2.get(), g2, 50, other, "cmi-auth", 0);
        auto r = t2.restore(state, kNow + 5 * kSec);
        CPPUNIT_ASSERT(r);
        CPPUNIT_ASSERT_EQUAL(11u, r->entries);  // "short" expired before the save
        CPPUNIT_ASSERT_EQUAL(0u, r->dropped);
        CPPUNIT_ASSERT_EQUAL(kNow + 2 * kSec, r->saved_at);
        CPPUNIT_ASSERT(t2.salt() == t.salt());
        CPPUNIT_ASSERT_EQUAL(t.generation(), t2.generation());
        CPPUNIT_ASSERT_EQUAL(kNow, t2.unknown_before());  // the first table's start stays the horizon
        auto u = nobody();
        for (int i = 0; i < 10; ++i)
            CPPUNIT_ASSERT(t2.check_and_store("k" + std::to_string(i), kNow + 60 * kSec, kNow + 6 * kSec, u) ==
                           Verdict::replayed);
        CPPUNIT_ASSERT(t2.check_and_count("nonce", 2, kNow + 60 * kSec, kNow + 6 * kSec, u) == Verdict::replayed);
        CPPUNIT_ASSERT(t2.check_and_count("nonce", 4, kNow + 60 * kSec, kNow + 6 * kSec, u) == Verdict::fresh);
        CPPUNIT_ASSERT(t2.live_charge(t2.owner_tag("alice"), kNow + 6 * kSec) >= 11);
    }

    void restore_into_a_smaller_table_drops_and_guards() {
        const Geometry g{32, 32};
        Mem m(g);
        Table t = Table::format(m.get(), g, 1000, kRandom, "cmi-auth", kNow);
        auto u = nobody();
        for (int i = 0; i < 100; ++i) t.check_and_store("k" + std::to_string(i), kNow + 60 * kSec, kNow, u);
        const std::string state = t.save(kNow);
        const Geometry small{2, 2};
        Mem m2(small);
        Table t2 = Table::format(m2.get(), small, 1000, kRandom, "cmi-auth", kNow + 5 * kSec);
        auto r = t2.restore(state, kNow + 5 * kSec);
        CPPUNIT_ASSERT(r && r->dropped > 0);
        // What was dropped may come again: nothing older than now is known.
        CPPUNIT_ASSERT_EQUAL(kNow + 5 * kSec, t2.unknown_before());
    }

    void damaged_or_foreign_state_is_refused() {
        const Geometry g{8, 8};
        Mem m(g);
        Table t = Table::format(m.get(), g, 10, kRandom, "cmi-auth", kNow);
        auto u = nobody();
        t.check_and_store("k", kNow + 60 * kSec, kNow, u);
        const std::string state = t.save(kNow);
        Mem m2(g);
        const unsigned char other[36] = {9, 9};
        Table t2 = Table::format(m2.get(), g, 10, other, "cmi-auth", 0);
        Mem m3(g);
        Table content = Table::format(m3.get(), g, 10, other, "cmi-content", 0);
        CPPUNIT_ASSERT(!content.restore(state, kNow));
        CPPUNIT_ASSERT(!t2.restore(state.substr(0, state.size() - 1), kNow));
        CPPUNIT_ASSERT(!t2.restore("", kNow));
        for (std::size_t i : {std::size_t{0}, std::size_t{20}, state.size() / 2, state.size() - 1}) {
            std::string bad = state;
            bad[i] = static_cast<char>(bad[i] ^ 1);
            CPPUNIT_ASSERT(!t2.restore(bad, kNow));
        }
        // Untouched by the refusals: its own salt, nothing recorded.
        CPPUNIT_ASSERT(t2.salt() != t.salt());
        CPPUNIT_ASSERT_EQUAL(0u, t2.live_entries(kNow));
    }

    void shares_only_table_charges_and_refunds() {
        const Geometry g = Table::shares_only(16);
        Mem m(g);
        Table t = Table::format(m.get(), g, 2, kRandom, "cmi-auth", kNow);
        Table::Use a = tagged(t.owner_tag("a"));
        int b1 = -1, b2 = -1, b3 = -1;
        CPPUNIT_ASSERT(t.charge(a, kNow + kSec, kNow, b1) == Verdict::fresh);
        CPPUNIT_ASSERT(t.charge(a, kNow + kSec, kNow, b2) == Verdict::fresh);
        CPPUNIT_ASSERT(t.charge(a, kNow + kSec, kNow, b3) == Verdict::over_share);
        t.refund(a.owner, b2);  // the store failed: not held
        CPPUNIT_ASSERT(t.charge(a, kNow + kSec, kNow, b3) == Verdict::fresh);
    }

    void processes_share_one_table() {
        const Geometry g{16, 16};
        const std::size_t n = Table::bytes(g);
        void* mem = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CPPUNIT_ASSERT(mem != MAP_FAILED);
        Table t = Table::format(mem, g, 100, kRandom, "cmi-auth", kNow);
        const pid_t pid = fork();
        if (pid == 0) {
            Table c = Table::attach(mem);
            auto u = nobody();
            _exit(c.check_and_store("from child", kNow + 60 * kSec, kNow, u) == Verdict::fresh ? 0 : 1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        auto u = nobody();
        CPPUNIT_ASSERT(t.check_and_store("from child", kNow + 60 * kSec, kNow, u) == Verdict::replayed);
        munmap(mem, n);
    }

    void bad_geometry_is_refused() {
        std::uint64_t mem[512] = {};
        CPPUNIT_ASSERT_THROW(Table::format(mem, {1, 0}, 1, kRandom, "cmi-auth", kNow), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(Table::format(mem, {1, 1}, 0, kRandom, "cmi-auth", kNow), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(Table::format(mem, {1, 1}, 1, kRandom, std::string(40, 'x'), 0), std::invalid_argument);
        std::uint64_t blank[64] = {};
        CPPUNIT_ASSERT_THROW(Table::attach(blank), std::invalid_argument);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReplayTableTest);
