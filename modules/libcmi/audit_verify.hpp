// Reading an audit log back: the chain verifier (for cmi-audit verify and the
// tests) and the tail reader the module uses to continue a log at start-up.
#pragma once
#include "libcmi/audit_chain.hpp"

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cmi {
class SignatureVerifier;
}

namespace cmi::audit {

struct VerifyError {
    std::optional<std::uint64_t> seq;  // the first record that fails, when known
    std::string where;                 // "file:line"
    std::string reason;
};

// Feed it every line of a log (or of consecutive rotated files) in order.
class ChainVerifier {
public:
    // With a key, every checkpoint record must carry a valid signature by it.
    void require_checkpoints(const SignatureVerifier* key) { key_ = key; }
    std::uint64_t checkpoints() const { return checkpoints_; }
    std::uint64_t last_checkpoint_seq() const { return last_checkpoint_; }

    // Called with every line that passed (without its line feed), in chain
    // order: a reader that needs more than the chain (cmi-audit receipt,
    // evidence) reads the files once.
    using LineObserver = std::function<void(std::uint64_t seq, std::string_view line, const std::string& where)>;
    void observe(LineObserver observer) { observer_ = std::move(observer); }

    // `line` without its line feed; `complete` says whether one followed.
    // Returns false at the first problem; later lines are then ignored.
    bool feed(std::string_view line, bool complete, const std::string& where);
    // Reads every line of `in` into feed(); `name` labels positions.
    bool feed_stream(std::istream& in, const std::string& name);
    // Several files of one chain (rotated files; after a rotation the
    // children of the old generation may finish their records in the old
    // file while new ones go to the new file): merged by seq, taking at each
    // step the lowest seq among the files' next lines. Each file must be in
    // order itself; the order the files are given in does not matter.
    bool feed_streams(const std::vector<std::pair<std::istream*, std::string>>& inputs);

    const std::optional<VerifyError>& error() const { return error_; }
    const ChainHead& head() const { return head_; }
    std::uint64_t records() const { return records_; }
    // The first record fed (0: none): above 1, the chain continues files not given.
    std::uint64_t first_seq() const { return first_seq_; }
    // Ranges [from, to] of records that `unconfirmed` records name: found
    // after httpd was killed, confirmed by no signature of the node.
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& unconfirmed() const { return unconfirmed_; }

private:
    bool fail(std::optional<std::uint64_t> seq, const std::string& where, std::string reason);

    bool started_ = false;
    ChainHead head_;
    std::uint64_t records_ = 0;
    std::optional<VerifyError> error_;
    const SignatureVerifier* key_ = nullptr;
    std::uint64_t checkpoints_ = 0, last_checkpoint_ = 0, first_seq_ = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> unconfirmed_;
    LineObserver observer_;
};

// The end of an existing log, read backwards from its last bytes.
struct LogTail {
    ChainHead head;              // last complete record (seq 0: none)
    off_t valid_size = 0;        // bytes up to and including the last complete line
    bool torn = false;           // bytes after the last line feed (an interrupted write)
    std::string error;           // non-empty: the last complete line is not a record
};

// Up to `len` bytes of `fd` from offset `at` (fewer at the end of the file).
// Throws std::system_error on an I/O error.
std::string pread_exact(int fd, off_t at, off_t len);

// Reads the tail of the regular file open on `fd` (no seek position used).
// Throws std::system_error on an I/O error.
LogTail read_tail(int fd);

}  // namespace cmi::audit
