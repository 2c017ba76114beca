// Decoupled Upload: the handler must read exactly the bytes that were
// verified. Every verified staged item is handed over as a snapshot in a
// per-transaction directory that only the server's user can reach (mode
// 0700, files 0600), and the digest is taken of that snapshot:
//   clone  FICLONE where the file system can (btrfs, XFS, ...): a copy-on-write
//          copy made in one step; the staged file stays where it was;
//   move   (SnapshotMode::move) rename(2) from the staging directory: no copy;
//          only for a file with a single link, on the same file system, in a
//          directory the server may change; put back if not taken;
//   copy   read once, each block written to the snapshot and hashed from the
//          same buffer.
// Limit of `move`: a writer that kept a descriptor of the staged file open
// from before the move can still change the moved file.
#pragma once
#include "libcmi/staged_digest.hpp"
#include "libcmi/staging_path.hpp"
#include "libcmi/validation_error.hpp"

#include <algorithm>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace cmi {

enum class SnapshotMode { move, copy };

struct Snapshot {
    std::string path;       // absolute
    const char* how = "";   // "clone", "move" or "copy"
    StagedDigests digests;  // of the snapshot's bytes
};

// Where an item was staged, to put a moved file back.
struct StagedOrigin {
    std::string root;
    std::string subdir;
    std::string location;
};

class TransactionDir {
public:
    // Creates base/cmi-snapshot-<label>-XXXXXX (0700) holding a ".lock" file,
    // locked while this object lives (sweep_transaction_dirs leaves it alone).
    // Throws std::runtime_error.
    TransactionDir(const std::string& base, const std::string& label, SnapshotMode mode);
    // release(), unless done already.
    ~TransactionDir();
    TransactionDir(const TransactionDir&) = delete;
    TransactionDir& operator=(const TransactionDir&) = delete;

    const std::string& path() const { return path_; }

    // The snapshot of the staged `file` (opened from `entry` by
    // open_staged_file), digested. ValidationError("too-large") past `max_bytes`.
    Snapshot take(const StagedEntry& entry, const StagedFile& file, const StagedOrigin& origin,
                  const std::vector<DigestAlg>& algs, unsigned long long max_bytes, std::vector<char>& buffer);

    // Writes a new file `name` holding `data`; returns its path.
    std::string write(const std::string& name, std::string_view data);

    // Puts every moved file still here back to its staged name, unless that
    // name has been staged again meanwhile (then the moved one is dropped).
    void restore_moved() noexcept;

    // The handler is done: moved files still here go back (restore_moved),
    // everything else left in the directory is removed, and the directory.
    // The lock stays held until this object goes (a sweep never sees the
    // directory half removed as abandoned). Once; later calls do nothing.
    void release() noexcept;

private:
    struct Moved {
        std::string name;
        StagedOrigin origin;
    };
    int create(const std::string& name) const;
    bool move_into(const StagedEntry& entry, const StagedFile& file, const std::string& name);
    std::string path_;
    SnapshotMode mode_;
    int dir_ = -1;
    int lock_ = -1;
    bool released_ = false;
    unsigned next_ = 0;
    std::vector<Moved> moved_;
    std::vector<unsigned long> no_clone_;  // devices of staged files that could not be cloned
};

// Removes the transaction directories under `base` whose request is gone (its
// ".lock" is free: the process that made it exited or was killed) and that
// are older than `min_age` seconds; moved files recorded in the lock file go
// back to their staged names first (unless taken again). Only directories
// owned by this user; no symbolic link is followed. Returns how many were removed.
unsigned sweep_transaction_dirs(const std::string& base, std::time_t min_age);

}  // namespace cmi
