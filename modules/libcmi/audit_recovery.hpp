// The log file against the chain the server wrote: what is torn (a write cut
// short: repaired, with a `recovered` record), and what is tampering (the
// file cut back, rewritten or added to by someone else: never adopted, a
// `discontinuity` record instead). Issue 15: while httpd runs the server's
// own head is the truth; at start-up the log must match the saved head
// (<log>.head, signed when there is a signing key).
#pragma once
#include "libcmi/audit_chain.hpp"
#include "libcmi/audit_record.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace cmi {
class Signer;
class SignatureVerifier;
}  // namespace cmi

namespace cmi::audit {

// Where the chain stands in the file the writer appends to.
struct FileHead {
    std::uint64_t seq = 0;       // 0: no record yet
    std::string hash = std::string(kGenesisPrev);  // hex SHA-256 of the line of seq
    off_t size = 0;              // the file's size as of that line
    std::uint32_t last_len = 0;  // bytes of that line in this file (0: it is not in this file)
};

// What the file holds compared with the head.
struct TailCheck {
    enum Kind {
        same,     // exactly the head
        torn,     // the head, then bytes of a write cut short (no line feed, or our own unfinished write)
        foreign,  // the head, then complete lines the server did not write
        shorter,  // cut back before the head
        changed,  // the line at the head is not the head's line
        deleted,  // the file has no name left (removed while open): what is written to it is lost
    } kind = same;
    off_t file_size = 0;
    std::string cut;             // torn: the bytes after the head
    std::optional<ChainHead> found;  // the file's last complete line, when it is a record
    std::string detail;          // for the error log
};

// Looks at a regular file open on `fd` against `head`. Bytes after the head
// up to `inflight_end` (> head.size) are the server's own write that did not
// finish (its writer died): torn even if they hold complete lines.
// `last_line`: the head's line as the caller wrote it, if it kept it: compared
// byte for byte instead of hashing what the file holds (the common case, once
// per batch of the writer).
TailCheck check_tail(int fd, const FileHead& head, off_t inflight_end = 0, const std::string* last_line = nullptr);

// The `recovered` record for torn bytes cut off the end of the log.
Record recovered_record(const std::string& node, std::int64_t now_us, const std::string& torn);

// The `discontinuity` record for a file that is not the chain: expected is
// the head the server knew (nullopt: none), found what the file ends with.
Record discontinuity_record(const std::string& node, std::int64_t now_us, const std::string& reason,
                            const std::optional<ChainHead>& expected, const TailCheck& found);

// --- <log>.head --------------------------------------------------------------
// v1 (no signing key): "cmi-audit head v1\n<seq>\n<hash>\n".
// v2 (signing key): "cmi-audit head v2\nseq N\nhash H\nsize S\nstate running|stopped\n"
// followed by "sig <alg> <keyid> <base64>\n", the signature over everything before it.
struct SavedHead {
    ChainHead head;
    std::optional<off_t> size;   // v2: the log's size at that head
    bool stopped = false;        // v2: written at a clean stop (nothing may follow it)
    bool signed_by_key = false;
};

std::string format_saved_head(const SavedHead& saved, const Signer* signer);
// The saved head, or nullopt with `why`. With `key`, only a v2 head signed by it is valid.
std::optional<SavedHead> parse_saved_head(std::string_view text, const SignatureVerifier* key, std::string& why);

// What to do with a log at start-up (the parent, before any writer runs).
struct StartupPlan {
    enum Kind {
        continue_log,    // the log's last record is the head (a torn tail is cut, recorded)
        continue_saved,  // an empty log continues the saved head (a rotation while stopped)
        discontinuity,   // the log is not the chain the saved head says: recorded, not adopted
        refuse,          // cannot start: `message` says why and what to do
    } kind = continue_log;
    FileHead head;                   // continue_*: where the chain stands
    std::optional<ChainHead> expected;  // discontinuity: the head it should have been
    TailCheck found;                 // discontinuity: what the file ends with
    std::string torn;                // bytes after the last complete line (cut, recorded)
    // continue_log after httpd was killed: records after the last signed
    // head (<log>.head or a checkpoint), to be named by an `unconfirmed` record.
    std::optional<Record::Unconfirmed> unconfirmed;
    std::string message;             // for the error log
    int level = 0;                   // 0: none, else an APLOG level (1 alert, 3 error, 4 warning, 5 notice)
    const char* id = "";             // the message's log id (libcmi/log_id.hpp), at warn or above
};

// `saved_text`: the content of <log>.head (nullopt: no such file). `key`:
// the signing key's public half, if there is one.
StartupPlan plan_startup(int fd, const std::optional<std::string>& saved_text, const SignatureVerifier* key,
                         const std::string& log_path);

}  // namespace cmi::audit
