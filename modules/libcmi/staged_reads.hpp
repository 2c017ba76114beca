// The staged files of one manifest, each read once: 300 items naming one
// 20 MB file cost one pass, not 300. A file is known by its location and by
// its device and inode (another name of the same file is the same file). The
// bytes read are bounded (CMIManifestMaxBytes), and while every item is still
// valid each file is read as the snapshot handed to the handler.
#pragma once
#include "libcmi/staged_snapshot.hpp"

#include <deque>
#include <map>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace cmi {

struct StagedRead {
    std::string location;  // the first location it was read under
    std::string path;      // the snapshot; "" when read in place
    unsigned long long bytes = 0;
    std::vector<std::pair<DigestAlg, std::string>> digests;
    const std::string* find(DigestAlg alg) const;
};

class StagedReads {
public:
    // `snapshots` may be null (read in place: cmi-sign, or a manifest already refused).
    StagedReads(std::string root, std::string subdir, TransactionDir* snapshots, unsigned long long max_bytes);

    // The file at `location`, digested under (at least) `algs`. The reference
    // stays valid as long as this object. Throws ValidationError as
    // open_staged() does, and "too-large" past the byte budget.
    const StagedRead& read(const std::string& location, const std::vector<DigestAlg>& algs);

    // No more snapshots: an item failed, so the handler will not run.
    void stop_snapshots() { snapshots_ = nullptr; }

    size_t files() const { return reads_.size(); }              // distinct files read
    unsigned long long bytes() const { return total_; }          // their bytes (each counted once)

private:
    StagedRead& complete(StagedRead& r, const std::vector<DigestAlg>& algs);
    std::string root_, subdir_;
    TransactionDir* snapshots_;
    unsigned long long max_bytes_;
    unsigned long long total_ = 0;
    std::vector<char> buffer_;
    std::deque<StagedRead> reads_;
    std::map<std::string, size_t> by_location_;
    std::map<std::pair<dev_t, ino_t>, size_t> by_file_;
};

}  // namespace cmi
