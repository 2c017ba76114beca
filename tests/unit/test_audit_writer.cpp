// The log writer (libcmi/audit_writer) with the ring, the group commit and the
// recovery rules, on real files, with producers and writers in processes of
// their own (fork) as httpd runs them.
#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_group_commit.hpp"
#include "libcmi/audit_record.hpp"
#include "libcmi/audit_recovery.hpp"
#include "libcmi/audit_verify.hpp"
#include "libcmi/audit_writer.hpp"
#include "libcmi/futex.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"
#include "test_pki.hpp"

#include <cppunit/extensions/HelperMacros.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace cmi::audit;

namespace {

// A ring and a chain state in shared anonymous memory, and a log file.
struct Rig {
    RingLimits limits;
    std::size_t bytes;
    void* mem;
    Ring ring;
    ChainState* chain;
    std::string path;
    int fd;
    struct Shared {
        std::atomic<int> stop;
        std::atomic<int> go;
    }* shared;

    explicit Rig(RingLimits l = {256 * 1024, 512})
        : limits(l), bytes(Ring::bytes_needed(l) + 4096 + sizeof(ChainState)), mem(map(bytes)),
          ring(Ring::create(mem, l)),
          chain(reinterpret_cast<ChainState*>(static_cast<char*>(mem) + Ring::bytes_needed(l))),
          shared(reinterpret_cast<Shared*>(static_cast<char*>(mem) + Ring::bytes_needed(l) + sizeof(ChainState))) {
        init_chain_state(*chain);
        shared->stop = 0;
        shared->go = 0;
        char tmpl[] = "/tmp/cmi-audit-writer-XXXXXX";
        fd = mkstemp(tmpl);
        path = tmpl;
        ring.control().disk_unlimited.store(1);
    }
    ~Rig() {
        close(fd);
        unlink(path.c_str());
        munmap(mem, bytes);
    }
    static void* map(std::size_t n) {
        void* m = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) std::abort();
        return m;
    }
    std::string content() const {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::istringstream in(content());
        for (std::string l; std::getline(in, l);) out.push_back(l + "\n");
        return out;
    }
};

struct Counting : WriterEvents {
    std::uint32_t written_n = 0, failed_n = 0, syncs = 0;
    std::vector<std::string> messages;
    void written(SlotKind, std::uint32_t n) override { written_n += n; }
    void failed(SlotKind, std::uint32_t n) override { failed_n += n; }
    void synced(std::int64_t, std::uint32_t) override { ++syncs; }
    void message(int level, const char*, const std::string& text) override {
        messages.push_back(std::to_string(level) + " " + text);
    }
};

std::vector<pid_t>& children();

pid_t fork_run(const std::function<void()>& f) {
    const pid_t pid = fork();
    if (pid == 0) {
        f();
        _exit(0);
    }
    children().push_back(pid);
    return pid;
}

// Kills what is still running when a test fails half-way (a writer waiting
// for a stop that never comes would otherwise outlive the test run).
std::vector<pid_t>& children() {
    static std::vector<pid_t> pids;
    return pids;
}
struct Reaper {
    ~Reaper() {
        for (const pid_t p : children())
            if (kill(p, SIGKILL) == 0) waitpid(p, nullptr, 0);
        children().clear();
    }
};

int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    auto& c = children();
    c.erase(std::remove(c.begin(), c.end(), pid), c.end());  // reaped: never signalled again
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string fields(const std::string& ev, const std::string& txid) {
    Record r;
    r.node = "unit";
    r.ev = ev;
    r.txid = txid;
    r.time_us = 1764400000000000;
    return serialize_fields(r);
}

std::optional<VerifyError> verify(const std::string& text, const cmi::SignatureVerifier* key = nullptr) {
    ChainVerifier v;
    if (key) v.require_checkpoints(key);
    std::istringstream in(text);
    v.feed_stream(in, "log");
    return v.error();
}

nlohmann::json record(const std::string& line) { return nlohmann::json::parse(line); }

std::string ed25519_pem() { return testpki::private_key_pem(testpki::ed25519_key().get()); }

// The writers' configuration here: node "unit", syncing or not, and what `tune` changes.
WriterConfig unit_config(bool sync, const std::function<void(WriterConfig&)>& tune = {}) {
    WriterConfig cfg;
    cfg.node = "unit";
    cfg.sync = sync;
    if (tune) tune(cfg);
    return cfg;
}

// One operation as a child makes it: its begin record (with `durable`, on
// storage before `after_begin` runs with its entry) and its end record, the
// entry let go. 0, or the exit status that says what failed: 2 the begin, 3
// the end, or after_begin's own.
int operation(Ring& ring, const std::string& txid, std::int64_t timeout_ns, bool durable = false,
              const std::function<int(std::uint32_t)>& after_begin = {}) {
    std::uint32_t e = 0;
    if (admit_begin(ring, fields("begin", txid), getpid(), timeout_ns, e, durable) != Ring::Admit::ok) return 2;
    if (after_begin)
        if (const int rc = after_begin(e)) return rc;
    if (admit_end(ring, fields("end", txid), e, getpid(), timeout_ns) != Ring::Admit::ok) return 3;
    ring.release_entry(e, true);
    return 0;
}

// A rig and its log writer, driven by the test itself (node "unit").
struct WriterRig : Rig {
    Counting ev;
    LogWriter w;
    explicit WriterRig(bool sync) : w(ring, *chain, fd, unit_config(sync), ev) {}
    // Begin records "0" .. "n-1" queued and written: the last one's entry.
    std::uint32_t write_begins(int n) {
        std::uint32_t e = 0;
        for (int i = 0; i < n; ++i) ring.publish_begin(fields("begin", std::to_string(i)), getpid(), e);
        w.write_ready();
        return e;
    }
    // `bytes` written into the log at `at` behind the writer's back; the writer
    // checks the file and writes one more begin record: the log's lines then.
    std::vector<std::string> write_after_tampering(const std::string& bytes, off_t at) {
        CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(bytes.size()), pwrite(fd, bytes.data(), bytes.size(), at));
        CPPUNIT_ASSERT(w.check_file());
        std::uint32_t e = 0;
        ring.publish_begin(fields("begin", "after"), getpid(), e);
        w.write_ready();
        return lines();
    }
};

// The log writer in a child process; with `take_lock`, as a restarted one
// (it takes the writer lock a killed predecessor may hold, checks the file).
pid_t start_writer(Rig& rig, WriterEvents& ev, const WriterConfig& cfg, bool take_lock = false) {
    return fork_run([&rig, &ev, cfg, take_lock] {
        if (take_lock && pthread_mutex_lock(&rig.chain->writer_lock) == EOWNERDEAD)
            pthread_mutex_consistent(&rig.chain->writer_lock);
        LogWriter w(rig.ring, *rig.chain, rig.fd, cfg, ev);
        if (take_lock) w.check_file();
        w.run(rig.shared->stop);
    });
}

// Stops a writer once it has written everything: its exit status.
int stop_writer(Rig& rig, pid_t writer) {
    rig.shared->stop = 2;
    rig.ring.nudge_writer();
    return wait_exit(writer);
}

}  // namespace

class AuditWriterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuditWriterTest);
    CPPUNIT_TEST(append_line_is_assemble_line);
    CPPUNIT_TEST(one_chain_from_many_processes);
    CPPUNIT_TEST(durable_waiters_learn_seq_and_line_hash);
    CPPUNIT_TEST(group_commit_shares_fdatasync);
    CPPUNIT_TEST(torn_write_is_cut_and_recorded);
    CPPUNIT_TEST(lines_appended_by_someone_else_are_not_adopted);
    CPPUNIT_TEST(file_cut_back_is_not_adopted);
    CPPUNIT_TEST(killed_writer_loses_nothing);
    CPPUNIT_TEST(killed_writer_leaves_no_waiter_behind);
    CPPUNIT_TEST(checkpoints_are_signed);
    CPPUNIT_TEST(saved_head_round_trip_and_tampering);
    CPPUNIT_TEST(startup_plans);
    CPPUNIT_TEST(full_file_system_refuses_begins_not_ends);
    CPPUNIT_TEST(records_that_are_not_printable_never_reach_the_log);
    CPPUNIT_TEST_SUITE_END();

public:
    void append_line_is_assemble_line() {
        const std::string f = fields("begin", "t1");
        std::string out = "x";
        append_line(out, 12345, f.substr(0, 10), f.substr(10), kGenesisPrev);
        CPPUNIT_ASSERT_EQUAL("x" + assemble_line(12345, f, std::string(kGenesisPrev)) + "\n", out);
    }

    void one_chain_from_many_processes() {
        Reaper reaper;
        Rig rig;
        Counting ev;
        const pid_t writer = start_writer(rig, ev, unit_config(false, [](WriterConfig& c) { c.poll_ns = 200000; }));
        constexpr int kProducers = 4, kOps = 500;
        std::vector<pid_t> producers;
        for (int p = 0; p < kProducers; ++p) {
            producers.push_back(fork_run([&rig, p] {
                for (int i = 0; i < kOps; ++i)
                    if (const int rc = operation(rig.ring, std::to_string(p) + "-" + std::to_string(i), 5000000000LL))
                        _exit(rc);
            }));
        }
        for (const pid_t pid : producers) CPPUNIT_ASSERT_EQUAL(0, wait_exit(pid));
        CPPUNIT_ASSERT_EQUAL(0, stop_writer(rig, writer));
        const auto lines = rig.lines();
        CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(2 * kProducers * kOps), lines.size());
        CPPUNIT_ASSERT(!verify(rig.content()));
        std::map<std::string, std::vector<std::string>> by;
        for (const auto& l : lines) {
            const auto j = record(l);
            by[j["txid"]].push_back(j["ev"]);
        }
        CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(kProducers * kOps), by.size());
        for (const auto& [txid, evs] : by) CPPUNIT_ASSERT(evs == std::vector<std::string>({"begin", "end"}));
        CPPUNIT_ASSERT_EQUAL(rig.ring.entry_count(), rig.ring.free_entries());
        const FileHead h = read_head(*rig.chain);
        CPPUNIT_ASSERT_EQUAL(static_cast<std::uint64_t>(lines.size()), h.seq);
        CPPUNIT_ASSERT_EQUAL(line_hash(lines.back()), h.hash);
        CPPUNIT_ASSERT_EQUAL(static_cast<off_t>(rig.content().size()), h.size);
    }

    void durable_waiters_learn_seq_and_line_hash() {
        Reaper reaper;
        Rig rig;
        Counting ev;
        const pid_t writer =
            start_writer(rig, ev, unit_config(true, [](WriterConfig& c) { c.commit_delay_ns = 500000; }));
        // Each producer reports seq and hash of its begin lines through a pipe.
        int pipefd[2];
        CPPUNIT_ASSERT_EQUAL(0, pipe(pipefd));
        std::vector<pid_t> producers;
        for (int p = 0; p < 3; ++p) {
            producers.push_back(fork_run([&rig, p, pipefd] {
                for (int i = 0; i < 40; ++i) {
                    const int rc = operation(rig.ring, std::to_string(p * 100 + i), 5000000000LL, true, [&](std::uint32_t e) {
                        if (await_entry(rig.ring, e, Await::durable, 5000000000LL) != kEntryDurable) return 4;
                        const Entry& en = rig.ring.entry(e);
                        const std::string msg = std::to_string(en.seq) + " " + cmi::hex(en.sha256, 32) + "\n";
                        return write(pipefd[1], msg.data(), msg.size()) != static_cast<ssize_t>(msg.size()) ? 5 : 0;
                    });
                    if (rc) _exit(rc);
                }
            }));
        }
        close(pipefd[1]);
        for (const pid_t pid : producers) CPPUNIT_ASSERT_EQUAL(0, wait_exit(pid));
        CPPUNIT_ASSERT_EQUAL(0, stop_writer(rig, writer));
        std::string reported;
        char buf[4096];
        for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) reported.append(buf, static_cast<std::size_t>(n));
        close(pipefd[0]);
        const auto lines = rig.lines();
        std::istringstream in(reported);
        int count = 0;
        for (std::uint64_t seq; in >> seq;) {
            std::string hash;
            in >> hash;
            CPPUNIT_ASSERT(seq >= 1 && seq <= lines.size());
            CPPUNIT_ASSERT_EQUAL(line_hash(lines[seq - 1]), hash);
            CPPUNIT_ASSERT_EQUAL(std::string("begin"), record(lines[seq - 1])["ev"].get<std::string>());
            ++count;
        }
        CPPUNIT_ASSERT_EQUAL(120, count);
        CPPUNIT_ASSERT(!verify(rig.content()));
    }

    void group_commit_shares_fdatasync() {
        // In one process: three begins queued, one write, one sync, all durable.
        WriterRig rig(true);
        std::uint32_t e[3];
        for (int i = 0; i < 3; ++i)
            CPPUNIT_ASSERT(rig.ring.publish_begin(fields("begin", std::to_string(i)), getpid(), e[i], true) ==
                           Ring::Admit::ok);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, rig.w.write_ready());
        for (int i = 0; i < 3; ++i) CPPUNIT_ASSERT_EQUAL(std::uint32_t{kEntryWritten}, rig.ring.entry(e[i]).state.load());
        CPPUNIT_ASSERT(rig.w.unsynced());
        rig.w.sync();
        CPPUNIT_ASSERT_EQUAL(1u, rig.ev.syncs);
        for (int i = 0; i < 3; ++i) {
            CPPUNIT_ASSERT_EQUAL(std::uint32_t{kEntryDurable}, rig.ring.entry(e[i]).state.load());
            CPPUNIT_ASSERT_EQUAL(static_cast<std::uint64_t>(i + 1), rig.ring.entry(e[i]).seq);
        }
        CPPUNIT_ASSERT(!rig.w.unsynced());
        CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(rig.content().size()), rig.chain->synced);
    }

    void torn_write_is_cut_and_recorded() {
        WriterRig rig(false);
        rig.write_begins(1);
        const std::string torn = "{\"v\":1,\"seq\":2,\"node\":\"half a rec";
        const auto lines = rig.write_after_tampering(torn, rig.chain->size);
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, lines.size());
        const auto rec = record(lines[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("recovered"), rec["ev"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(torn.size(), rec["recovered"]["bytes"].get<std::size_t>());
        CPPUNIT_ASSERT_EQUAL(cmi::sha256_hex(torn), rec["recovered"]["sha256"].get<std::string>());
        CPPUNIT_ASSERT(!verify(rig.content()));
    }

    void lines_appended_by_someone_else_are_not_adopted() {
        WriterRig rig(false);
        rig.write_begins(3);
        const FileHead h = read_head(*rig.chain);
        // A forged record, correctly chained to the last line.
        Record forged;
        forged.seq = h.seq + 1;
        forged.node = "unit";
        forged.ev = "begin";
        forged.method = "DELETE";
        forged.uri = "/cmi/everything";
        forged.prev = h.hash;
        const auto lines = rig.write_after_tampering(serialize(forged) + "\n", h.size);
        CPPUNIT_ASSERT_EQUAL(std::size_t{6}, lines.size());
        const auto disc = record(lines[4]);
        CPPUNIT_ASSERT_EQUAL(std::string("discontinuity"), disc["ev"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(h.seq + 1, disc["seq"].get<std::uint64_t>());
        CPPUNIT_ASSERT_EQUAL(h.hash, disc["prev"].get<std::string>());  // our head, not the forgery
        CPPUNIT_ASSERT_EQUAL(h.seq, disc["discontinuity"]["expected"]["seq"].get<std::uint64_t>());
        CPPUNIT_ASSERT_EQUAL(h.seq + 1, disc["discontinuity"]["found"]["seq"].get<std::uint64_t>());
        const auto err = verify(rig.content());
        CPPUNIT_ASSERT(err);
        CPPUNIT_ASSERT(rig.ev.messages.back().rfind("1 the log was changed", 0) == 0);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{1}, rig.chain->discontinuities.load());
    }

    void file_cut_back_is_not_adopted() {
        WriterRig rig(false);
        std::uint32_t e = rig.write_begins(6);
        const FileHead h = read_head(*rig.chain);
        auto lines = rig.lines();
        const off_t keep = static_cast<off_t>(lines[0].size() + lines[1].size());
        CPPUNIT_ASSERT_EQUAL(0, ftruncate(rig.fd, keep));
        rig.ring.publish_begin(fields("begin", "after"), getpid(), e);
        CPPUNIT_ASSERT(rig.w.check_file());
        rig.w.write_ready();
        lines = rig.lines();
        CPPUNIT_ASSERT_EQUAL(std::size_t{4}, lines.size());
        const auto disc = record(lines[2]);
        CPPUNIT_ASSERT_EQUAL(std::string("discontinuity"), disc["ev"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(h.seq + 1, disc["seq"].get<std::uint64_t>());  // seq is not reused
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{2}, disc["discontinuity"]["found"]["seq"].get<std::uint64_t>());
        CPPUNIT_ASSERT_EQUAL(h.seq + 2, record(lines[3])["seq"].get<std::uint64_t>());
        CPPUNIT_ASSERT(verify(rig.content()));
    }

    void killed_writer_loses_nothing() {
        Reaper reaper;
        Rig rig({128 * 1024, 512});
        Counting ev;
        WriterConfig cfg = unit_config(false);
        cfg.poll_ns = 100000;
        auto restart = [&] { return start_writer(rig, ev, cfg, true); };
        pid_t writer = restart();
        constexpr int kOps = 3000;
        const pid_t producer = fork_run([&rig] {
            for (int i = 0; i < kOps; ++i) {
                std::uint32_t e = 0;
                if (admit_begin(rig.ring, fields("begin", std::to_string(i)), getpid(), 20000000000LL, e) !=
                    Ring::Admit::ok)
                    _exit(2);
                rig.ring.release_entry(e, false);
            }
        });
        for (int kill_no = 0; kill_no < 5; ++kill_no) {
            usleep(20000);
            kill(writer, SIGKILL);
            wait_exit(writer);
            writer = restart();
        }
        CPPUNIT_ASSERT_EQUAL(0, wait_exit(producer));
        CPPUNIT_ASSERT_EQUAL(0, stop_writer(rig, writer));
        const auto lines = rig.lines();
        std::vector<int> seen(kOps, 0);
        for (const auto& l : lines) {
            const auto j = record(l);
            if (j["ev"] == "begin") ++seen[std::stoi(j["txid"].get<std::string>())];
            else CPPUNIT_ASSERT_EQUAL(std::string("recovered"), j["ev"].get<std::string>());
        }
        for (int i = 0; i < kOps; ++i) CPPUNIT_ASSERT_EQUAL(1, seen[i]);
        CPPUNIT_ASSERT(!verify(rig.content()));
    }

    void killed_writer_leaves_no_waiter_behind() {
        Reaper reaper;
        // Sync On: a writer killed between its write and finishing (or syncing)
        // the batch leaves begin records whose producers wait for durability;
        // the next writer finishes them (resume), none waits in vain.
        Rig rig({128 * 1024, 512});
        Counting ev;
        auto restart = [&] { return start_writer(rig, ev, unit_config(true), true); };
        pid_t writer = restart();
        std::vector<pid_t> producers;
        for (int p = 0; p < 4; ++p) {
            producers.push_back(fork_run([&rig, p] {
                for (int i = 0; i < 300; ++i) {
                    // Longer than any gap between writers here: a timeout means a waiter was left behind.
                    const auto durable = [&](std::uint32_t e) {
                        return await_entry(rig.ring, e, Await::durable, 15000000000LL) != kEntryDurable ? 4 : 0;
                    };
                    const int rc = operation(rig.ring, std::to_string(p * 1000 + i), 20000000000LL, true, durable);
                    if (rc) _exit(rc);
                }
            }));
        }
        for (int kill_no = 0; kill_no < 30; ++kill_no) {
            usleep(static_cast<useconds_t>(3000 + (kill_no * 7919) % 9000));
            kill(writer, SIGKILL);
            wait_exit(writer);
            writer = restart();
        }
        for (const pid_t pid : producers) CPPUNIT_ASSERT_EQUAL(0, wait_exit(pid));
        CPPUNIT_ASSERT_EQUAL(0, stop_writer(rig, writer));
        std::map<std::string, std::vector<std::string>> by;
        for (const auto& l : rig.lines()) {
            const auto j = record(l);
            if (j["ev"] != "recovered") by[j["txid"]].push_back(j["ev"]);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t{1200}, by.size());
        for (const auto& [txid, evs] : by) CPPUNIT_ASSERT(evs == std::vector<std::string>({"begin", "end"}));
        CPPUNIT_ASSERT(!verify(rig.content()));
        CPPUNIT_ASSERT_EQUAL(rig.ring.entry_count(), rig.ring.free_entries());
    }

    void checkpoints_are_signed() {
        Rig rig;
        Counting ev;
        const auto signer = cmi::Signer::from_pem(ed25519_pem());
        const auto key = cmi::SignatureVerifier::from_pem(signer.public_pem());
        WriterConfig cfg = unit_config(false);
        cfg.signer = &signer;
        cfg.checkpoint_records = 4;
        rig.chain->checkpoint_time_us = static_cast<std::int64_t>(time(nullptr)) * 1000000;  // by count only
        LogWriter w(rig.ring, *rig.chain, rig.fd, cfg, ev);
        std::uint32_t e = 0;
        for (int i = 0; i < 10; ++i) rig.ring.publish_begin(fields("begin", std::to_string(i)), getpid(), e);
        w.write_ready();
        const auto lines = rig.lines();
        CPPUNIT_ASSERT_EQUAL(std::size_t{12}, lines.size());  // a checkpoint after 4 and after 8 more... records
        CPPUNIT_ASSERT_EQUAL(std::string("checkpoint"), record(lines[4])["ev"].get<std::string>());
        CPPUNIT_ASSERT(!verify(rig.content(), &key));
        // httpd killed with the head saved at seq 1: the checkpoints after it
        // confirm the records up to the last one; only those after are unconfirmed.
        {
            std::uint64_t last_cp = 0;
            for (const auto& l : lines)
                if (record(l)["ev"] == "checkpoint") last_cp = record(l)["seq"].get<std::uint64_t>();
            SavedHead s;
            s.head = ChainHead{1, line_hash(lines[0])};
            s.size = static_cast<off_t>(lines[0].size());
            const auto plan = plan_startup(rig.fd, format_saved_head(s, &signer), &key, rig.path);
            CPPUNIT_ASSERT(plan.kind == StartupPlan::continue_log && plan.unconfirmed);
            CPPUNIT_ASSERT_EQUAL(last_cp, plan.unconfirmed->after);
            CPPUNIT_ASSERT_EQUAL(std::uint64_t{lines.size()}, plan.unconfirmed->through);
        }
        // A discontinuity is followed by a signed checkpoint at once.
        CPPUNIT_ASSERT_EQUAL(0, ftruncate(rig.fd, static_cast<off_t>(lines[0].size())));
        CPPUNIT_ASSERT(w.check_file());
        const auto after = rig.lines();
        CPPUNIT_ASSERT_EQUAL(std::string("discontinuity"), record(after[1])["ev"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("checkpoint"), record(after[2])["ev"].get<std::string>());
    }

    void saved_head_round_trip_and_tampering() {
        const auto signer = cmi::Signer::from_pem(ed25519_pem());
        const auto key = cmi::SignatureVerifier::from_pem(signer.public_pem());
        SavedHead s;
        s.head = ChainHead{42, std::string(64, 'a')};
        s.size = 12345;
        s.stopped = true;
        const std::string text = format_saved_head(s, &signer);
        std::string why;
        const auto back = parse_saved_head(text, &key, why);
        CPPUNIT_ASSERT(back);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{42}, back->head.seq);
        CPPUNIT_ASSERT(back->stopped && back->signed_by_key && *back->size == 12345);
        std::string forged = text;
        forged.replace(forged.find("seq 42"), 6, "seq 41");
        CPPUNIT_ASSERT(!parse_saved_head(forged, &key, why));
        CPPUNIT_ASSERT(why.find("does not verify") != std::string::npos);
        // Without a key a v1 head; with a key a v1 head is not enough.
        const std::string v1 = format_saved_head(s, nullptr);
        CPPUNIT_ASSERT_EQUAL(format_head_file(s.head), v1);
        CPPUNIT_ASSERT(parse_saved_head(v1, nullptr, why));
        CPPUNIT_ASSERT(!parse_saved_head(v1, &key, why));
    }

    void startup_plans() {
        const auto signer = cmi::Signer::from_pem(ed25519_pem());
        const auto key = cmi::SignatureVerifier::from_pem(signer.public_pem());
        WriterRig rig(false);
        rig.write_begins(5);
        const auto lines = rig.lines();
        auto saved_at = [&](std::size_t n, bool stopped) {
            SavedHead s;
            s.head = ChainHead{n, line_hash(lines[n - 1])};
            s.stopped = stopped;
            std::size_t size = 0;
            for (std::size_t i = 0; i < n; ++i) size += lines[i].size();
            s.size = static_cast<off_t>(size);
            return format_saved_head(s, &signer);
        };
        const std::string p = rig.path;
        CPPUNIT_ASSERT(plan_startup(rig.fd, saved_at(5, true), &key, p).kind == StartupPlan::continue_log);
        // More records than a head saved while running: httpd died; a warning.
        auto plan = plan_startup(rig.fd, saved_at(3, false), &key, p);
        CPPUNIT_ASSERT(plan.kind == StartupPlan::continue_log && plan.level == 4);
        // Records 4 and 5 are confirmed by no signature (no checkpoint after the
        // head): an unconfirmed record must name them before anything signs over them.
        CPPUNIT_ASSERT(plan.unconfirmed && plan.unconfirmed->after == 3 && plan.unconfirmed->through == 5);
        CPPUNIT_ASSERT(!plan_startup(rig.fd, saved_at(5, false), &key, p).unconfirmed);
        // ... but after a clean stop nothing may follow the head.
        CPPUNIT_ASSERT(plan_startup(rig.fd, saved_at(3, true), &key, p).kind == StartupPlan::discontinuity);
        // The log cut back below the head.
        std::string longer;
        {
            SavedHead s;
            s.head = ChainHead{9, std::string(64, 'b')};
            s.size = 99999;
            longer = format_saved_head(s, &signer);
        }
        plan = plan_startup(rig.fd, longer, &key, p);
        CPPUNIT_ASSERT(plan.kind == StartupPlan::discontinuity && plan.level == 1);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{9}, plan.expected->seq);
        // Missing or forged head with a key: reported; without a key a missing one is a notice.
        CPPUNIT_ASSERT(plan_startup(rig.fd, std::nullopt, &key, p).kind == StartupPlan::discontinuity);
        CPPUNIT_ASSERT(plan_startup(rig.fd, std::nullopt, nullptr, p).kind == StartupPlan::continue_log);
        std::string forged = saved_at(5, true);
        forged[forged.find("seq ") + 4] = '4';
        CPPUNIT_ASSERT(plan_startup(rig.fd, forged, &key, p).kind == StartupPlan::discontinuity);
        // A rewritten last line with a head rewritten to match, but unsigned (v1).
        CPPUNIT_ASSERT(plan_startup(rig.fd, format_head_file(ChainHead{5, line_hash(lines[4])}), &key, p).kind ==
                       StartupPlan::discontinuity);
        // An empty log continues a saved head; a forged one stops start-up.
        CPPUNIT_ASSERT_EQUAL(0, ftruncate(rig.fd, 0));
        plan = plan_startup(rig.fd, saved_at(5, true), &key, p);
        CPPUNIT_ASSERT(plan.kind == StartupPlan::continue_saved && plan.head.seq == 5);
        CPPUNIT_ASSERT(plan_startup(rig.fd, forged, &key, p).kind == StartupPlan::refuse);
    }

    void records_that_are_not_printable_never_reach_the_log() {
        // The ring is shared with every child: whatever is in it, a line of the
        // log is printable ASCII with no line feed inside.
        WriterRig rig(false);
        const std::string ok = fields("begin", "ok");
        std::uint32_t e = 0;
        for (const std::string& bad : {ok.substr(0, 20) + "\n" + ok.substr(20), ok + std::string(1, '\x7f'),
                                      std::string(9, 'a') + "\xc3\xa9" + ok, ok + "\t", std::string(1, '\x1f')}) {
            rig.ring.publish_begin(bad, getpid(), e);
            rig.ring.publish_begin(ok, getpid(), e);
        }
        rig.w.write_ready();
        const auto lines = rig.lines();
        CPPUNIT_ASSERT_EQUAL(std::size_t{5}, lines.size());
        for (const auto& l : lines) CPPUNIT_ASSERT_EQUAL(std::string("ok"), record(l)["txid"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t{5}, rig.ring.control().records_lost.load());
        CPPUNIT_ASSERT(!verify(rig.content()));
    }

    void full_file_system_refuses_begins_not_ends() {
        Rig rig;
        RingControl& c = rig.ring.control();
        c.disk_unlimited.store(0);
        c.disk_credit.store(0);
        c.disk_full.store(1);
        std::uint32_t e = 0;
        const std::int64_t t0 = cmi::monotonic_ns();
        CPPUNIT_ASSERT(admit_begin(rig.ring, fields("begin", "x"), getpid(), 5000000000LL, e) == Ring::Admit::disk_full);
        CPPUNIT_ASSERT(cmi::monotonic_ns() - t0 < 1000000000LL);  // at once: the writer said so
        c.disk_full.store(0);
        c.disk_credit.store(1 << 20);
        CPPUNIT_ASSERT(admit_begin(rig.ring, fields("begin", "x"), getpid(), 0, e) == Ring::Admit::ok);
        c.disk_credit.store(0);
        c.disk_full.store(1);
        CPPUNIT_ASSERT(admit_end(rig.ring, fields("end", "x"), e, getpid(), 0) == Ring::Admit::ok);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuditWriterTest);
