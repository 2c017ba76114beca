#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/audit_verify.hpp"
#include "libcmi/sha256.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace cmi::audit;

namespace {

// n chained lines (each with its "\n"), continuing from `head`.
std::vector<std::string> make_log(int n, ChainHead head = {}) {
    std::vector<std::string> lines;
    for (int i = 0; i < n; ++i) {
        Record r;
        r.seq = head.seq + 1;
        r.node = "n";
        r.ev = i % 2 ? "end" : "begin";
        r.txid = "t" + std::to_string(i / 2);
        r.time_us = 1700000000000000 + i;
        r.prev = head.hash;
        std::string line = serialize(r) + "\n";
        head = ChainHead{r.seq, line_hash(line)};
        lines.push_back(line);
    }
    return lines;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l;
    return s;
}

std::optional<VerifyError> verify(const std::string& text) {
    ChainVerifier v;
    std::istringstream in(text);
    v.feed_stream(in, "log");
    return v.error();
}

struct TempFile {
    std::string path;
    int fd;
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/cmi-audit-tail-XXXXXX";
        fd = mkstemp(tmpl);
        path = tmpl;
        if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) std::abort();
    }
    ~TempFile() {
        close(fd);
        unlink(path.c_str());
    }
};

}  // namespace

class AuditChainTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuditChainTest);
    CPPUNIT_TEST(hash_includes_line_feed);
    CPPUNIT_TEST(good_log_verifies);
    CPPUNIT_TEST(changed_byte_names_seq);
    CPPUNIT_TEST(deleted_line_names_seq);
    CPPUNIT_TEST(swapped_lines_name_seq);
    CPPUNIT_TEST(torn_last_line_fails);
    CPPUNIT_TEST(garbage_line_fails);
    CPPUNIT_TEST(continuation_across_files);
    CPPUNIT_TEST(seq1_needs_genesis);
    CPPUNIT_TEST(interleaved_files_merge_by_seq);
    CPPUNIT_TEST(tail_of_log);
    CPPUNIT_TEST(tail_of_torn_log);
    CPPUNIT_TEST(tail_of_long_lines);
    CPPUNIT_TEST(tail_of_empty_log);
    CPPUNIT_TEST(head_file_round_trip);
    CPPUNIT_TEST_SUITE_END();

public:
    void head_file_round_trip() {
        const ChainHead h{42, std::string(64, 'a')};
        const std::string text = format_head_file(h);
        CPPUNIT_ASSERT_EQUAL(std::string("cmi-audit head v1\n42\n") + std::string(64, 'a') + "\n", text);
        const auto back = parse_head_file(text);
        CPPUNIT_ASSERT(back && back->seq == 42 && back->hash == h.hash);
        CPPUNIT_ASSERT(!parse_head_file(text.substr(0, text.size() - 1)));          // torn
        CPPUNIT_ASSERT(!parse_head_file(text + "x"));                                // trailing bytes
        CPPUNIT_ASSERT(!parse_head_file("cmi-audit head v1\n0\n" + h.hash + "\n"));   // seq 0
        CPPUNIT_ASSERT(!parse_head_file("cmi-audit head v1\n99999999999999999999\n" + h.hash + "\n"));
        CPPUNIT_ASSERT(!parse_head_file("cmi-audit head v1\n7\n" + std::string(64, 'A') + "\n"));
        CPPUNIT_ASSERT(!parse_head_file("cmi-audit head v2\n7\n" + h.hash + "\n"));
    }

    void hash_includes_line_feed() {
        const auto log = make_log(2);
        CPPUNIT_ASSERT(log[1].find("\"prev\":\"" + cmi::sha256_hex(log[0]) + "\"") != std::string::npos);
    }

    void good_log_verifies() {
        ChainVerifier v;
        std::istringstream in(join(make_log(10)));
        CPPUNIT_ASSERT(v.feed_stream(in, "log"));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{10}, v.records());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{10}, v.head().seq);
    }

    void changed_byte_names_seq() {
        auto log = make_log(10);
        log[4][log[4].find("\"t2\"") + 2] = '9';  // seq 5's txid, still valid JSON
        const auto err = verify(join(log));
        CPPUNIT_ASSERT(err);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{6}, *err->seq);
        CPPUNIT_ASSERT(err->reason.find("seq 5") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("log:6"), err->where);
    }

    void deleted_line_names_seq() {
        auto log = make_log(10);
        log.erase(log.begin() + 6);  // seq 7
        const auto err = verify(join(log));
        CPPUNIT_ASSERT(err && *err->seq == 7);
        CPPUNIT_ASSERT(err->reason.find("missing") != std::string::npos);
    }

    void swapped_lines_name_seq() {
        auto log = make_log(10);
        std::swap(log[2], log[3]);
        const auto err = verify(join(log));
        CPPUNIT_ASSERT(err && *err->seq == 3);
    }

    void torn_last_line_fails() {
        std::string text = join(make_log(4));
        text += "{\"v\":1,\"seq\":5,";
        const auto err = verify(text);
        CPPUNIT_ASSERT(err && *err->seq == 5);
        CPPUNIT_ASSERT(err->reason.find("torn") != std::string::npos);
    }

    void garbage_line_fails() {
        auto log = make_log(4);
        log[2] = "not json\n";
        const auto err = verify(join(log));
        CPPUNIT_ASSERT(err && *err->seq == 3);
    }

    void continuation_across_files() {
        const auto first = make_log(6);
        ChainVerifier v0;
        std::istringstream in0(join(first));
        v0.feed_stream(in0, "a");
        const auto second = make_log(4, v0.head());
        ChainVerifier v;
        std::istringstream a(join(first)), b(join(second));
        CPPUNIT_ASSERT(v.feed_stream(a, "a") && v.feed_stream(b, "b"));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{10}, v.head().seq);
        // The second file alone verifies too (it continues a log not given).
        ChainVerifier alone;
        std::istringstream b2(join(second));
        CPPUNIT_ASSERT(alone.feed_stream(b2, "b"));
        // But not after the wrong file.
        ChainVerifier wrong;
        std::istringstream c(join(make_log(6, ChainHead{0, std::string(64, 'f')}))), d(join(second));
        CPPUNIT_ASSERT(!wrong.feed_stream(c, "a") || !wrong.feed_stream(d, "b"));
    }

    void interleaved_files_merge_by_seq() {
        // After a rotation, old children finish in the old file while new
        // ones write the new file: one chain, split across two files.
        const auto log = make_log(10);
        const std::string a = log[0] + log[1] + log[2] + log[4] + log[7];
        const std::string b = log[3] + log[5] + log[6] + log[8] + log[9];
        ChainVerifier v;
        std::istringstream ia(a), ib(b);
        CPPUNIT_ASSERT(v.feed_streams({{&ib, "b"}, {&ia, "a"}}));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{10}, v.records());
        // A swap inside one file is still an error, as is a line missing from both.
        const std::string a_swapped = log[0] + log[2] + log[1] + log[4] + log[7];
        ChainVerifier w;
        std::istringstream wa(a_swapped), wb(b);
        CPPUNIT_ASSERT(!w.feed_streams({{&wa, "a"}, {&wb, "b"}}));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, *w.error()->seq);
        const std::string b_missing = log[3] + log[6] + log[8] + log[9];
        ChainVerifier m;
        std::istringstream ma(a), mb(b_missing);
        CPPUNIT_ASSERT(!m.feed_streams({{&ma, "a"}, {&mb, "b"}}));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{6}, *m.error()->seq);
    }

    void seq1_needs_genesis() {
        const auto err = verify(join(make_log(2, ChainHead{0, std::string(64, 'f')})));
        CPPUNIT_ASSERT(err && *err->seq == 1);
    }

    void tail_of_log() {
        const auto log = make_log(5);
        TempFile f(join(log));
        const LogTail t = read_tail(f.fd);
        CPPUNIT_ASSERT(!t.torn && t.error.empty());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{5}, t.head.seq);
        CPPUNIT_ASSERT_EQUAL(cmi::sha256_hex(log[4]), t.head.hash);
        CPPUNIT_ASSERT_EQUAL(static_cast<off_t>(join(log).size()), t.valid_size);
    }

    void tail_of_torn_log() {
        const auto log = make_log(3);
        TempFile f(join(log) + "{\"v\":1,\"se");
        const LogTail t = read_tail(f.fd);
        CPPUNIT_ASSERT(t.torn);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{3}, t.head.seq);
        CPPUNIT_ASSERT_EQUAL(cmi::sha256_hex(log[2]), t.head.hash);
        CPPUNIT_ASSERT_EQUAL(static_cast<off_t>(join(log).size()), t.valid_size);
    }

    void tail_of_long_lines() {
        // Lines longer than the first 64 KiB window.
        ChainHead head;
        std::string text, last;
        for (int i = 0; i < 3; ++i) {
            Record r;
            r.seq = head.seq + 1;
            r.ev = "begin";
            r.uri = std::string(100000, 'u');
            r.prev = head.hash;
            last = serialize(r) + "\n";
            head = ChainHead{r.seq, line_hash(last)};
            text += last;
        }
        TempFile f(text);
        const LogTail t = read_tail(f.fd);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{3}, t.head.seq);
        CPPUNIT_ASSERT_EQUAL(head.hash, t.head.hash);
    }

    void tail_of_empty_log() {
        TempFile f("");
        const LogTail t = read_tail(f.fd);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{0}, t.head.seq);
        CPPUNIT_ASSERT_EQUAL(std::string(kGenesisPrev), t.head.hash);
        TempFile g("partial");
        const LogTail u = read_tail(g.fd);
        CPPUNIT_ASSERT(u.torn && u.head.seq == 0 && u.valid_size == 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuditChainTest);
