#include "libcmi/audit_recovery.hpp"

#include "libcmi/log_id.hpp"

#include "libcmi/audit_verify.hpp"
#include "libcmi/base64.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/signer.hpp"

#include <cerrno>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cmi::audit {
namespace {

constexpr off_t kMaxExtraBytes = 4 << 20;      // more than this after the head: not a torn write
constexpr off_t kMaxScanBack = 64 << 20;       // how far back start-up looks for the saved head's line

off_t file_size(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
    return S_ISREG(st.st_mode) ? st.st_size : -1;
}

std::optional<ChainHead> last_record(int fd) {
    const LogTail tail = read_tail(fd);
    if (!tail.error.empty() || tail.head.seq == 0) return std::nullopt;
    return tail.head;
}

std::string describe(const std::optional<ChainHead>& h) {
    if (!h) return "no readable record";
    return "seq " + std::to_string(h->seq) + " (line sha256 " + h->hash + ")";
}

// The complete lines of the file's last `window` bytes before `end`, in order.
std::vector<std::string> lines_before(int fd, off_t end, off_t window, bool& from_start) {
    const off_t start = window >= end ? 0 : end - window;
    from_start = start == 0;
    std::string buf = pread_exact(fd, start, end - start);
    std::vector<std::string> lines;
    std::size_t at = 0;
    if (start > 0) {  // the first piece is part of an earlier line
        const auto nl = buf.find('\n');
        at = nl == std::string::npos ? buf.size() : nl + 1;
    }
    while (at < buf.size()) {
        const auto nl = buf.find('\n', at);
        if (nl == std::string::npos) break;
        lines.push_back(buf.substr(at, nl + 1 - at));
        at = nl + 1;
    }
    return lines;
}

std::optional<std::uint64_t> seq_of(const std::string& line) {
    static const std::string prefix = "{\"v\":1,\"seq\":";
    if (line.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    std::uint64_t v = 0;
    std::size_t i = prefix.size();
    if (i >= line.size() || line[i] < '0' || line[i] > '9') return std::nullopt;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) v = v * 10 + static_cast<std::uint64_t>(line[i] - '0');
    return v;
}

// Whether the log (complete lines up to `valid_size`) holds the saved head's
// line and a whole chain from it to its end. `after`: the records after the
// head; `confirmed`: the last record a signature of `key` confirms (the saved
// head, or a later checkpoint that verifies; a forged one fails the chain).
bool extends(int fd, off_t valid_size, const SavedHead& saved, const SignatureVerifier* key, std::uint64_t& after,
             std::uint64_t& confirmed) {
    for (off_t window = 1 << 20;; window *= 2) {
        bool from_start = false;
        const auto lines = lines_before(fd, valid_size, window, from_start);
        std::size_t first = lines.size();
        if (saved.head.seq == 0) {
            if (from_start) first = 0;
        } else {
            for (std::size_t i = lines.size(); i-- > 0;) {
                const auto seq = seq_of(lines[i]);
                if (seq && *seq == saved.head.seq) {
                    first = i;
                    break;
                }
                if (seq && *seq < saved.head.seq) break;
            }
        }
        if (first < lines.size() || from_start || window >= kMaxScanBack) {
            if (first >= lines.size()) return false;
            ChainVerifier v;
            v.require_checkpoints(key);
            if (saved.head.seq > 0 && line_hash(lines[first]) != saved.head.hash) return false;
            for (std::size_t i = first; i < lines.size(); ++i) {
                const std::string_view body(lines[i].data(), lines[i].size() - 1);
                if (!v.feed(body, true, "log")) return false;
            }
            if (saved.head.seq == 0 && (lines.empty() || seq_of(lines.front()) != std::uint64_t{1})) return false;
            after = v.head().seq - saved.head.seq;
            confirmed = key && v.checkpoints() > 0 ? v.last_checkpoint_seq() : saved.head.seq;
            return true;
        }
    }
}

std::uint32_t last_line_length(int fd, off_t valid_size) {
    bool from_start = false;
    for (off_t window = 64 * 1024;; window *= 2) {
        const auto lines = lines_before(fd, valid_size, window, from_start);
        if (!lines.empty()) return static_cast<std::uint32_t>(lines.back().size());
        if (from_start) return 0;
    }
}

}  // namespace

TailCheck check_tail(int fd, const FileHead& head, off_t inflight_end, const std::string* last_line) {
    TailCheck c;
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
    if (!S_ISREG(st.st_mode)) return c;  // a device: nothing to compare
    if (st.st_nlink == 0) {
        c.kind = TailCheck::deleted;
        return c;
    }
    const off_t size = st.st_size;
    c.file_size = size;
    auto head_line_matches = [&] {
        if (head.last_len == 0) return true;  // the head is in an earlier file
        if (static_cast<off_t>(head.last_len) > head.size) return false;
        const std::string line = pread_exact(fd, head.size - head.last_len, head.last_len);
        if (line.size() != head.last_len) return false;
        if (last_line && last_line->size() == head.last_len) return line == *last_line;
        return line_hash(line) == head.hash;
    };
    const auto at = [&](off_t bytes) { return std::to_string(bytes); };
    if (size < head.size) {
        c.kind = TailCheck::shorter;
        c.detail = "it is " + at(size) + " bytes long, but the chain the server wrote ends at byte " + at(head.size);
    } else if (!head_line_matches()) {
        c.kind = TailCheck::changed;
        c.detail = "the line ending at byte " + at(head.size) + " is not the server's record seq " +
                   std::to_string(head.seq) + " (sha256 " + head.hash + ")";
    } else if (size == head.size) {
        return c;
    } else if (size - head.size > kMaxExtraBytes && !(inflight_end > head.size && size <= inflight_end)) {
        c.kind = TailCheck::foreign;
        c.detail = at(size - head.size) + " bytes the server did not write follow its last record seq " +
                   std::to_string(head.seq);
    } else {
        c.cut = pread_exact(fd, head.size, size - head.size);
        const bool ours = inflight_end > head.size && size <= inflight_end;
        if (ours || c.cut.find('\n') == std::string::npos) {
            c.kind = TailCheck::torn;
            return c;
        }
        c.kind = TailCheck::foreign;
        c.cut.clear();
        c.detail = "complete lines the server did not write (" + at(size - head.size) +
                   " bytes) follow its last record seq " + std::to_string(head.seq);
    }
    c.found = last_record(fd);
    c.detail += "; the file ends with " + describe(c.found);
    return c;
}

Record recovered_record(const std::string& node, std::int64_t now_us, const std::string& torn) {
    Record rec;
    rec.node = node;
    rec.ev = "recovered";
    rec.time_us = now_us;
    rec.recovered = Record::Recovered{torn.size(), sha256_hex(torn)};
    return rec;
}

Record discontinuity_record(const std::string& node, std::int64_t now_us, const std::string& reason,
                            const std::optional<ChainHead>& expected, const TailCheck& found) {
    Record rec;
    rec.node = node;
    rec.ev = "discontinuity";
    rec.time_us = now_us;
    Record::Discontinuity d;
    d.reason = reason;
    if (expected) {
        d.expected_seq = expected->seq;
        d.expected_hash = expected->hash;
    }
    if (found.found) {
        d.found_seq = found.found->seq;
        d.found_hash = found.found->hash;
    }
    d.found_size = static_cast<std::uint64_t>(found.file_size);
    rec.discontinuity = std::move(d);
    return rec;
}

// --- <log>.head -------------------------------------------------------------------

namespace {
constexpr std::string_view kV1 = "cmi-audit head v1\n";
constexpr std::string_view kV2 = "cmi-audit head v2\n";

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool parse_number(std::string_view s, std::uint64_t& v) {
    if (s.empty() || s.size() > 19) return false;
    v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

// "name value\n" at the front of `text`.
bool take_field(std::string_view& text, std::string_view name, std::string_view& value) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    const std::string_view line = text.substr(0, nl);
    if (line.size() <= name.size() + 1 || line.substr(0, name.size()) != name || line[name.size()] != ' ')
        return false;
    value = line.substr(name.size() + 1);
    text.remove_prefix(nl + 1);
    return true;
}

std::string v2_body(const SavedHead& s) {
    return std::string(kV2) + "seq " + std::to_string(s.head.seq) + "\nhash " + s.head.hash + "\nsize " +
           std::to_string(s.size.value_or(0)) + "\nstate " + (s.stopped ? "stopped" : "running") + "\n";
}

}  // namespace

std::string format_saved_head(const SavedHead& saved, const Signer* signer) {
    if (!signer) return format_head_file(saved.head);
    const std::string body = v2_body(saved);
    const auto sig = signer->sign(body);
    return body + "sig " + signer->algorithm() + " " + signer->keyid() + " " + base64(sig.data(), sig.size()) + "\n";
}

std::optional<SavedHead> parse_saved_head(std::string_view text, const SignatureVerifier* key, std::string& why) {
    SavedHead s;
    if (text.substr(0, kV1.size()) == kV1) {
        if (key) {
            why = "it is not signed (v1), but CMIAuditSigningKey is set: a signed (v2) head was expected";
            return std::nullopt;
        }
        const auto head = parse_head_file(text);
        if (!head) {
            why = "it is not a saved chain head";
            return std::nullopt;
        }
        s.head = *head;
        return s;
    }
    if (text.substr(0, kV2.size()) != kV2) {
        why = "it is not a saved chain head";
        return std::nullopt;
    }
    std::string_view rest = text.substr(kV2.size());
    std::string_view seq, hash, size, state, sig;
    std::uint64_t n = 0, bytes = 0;
    if (!take_field(rest, "seq", seq) || !parse_number(seq, n) || !take_field(rest, "hash", hash) ||
        !is_hex64(hash) || !take_field(rest, "size", size) || !parse_number(size, bytes) ||
        !take_field(rest, "state", state) || (state != "running" && state != "stopped")) {
        why = "it is not a saved chain head (v2)";
        return std::nullopt;
    }
    const std::size_t body_len = text.size() - rest.size();
    s.head = ChainHead{n, std::string(hash)};
    s.size = static_cast<off_t>(bytes);
    s.stopped = state == "stopped";
    if (!take_field(rest, "sig", sig) || !rest.empty()) {
        why = "it is not a signed chain head (v2)";
        return std::nullopt;
    }
    if (key) {
        // sig: <alg> <keyid> <base64>
        const auto sp1 = sig.find(' ');
        const auto sp2 = sp1 == std::string_view::npos ? sp1 : sig.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) {
            why = "its signature line is malformed";
            return std::nullopt;
        }
        if (sig.substr(sp1 + 1, sp2 - sp1 - 1) != key->keyid()) {
            why = "it is signed by another key (not CMIAuditSigningKey)";
            return std::nullopt;
        }
        std::vector<unsigned char> raw;
        try {
            raw = base64_decode_padded(sig.substr(sp2 + 1));
        } catch (const std::exception&) {
            why = "its signature is not base64";
            return std::nullopt;
        }
        if (!key->verify(text.substr(0, body_len), raw)) {
            why = "its signature does not verify with CMIAuditSigningKey";
            return std::nullopt;
        }
        s.signed_by_key = true;
    }
    return s;
}

// --- start-up ---------------------------------------------------------------------

StartupPlan plan_startup(int fd, const std::optional<std::string>& saved_text, const SignatureVerifier* key,
                         const std::string& log_path) {
    StartupPlan plan;
    const std::string head_path = log_path + ".head";
    const off_t size = file_size(fd);
    if (size < 0) return plan;  // a device: nothing to continue
    const LogTail tail = read_tail(fd);
    if (!tail.error.empty()) {
        plan.kind = StartupPlan::refuse;
        plan.message = "audit log " + log_path + ": " + tail.error + "; check it with cmi-audit verify and move it aside";
        return plan;
    }
    if (tail.torn) plan.torn = pread_exact(fd, tail.valid_size, size - tail.valid_size);

    std::optional<SavedHead> saved;
    std::string why;
    if (saved_text) saved = parse_saved_head(*saved_text, key, why);
    const bool saved_invalid = saved_text && !saved;

    if (tail.head.seq == 0) {  // no record in the file (new, rotated, or only a torn line)
        if (saved_invalid) {
            plan.kind = StartupPlan::refuse;
            plan.message = "audit log " + log_path + " is empty and " + head_path + " cannot be used: " + why +
                           "; if the log and its head were not tampered with, move " + head_path +
                           " aside to start a new chain at seq 1";
            return plan;
        }
        plan.kind = saved ? StartupPlan::continue_saved : StartupPlan::continue_log;
        if (saved) {
            plan.head.seq = saved->head.seq;
            plan.head.hash = saved->head.hash;
            if (saved->head.seq > 0) {
                plan.level = 5;
                plan.message = "audit log " + log_path + " is empty: it continues the chain saved in " + head_path +
                               " (seq " + std::to_string(saved->head.seq) + ")";
            }
        }
        return plan;
    }

    plan.head.seq = tail.head.seq;
    plan.head.hash = tail.head.hash;
    plan.head.size = tail.valid_size;
    plan.head.last_len = last_line_length(fd, tail.valid_size);
    auto discontinuity = [&](const std::optional<ChainHead>& expected, const std::string& reason) {
        plan.kind = StartupPlan::discontinuity;
        plan.expected = expected;
        plan.found.file_size = size;
        plan.found.found = tail.head;
        plan.level = 1;
        plan.id = CMILOGNO(40201);
        plan.message = "audit log " + log_path + " does not match " + head_path + ": " + reason + "; the log ends with " +
                       describe(tail.head) + ". Not continued silently: a discontinuity record follows it, and " +
                       "cmi-audit verify fails there; check the log with cmi-audit verify --key";
    };
    if (!saved_text) {
        if (key) {
            discontinuity(std::nullopt, head_path + " is missing (with CMIAuditSigningKey the parent keeps it from "
                                                    "the first record on)");
        } else {
            plan.level = 5;
            plan.message = "audit log " + log_path + ": no " + head_path + " to check its last record against " +
                           "(without CMIAuditSigningKey nothing would stop it being rewritten with the log)";
        }
        return plan;
    }
    if (saved_invalid) {
        discontinuity(std::nullopt, head_path + " cannot be used: " + why);
        return plan;
    }
    if (saved->head.seq == tail.head.seq && saved->head.hash == tail.head.hash) return plan;
    std::uint64_t after = 0, confirmed = 0;
    if (tail.head.seq > saved->head.seq && extends(fd, tail.valid_size, *saved, key, after, confirmed)) {
        if (saved->stopped) {
            discontinuity(saved->head, std::to_string(after) + " records follow the head saved when httpd stopped (seq " +
                                           std::to_string(saved->head.seq) + "): nothing writes to the log while httpd is stopped");
            return plan;
        }
        plan.level = 4;
        plan.id = CMILOGNO(40202);
        plan.message = "audit log " + log_path + ": httpd did not stop cleanly; " + std::to_string(after) +
                       " records after the head last saved in " + head_path + " (seq " +
                       std::to_string(saved->head.seq) + ") are continued";
        // Records no signature of the node confirms (after the saved head and
        // the last checkpoint) could have been written by anyone while httpd
        // was down: say so in the chain, before a new checkpoint covers them.
        if (confirmed < tail.head.seq) {
            plan.unconfirmed = Record::Unconfirmed{confirmed, tail.head.seq};
            plan.message += "; seq " + std::to_string(confirmed + 1) + " to " + std::to_string(tail.head.seq) +
                            " are confirmed by no signature of the node (only as trustworthy as the file): "
                            "an unconfirmed record says so, and cmi-audit verify reports them";
        }
        return plan;
    }
    discontinuity(saved->head, "the saved head is seq " + std::to_string(saved->head.seq) + " (line sha256 " +
                                   saved->head.hash + ")");
    return plan;
}

}  // namespace cmi::audit
