#include "libcmi/audit_verify.hpp"

#include "libcmi/base64.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cmi::audit {
namespace {

struct Parsed {
    std::uint64_t seq = 0;
    std::string prev;
    std::string ev;
    nlohmann::json checkpoint;  // null unless present
    std::optional<std::string> discontinuity;  // its reason, for ev "discontinuity"
    std::optional<std::pair<std::uint64_t, std::uint64_t>> unconfirmed;  // after, through, for ev "unconfirmed"
};

// The chain fields of one line, or the reason it is not a record.
std::optional<Parsed> parse_record(std::string_view line, std::string& why) {
    const auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        why = "not valid JSON";
        return std::nullopt;
    }
    if (!j.is_object()) {
        why = "not a JSON object";
        return std::nullopt;
    }
    const auto v = j.find("v");
    if (v == j.end() || !v->is_number_integer() || v->get<int>() != 1) {
        why = "missing or unknown record version \"v\"";
        return std::nullopt;
    }
    const auto seq = j.find("seq");
    if (seq == j.end() || !seq->is_number_unsigned() || seq->get<std::uint64_t>() == 0) {
        why = "missing or invalid \"seq\"";
        return std::nullopt;
    }
    const auto prev = j.find("prev");
    if (prev == j.end() || !prev->is_string() || !is_sha256_hex(prev->get<std::string>())) {
        why = "missing or invalid \"prev\"";
        return std::nullopt;
    }
    const auto ev = j.find("ev");
    if (ev == j.end() || !ev->is_string()) {
        why = "missing \"ev\"";
        return std::nullopt;
    }
    Parsed p{seq->get<std::uint64_t>(), prev->get<std::string>(), ev->get<std::string>(), nullptr, std::nullopt, std::nullopt};
    if (const auto cp = j.find("checkpoint"); cp != j.end()) p.checkpoint = *cp;
    if (p.ev == "discontinuity") {
        const auto d = j.find("discontinuity");
        const bool has_reason = d != j.end() && d->is_object() && d->contains("reason") && (*d)["reason"].is_string();
        p.discontinuity = has_reason ? (*d)["reason"].get<std::string>() : std::string("no reason given");
    }
    if (p.ev == "unconfirmed") {
        const auto u = j.find("unconfirmed");
        if (u == j.end() || !u->is_object() || !u->contains("after") || !(*u)["after"].is_number_unsigned() ||
            !u->contains("through") || !(*u)["through"].is_number_unsigned()) {
            why = "an unconfirmed record without \"unconfirmed\": {\"after\", \"through\"}";
            return std::nullopt;
        }
        p.unconfirmed = std::make_pair((*u)["after"].get<std::uint64_t>(), (*u)["through"].get<std::uint64_t>());
    }
    return p;
}

}  // namespace

bool ChainVerifier::fail(std::optional<std::uint64_t> seq, const std::string& where, std::string reason) {
    error_ = VerifyError{seq, where, std::move(reason)};
    return false;
}

bool ChainVerifier::feed(std::string_view line, bool complete, const std::string& where) {
    if (error_) return false;
    const std::optional<std::uint64_t> expected =
        started_ ? std::optional<std::uint64_t>(head_.seq + 1) : std::nullopt;
    if (!complete)
        return fail(expected, where, "torn record: the last line has no line feed (an interrupted write)");
    std::string why;
    const auto rec = parse_record(line, why);
    if (!rec) return fail(expected, where, "record is unreadable: " + why);
    // The server recorded that the log on disk is not the chain it wrote
    // (cut back, rewritten, or not matching its saved head): never OK.
    if (rec->discontinuity)
        return fail(rec->seq, where,
                    "discontinuity: the server found the log changed behind it and did not continue it: " +
                        *rec->discontinuity);
    if (!started_) {
        // The first record may continue an earlier log; seq 1 starts the chain.
        if (rec->seq == 1 && rec->prev != kGenesisPrev)
            return fail(rec->seq, where, "seq 1 must have prev = 64 zeros");
    } else if (rec->seq != head_.seq + 1) {
        const std::uint64_t want = head_.seq + 1;
        if (rec->seq > want)
            return fail(want, where,
                        "seq " + std::to_string(want) + " is missing: found seq " + std::to_string(rec->seq) +
                            " after seq " + std::to_string(head_.seq) + " (a record was deleted or moved)");
        return fail(want, where,
                    "seq " + std::to_string(want) + " expected, found seq " + std::to_string(rec->seq) +
                        " (records duplicated or out of order)");
    } else if (rec->prev != head_.hash) {
        return fail(rec->seq, where,
                    "chain broken: prev of seq " + std::to_string(rec->seq) +
                        " is not the hash of the line of seq " + std::to_string(head_.seq) + " (seq " +
                        std::to_string(head_.seq) + " or seq " + std::to_string(rec->seq) + " was altered)");
    }
    if (rec->unconfirmed) {
        // It names the records just before it; the chain itself was checked above.
        const auto [after, through] = *rec->unconfirmed;
        if (through + 1 != rec->seq || after > through)
            return fail(rec->seq, where, "unconfirmed record names seq " + std::to_string(after + 1) + " to " +
                                             std::to_string(through) + ", not the records just before it");
        if (after < through) unconfirmed_.emplace_back(after + 1, through);
    }
    if (rec->ev == "checkpoint") {
        if (key_) {
            const auto& cp = rec->checkpoint;
            if (!cp.is_object() || !cp.contains("sig") || !cp["sig"].is_string() || !cp.contains("keyid") ||
                !cp["keyid"].is_string())
                return fail(rec->seq, where, "checkpoint has no signature");
            if (cp["keyid"].get<std::string>() != key_->keyid())
                return fail(rec->seq, where, "checkpoint is signed by another key (keyid " +
                                                 cp["keyid"].get<std::string>() + ")");
            std::vector<unsigned char> sig;
            try {
                sig = cmi::base64_decode_padded(cp["sig"].get<std::string>());
            } catch (const std::exception&) {
                return fail(rec->seq, where, "checkpoint signature is not base64");
            }
            if (!key_->verify(checkpoint_message(rec->seq, rec->prev), sig))
                return fail(rec->seq, where, "checkpoint signature does not verify");
        }
        ++checkpoints_;
        last_checkpoint_ = rec->seq;
    }
    std::string bytes(line);
    bytes.push_back('\n');
    head_ = ChainHead{rec->seq, line_hash(bytes)};
    if (!started_) first_seq_ = rec->seq;
    started_ = true;
    ++records_;
    if (observer_) observer_(rec->seq, line, where);
    return true;
}

bool ChainVerifier::feed_stream(std::istream& in, const std::string& name) {
    std::string line;
    std::uint64_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!feed(line, !in.eof(), name + ":" + std::to_string(n))) return false;
    }
    if (in.bad()) return fail(std::nullopt, name, "read error");
    return !error_;
}

bool ChainVerifier::feed_streams(const std::vector<std::pair<std::istream*, std::string>>& inputs) {
    struct Cursor {
        std::istream* in = nullptr;
        std::string name;
        std::uint64_t line_no = 0;
        std::string line;
        bool complete = false;
        bool has = false;
        std::optional<std::uint64_t> seq;  // nullopt: not a readable record
    };
    std::vector<Cursor> cursors;
    for (const auto& [in, name] : inputs) {
        Cursor c;
        c.in = in;
        c.name = name;
        cursors.push_back(std::move(c));
    }
    auto advance = [](Cursor& c) {
        c.has = static_cast<bool>(std::getline(*c.in, c.line));
        if (!c.has) return;
        ++c.line_no;
        c.complete = !c.in->eof();
        std::string why;
        const auto rec = parse_record(c.line, why);
        c.seq = rec ? std::optional<std::uint64_t>(rec->seq) : std::nullopt;
    };
    // A file that cannot be read on (a truncated gzip file) is reported
    // where it stops, not as the seq gap it leaves.
    auto unreadable = [](const Cursor& c) { return !c.has && c.in->bad(); };
    for (auto& c : cursors) {
        advance(c);
        if (unreadable(c)) return fail(std::nullopt, c.name + ":" + std::to_string(c.line_no + 1), "read error");
    }
    for (;;) {
        Cursor* next = nullptr;
        for (auto& c : cursors) {
            if (!c.has) continue;
            // An unreadable line is reported as soon as it is at the front.
            if (!c.seq || !c.complete) {
                next = &c;
                break;
            }
            if (!next || *c.seq < *next->seq) next = &c;
        }
        if (!next) break;
        if (!feed(next->line, next->complete, next->name + ":" + std::to_string(next->line_no))) return false;
        advance(*next);
        if (unreadable(*next))
            return fail(std::nullopt, next->name + ":" + std::to_string(next->line_no + 1), "read error");
    }
    for (const auto& c : cursors)
        if (c.in->bad()) return fail(std::nullopt, c.name, "read error");
    return !error_;
}

std::string pread_exact(int fd, off_t at, off_t len) {
    std::string buf(static_cast<std::size_t>(len), '\0');
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = pread(fd, buf.data() + got, buf.size() - got, at + static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::system_error(errno, std::generic_category(), "pread");
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    buf.resize(got);
    return buf;
}

LogTail read_tail(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
    LogTail tail;
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return tail;
    const off_t size = st.st_size;

    // Grow a window back from the end until it holds the last complete line.
    std::string buf;
    off_t window = 64 * 1024;
    for (;;) {
        const off_t start = window >= size ? 0 : size - window;
        buf = pread_exact(fd, start, size - start);
        // The last line feed ends the last complete line.
        std::size_t end = buf.size();
        while (end > 0 && buf[end - 1] != '\n') --end;
        tail.torn = end != buf.size();
        if (end == 0 && start == 0) {  // not one complete line in the file
            tail.valid_size = 0;
            return tail;
        }
        if (end > 0) {
            std::size_t begin = end - 1;
            while (begin > 0 && buf[begin - 1] != '\n') --begin;
            if (begin > 0 || start == 0) {
                tail.valid_size = start + static_cast<off_t>(end);
                const std::string_view line(buf.data() + begin, end - 1 - begin);
                std::string why;
                const auto rec = parse_record(line, why);
                if (!rec) {
                    tail.error = "the last complete line is not an audit record: " + why;
                    return tail;
                }
                tail.head = ChainHead{rec->seq, line_hash(std::string_view(buf.data() + begin, end - begin))};
                return tail;
            }
        }
        if (start == 0) return tail;
        window *= 2;
    }
}

}  // namespace cmi::audit
