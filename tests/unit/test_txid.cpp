#include "libcmi/txid.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

std::uint64_t timestamp_of(const std::string& id) {
    std::string hex = id.substr(0, 8) + id.substr(9, 4);
    return std::stoull(hex, nullptr, 16);
}

}  // namespace

class TxidTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TxidTest);
    CPPUNIT_TEST(format_is_uuid_v7);
    CPPUNIT_TEST(timestamp_is_unix_ms);
    CPPUNIT_TEST(monotonic_within_one_millisecond);
    CPPUNIT_TEST(monotonic_when_clock_steps_back);
    CPPUNIT_TEST(monotonic_across_threads);
    CPPUNIT_TEST(unique_across_processes);
    CPPUNIT_TEST(rejects_non_v7);
    CPPUNIT_TEST_SUITE_END();

public:
    void format_is_uuid_v7() {
        cmi::TxidGenerator g;
        for (int i = 0; i < 1000; ++i) CPPUNIT_ASSERT(cmi::is_uuid_v7(g.next()));
    }

    void timestamp_is_unix_ms() {
        cmi::TxidGenerator g;
        const std::string id = g.next_at(0x0192f3c4a1b2ULL);
        CPPUNIT_ASSERT_EQUAL(std::string("0192f3c4-a1b2-7"), id.substr(0, 15));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0x0192f3c4a1b2ULL}, timestamp_of(id));
    }

    void monotonic_within_one_millisecond() {
        cmi::TxidGenerator g;
        std::string prev = g.next_at(1000);
        // 5000 ids in one millisecond overflow the 12-bit counter: it carries
        // into the timestamp and order still holds.
        for (int i = 0; i < 5000; ++i) {
            std::string id = g.next_at(1000);
            CPPUNIT_ASSERT(id > prev);
            prev = id;
        }
    }

    void monotonic_when_clock_steps_back() {
        cmi::TxidGenerator g;
        const std::string later = g.next_at(2000000);
        const std::string earlier_clock = g.next_at(1000000);
        CPPUNIT_ASSERT(earlier_clock > later);
    }

    void monotonic_across_threads() {
        cmi::TxidGenerator g;
        std::vector<std::vector<std::string>> out(4);
        std::vector<std::thread> threads;
        for (auto& v : out)
            threads.emplace_back([&g, &v] {
                for (int i = 0; i < 2000; ++i) v.push_back(g.next());
            });
        for (auto& t : threads) t.join();
        std::set<std::string> all;
        for (const auto& v : out) {
            for (std::size_t i = 1; i < v.size(); ++i) CPPUNIT_ASSERT(v[i] > v[i - 1]);
            all.insert(v.begin(), v.end());
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t{8000}, all.size());
    }

    // Forked children start from the same generator state, as httpd children do.
    void unique_across_processes() {
        cmi::TxidGenerator& g = cmi::process_txid_generator();
        g.next();
        int fds[2];
        CPPUNIT_ASSERT_EQUAL(0, pipe(fds));
        const int children = 4, per_child = 500;
        for (int c = 0; c < children; ++c) {
            if (fork() == 0) {
                close(fds[0]);
                for (int i = 0; i < per_child; ++i) {
                    std::string id = g.next() + "\n";
                    if (write(fds[1], id.data(), id.size()) != static_cast<ssize_t>(id.size())) _exit(2);
                }
                _exit(0);
            }
        }
        close(fds[1]);
        std::string data;
        char buf[4096];
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof buf)) > 0) data.append(buf, static_cast<std::size_t>(n));
        close(fds[0]);
        for (int c = 0; c < children; ++c) {
            int status = 0;
            wait(&status);
            CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        std::set<std::string> ids;
        std::size_t pos = 0, nl;
        while ((nl = data.find('\n', pos)) != std::string::npos) {
            ids.insert(data.substr(pos, nl - pos));
            pos = nl + 1;
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t{children * per_child}, ids.size());
    }

    void rejects_non_v7() {
        CPPUNIT_ASSERT(!cmi::is_uuid_v7("0192f3c4-a1b2-4000-8000-000000000000"));  // v4
        CPPUNIT_ASSERT(!cmi::is_uuid_v7("0192f3c4-a1b2-7000-c000-000000000000"));  // variant
        CPPUNIT_ASSERT(!cmi::is_uuid_v7("0192F3C4-A1B2-7000-8000-000000000000"));  // upper case
        CPPUNIT_ASSERT(!cmi::is_uuid_v7("0192f3c4a1b270008000000000000000"));
        CPPUNIT_ASSERT(cmi::is_uuid_v7("0192f3c4-a1b2-7000-8000-000000000000"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TxidTest);
