// Opens a staged content item strictly inside the staging root (Decoupled
// Upload, docs/architecture.md §Content formats). The location is walked one component at a time with
// openat(O_NOFOLLOW) from a descriptor of the root: no string-prefix check,
// no window for a symlink swapped in between check and use.
#pragma once
#include <string>
#include <string_view>

namespace cmi {

// An open regular file; closes itself.
class StagedFile {
public:
    StagedFile() = default;
    explicit StagedFile(int fd) : fd_(fd) {}
    ~StagedFile();
    StagedFile(StagedFile&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    StagedFile& operator=(StagedFile&& o) noexcept;
    StagedFile(const StagedFile&) = delete;
    StagedFile& operator=(const StagedFile&) = delete;
    int fd() const { return fd_; }

private:
    int fd_ = -1;
};

// The syntax rules alone: a relative path of non-empty components separated by
// '/', none of them "." or "..", no NUL or control character, at most 4096
// bytes. Returns "" when acceptable, else why not.
std::string staging_path_syntax_error(std::string_view location);

// Opens root/[subdir/]location read-only. `subdir` ("" for none) is one more
// component walked the same way (CMIStagingPerUser: the CMI user's directory).
// Throws ValidationError with code
//   manifest-malformed  the location breaks the syntax rules above
//   forbidden           a symlink on the way (inside or leaving the root), a
//                       component that is not a directory/regular file, or no permission
//   content-missing     a component does not exist
// and std::runtime_error when the root itself cannot be opened.
StagedFile open_staged(const std::string& root, std::string_view subdir, std::string_view location);

// The same walk in two steps: the directory that holds the item (every
// component before the last, each opened with O_NOFOLLOW), and its name there.
struct StagedEntry {
    StagedFile dir;
    std::string name;
    std::string where;  // printable form of the path walked, for messages
};
StagedEntry open_staged_entry(const std::string& root, std::string_view subdir, std::string_view location);

// Opens `name` in the directory `dir` as open_staged() opens the last
// component: O_NOFOLLOW, a regular file only (same ValidationErrors).
StagedFile open_staged_file(int dir, const std::string& name, const std::string& where);

}  // namespace cmi
