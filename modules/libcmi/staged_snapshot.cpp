#include "libcmi/staged_snapshot.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdexcept>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cmi {
namespace {

constexpr const char* kPrefix = "cmi-snapshot-";
constexpr const char* kLockName = ".lock";

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

std::string safe_label(const std::string& label) {
    std::string out;
    for (char c : label.substr(0, 64))
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
    return out;
}

// A moved file and where it was staged, one line in the ".lock" file, so that
// a sweep can put it back after a crash (no component holds a control character).
std::string origin_line(const std::string& name, const StagedOrigin& o) {
    return name + '\t' + o.root + '\t' + o.subdir + '\t' + o.location + '\n';
}

void put_back(int dir, const std::string& name, const StagedOrigin& o) {
    try {
        const StagedEntry back = open_staged_entry(o.root, o.subdir, o.location);
        ::renameat2(dir, name.c_str(), back.dir.fd(), back.name.c_str(), RENAME_NOREPLACE);
    } catch (...) {
        // the staging directories changed: the file is dropped with the directory
    }
}

// The moved files a dead transaction recorded in its lock file, put back.
void put_back_recorded(int dir, int lock) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::pread(lock, buf, sizeof buf, static_cast<off_t>(text.size()))) > 0;)
        text.append(buf, static_cast<size_t>(n));
    size_t at = 0;
    for (size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1) {
        std::vector<std::string> f;
        for (size_t s = at, tab; s <= end; s = tab + 1) {
            tab = text.find('\t', s);
            if (tab == std::string::npos || tab > end) tab = end;
            f.push_back(text.substr(s, tab - s));
        }
        if (f.size() == 4) put_back(dir, f[0], {f[1], f[2], f[3]});
    }
}

// Removes every entry of the directory `dir` (one level; empty subdirectories too).
void empty_dir(int dir) {
    const int copy = ::dup(dir);
    if (copy < 0) return;
    DIR* d = ::fdopendir(copy);
    if (!d) {
        ::close(copy);
        return;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    ::closedir(d);
    for (const std::string& n : names)
        if (::unlinkat(dir, n.c_str(), 0) != 0 && errno == EISDIR) ::unlinkat(dir, n.c_str(), AT_REMOVEDIR);
}

}  // namespace

TransactionDir::TransactionDir(const std::string& base, const std::string& label, SnapshotMode mode) : mode_(mode) {
    std::string tmpl = base + "/" + kPrefix + safe_label(label) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail("cannot create a snapshot directory in " + base);
    path_ = tmpl;
    dir_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_ >= 0) lock_ = ::openat(dir_, kLockName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (dir_ < 0 || lock_ < 0 || ::flock(lock_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (dir_ >= 0) {
            empty_dir(dir_);
            ::close(dir_);
        }
        if (lock_ >= 0) ::close(lock_);
        ::rmdir(path_.c_str());
        errno = err;
        fail("cannot set up the snapshot directory " + path_);
    }
}

TransactionDir::~TransactionDir() {
    release();
    ::close(dir_);
    ::close(lock_);  // last: until the directory is gone no sweep may take it
}

void TransactionDir::release() noexcept {
    if (released_) return;
    released_ = true;
    restore_moved();
    empty_dir(dir_);
    ::rmdir(path_.c_str());
}

int TransactionDir::create(const std::string& name) const {
    const int fd = ::openat(dir_, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create a snapshot in " + path_);
    return fd;
}

// True when the staged file that was opened is now `name` here, with no other link.
bool TransactionDir::move_into(const StagedEntry& entry, const StagedFile& file, const std::string& name) {
    struct stat opened;
    if (::fstat(file.fd(), &opened) != 0 || opened.st_nlink != 1) return false;
    // Another file system, a directory the server may not change, ...: copy instead.
    if (::renameat(entry.dir.fd(), entry.name.c_str(), dir_, name.c_str()) != 0) return false;
    struct stat moved;
    const bool same = ::fstatat(dir_, name.c_str(), &moved, AT_SYMLINK_NOFOLLOW) == 0 &&
                      moved.st_dev == opened.st_dev && moved.st_ino == opened.st_ino &&
                      ::fstat(file.fd(), &opened) == 0 && opened.st_nlink == 1;
    if (same) return true;
    // The name was swapped (or linked) between the open and the rename: what
    // was moved is not what was opened. Put it back; the opened file is copied.
    if (::renameat2(dir_, name.c_str(), entry.dir.fd(), entry.name.c_str(), RENAME_NOREPLACE) != 0)
        ::unlinkat(dir_, name.c_str(), 0);
    return false;
}

Snapshot TransactionDir::take(const StagedEntry& entry, const StagedFile& file, const StagedOrigin& origin,
                              const std::vector<DigestAlg>& algs, unsigned long long max_bytes,
                              std::vector<char>& buffer) {
    struct stat st;
    if (::fstat(file.fd(), &st) != 0) fail("cannot stat staged '" + entry.where + "'");
    if (static_cast<unsigned long long>(st.st_size) > max_bytes)
        throw ValidationError("too-large", "more than " + std::to_string(max_bytes) + " bytes of staged content");
    Snapshot s;
    std::string name = std::to_string(++next_);
    const auto dev = static_cast<unsigned long>(st.st_dev);
    if (std::find(no_clone_.begin(), no_clone_.end(), dev) == no_clone_.end()) {
        {
            StagedFile out(create(name));
            if (::ioctl(out.fd(), FICLONE, file.fd()) == 0) {
                s.path = path_ + "/" + name;
                s.how = "clone";
                s.digests = digest_staged(out.fd(), algs, buffer, max_bytes);
                return s;
            }
            // Not this file system (or not across these two): do not ask again for this request.
            if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY) no_clone_.push_back(dev);
        }
        ::unlinkat(dir_, name.c_str(), 0);
    }
    if (mode_ == SnapshotMode::move && move_into(entry, file, name)) {
        moved_.push_back({name, origin});
        const std::string line = origin_line(name, origin);
        if (::write(lock_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            fail("cannot record a moved file in " + path_);
        s.path = path_ + "/" + name;
        s.how = "move";
        s.digests = digest_staged(file.fd(), algs, buffer, max_bytes);
        return s;
    }
    name = std::to_string(++next_);
    StagedFile out(create(name));
    s.path = path_ + "/" + name;
    s.how = "copy";
    s.digests = digest_staged(file.fd(), algs, buffer, max_bytes, out.fd());
    return s;
}

std::string TransactionDir::write(const std::string& name, std::string_view data) {
    StagedFile f(create(name));
    for (size_t done = 0; done < data.size();) {
        const ssize_t n = ::write(f.fd(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write " + path_ + "/" + name);
        done += static_cast<size_t>(n);
    }
    return path_ + "/" + name;
}

void TransactionDir::restore_moved() noexcept {
    for (const Moved& m : moved_) put_back(dir_, m.name, m.origin);
    moved_.clear();
}

unsigned sweep_transaction_dirs(const std::string& base, std::time_t min_age) {
    StagedFile dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.fd() < 0) return 0;
    const int copy = ::dup(dir.fd());
    DIR* d = copy >= 0 ? ::fdopendir(copy) : nullptr;
    if (!d) {
        if (copy >= 0) ::close(copy);
        return 0;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d))
        if (std::strncmp(e->d_name, kPrefix, std::strlen(kPrefix)) == 0) names.emplace_back(e->d_name);
    ::closedir(d);

    const std::time_t now = std::time(nullptr);
    unsigned removed = 0;
    for (const std::string& n : names) {
        StagedFile tx(::openat(dir.fd(), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        struct stat st;
        if (tx.fd() < 0 || ::fstat(tx.fd(), &st) != 0 || st.st_uid != ::geteuid()) continue;
        StagedFile lock(::openat(tx.fd(), kLockName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (lock.fd() >= 0 && (::fstat(lock.fd(), &st) != 0 || ::flock(lock.fd(), LOCK_EX | LOCK_NB) != 0)) continue;
        if (now - st.st_mtime < min_age) continue;  // being set up right now, or too young to tell
        if (lock.fd() >= 0) put_back_recorded(tx.fd(), lock.fd());
        empty_dir(tx.fd());
        if (::unlinkat(dir.fd(), n.c_str(), AT_REMOVEDIR) == 0) ++removed;
    }
    return removed;
}

}  // namespace cmi
