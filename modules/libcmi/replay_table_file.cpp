#include "libcmi/replay_table_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace cmi::replay {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
    throw std::runtime_error(what + " " + path + ": " + std::strerror(err));
}

// The descriptor, closed when the scope ends (the mapping outlives it).
struct OpenFile {
    int fd;
    explicit OpenFile(int f) : fd(f) {}
    ~OpenFile() {
        if (fd >= 0) ::close(fd);
    }
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    int get() const { return fd; }
};

// A mapping that is undone unless kept.
class Map {
public:
    Map(int fd, std::size_t n, const std::string& path) : n_(n) {
        p_ = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p_ == MAP_FAILED) fail("cannot map", path, errno);
    }
    ~Map() {
        if (p_) ::munmap(p_, n_);
    }
    Map(const Map&) = delete;
    Map& operator=(const Map&) = delete;
    void* get() const { return p_; }
    void* keep() {
        void* p = p_;
        p_ = nullptr;
        return p;
    }

private:
    void* p_;
    std::size_t n_;
};

void check_owner(int fd, const std::string& path, struct stat& st) {
    if (fstat(fd, &st) != 0) fail("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + " is not a regular file");
    if (st.st_uid != geteuid()) throw std::runtime_error(path + " is not owned by the user httpd starts as");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        throw std::runtime_error(path + " is writable by other users; chmod 600 it (or remove it)");
}

// A new table file beside `path` (made exclusively), renamed over it once formatted.
TableFile write_new(const std::string& path, std::string_view label, const Geometry& g, std::uint32_t quota,
                    const unsigned char (&random)[36], std::int64_t unknown_before, const std::string* moved_state,
                    std::int64_t now) {
    const std::string tmp = path + ".new";
    auto create = [&] { return ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600); };
    int raw = create();
    if (raw < 0 && errno == EEXIST) {  // left by an interrupted start: unlink removes a link, not its target
        ::unlink(tmp.c_str());
        raw = create();
    }
    if (raw < 0) fail("cannot create", tmp, errno);
    OpenFile fd(raw);
    TableFile out;
    out.bytes = Table::bytes(g);
    if (::ftruncate(fd.get(), static_cast<off_t>(out.bytes)) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail("cannot size", tmp, err);
    }
    Map map(fd.get(), out.bytes, tmp);
    Table t = Table::format(map.get(), g, quota, random, label, unknown_before);
    if (moved_state) {
        if (auto r = t.restore(*moved_state, now)) out.moved = *r;
    }
    if (::msync(map.get(), out.bytes, MS_SYNC) != 0 || ::fsync(fd.get()) != 0 ||
        ::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail("cannot write", path, err);
    }
    out.base = map.keep();
    return out;
}

// Microseconds since the epoch at which the system started, or `now` when it
// cannot be told (fail closed: nothing made before now is taken as new).
std::int64_t system_start(std::int64_t now) {
    FILE* f = std::fopen("/proc/stat", "re");
    if (!f) return now;
    char line[256];
    long long btime = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "btime %lld", &btime) == 1) break;
    std::fclose(f);
    const std::int64_t at = btime > 0 ? static_cast<std::int64_t>(btime) * 1000000 : now;
    return at < now ? at : now;
}

std::string kept_path(const std::string& path) { return path + ".kept"; }

bool was_kept(const std::string& path) {
    struct stat st {};
    return ::lstat(kept_path(path).c_str(), &st) == 0;
}

// Leaves `<path>.kept` beside the table (once; never through a link).
void mark_kept(const std::string& path) {
    const std::string kept = kept_path(path);
    const int fd = ::open(kept.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return;
        fail("cannot create", kept, errno);
    }
    static constexpr char kNote[] =
        "A mod_cmi replay table is kept beside this file. If the table is missing while this file is here, "
        "it was lost, and httpd refuses one-time items made before its next start.\n";
    const ssize_t n = ::write(fd, kNote, sizeof kNote - 1);
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(sizeof kNote - 1)) fail("cannot write", kept, n < 0 ? err : EIO);
}

TableFile open_or_make(const std::string& path, std::string_view label, const Geometry& g, std::uint32_t quota,
                       const unsigned char (&random)[36], std::int64_t now) {
    // A new table without entries, refusing items made before `unknown_before`.
    auto empty_table = [&](TableFile::Opened how, const char* why, std::int64_t unknown_before) {
        TableFile out = write_new(path, label, g, quota, random, unknown_before, nullptr, now);
        out.how = how;
        out.why = why;
        out.unknown_before = unknown_before;
        return out;
    };
    OpenFile fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno != ENOENT) fail("cannot open", path, errno);
        if (was_kept(path))
            return empty_table(TableFile::Opened::replaced,
                               "missing, though a table was kept there (deleted, or its directory emptied?)", now);
        return empty_table(TableFile::Opened::created, "", system_start(now));
    }
    struct stat st {};
    check_owner(fd.get(), path, st);
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > 0) {
        Map old(fd.get(), size, path);
        if (auto other = Table::label_of(old.get(), size); other && *other != label)
            throw std::runtime_error(path + " holds the replay table of " + *other +
                                     "; give each replay cache its own path");
        if (auto t = Table::attach_if(old.get(), size, label)) {
            t->reset_lock();  // every process that used it is gone
            if (size == Table::bytes(g)) {
                t->set_quota(quota);
                TableFile out;
                out.bytes = size;
                out.how = TableFile::Opened::reopened;
                out.base = old.keep();
                return out;
            }
            const std::string state = t->save(now);
            TableFile out = write_new(path, label, g, quota, random, 0, &state, now);
            out.how = TableFile::Opened::resized;
            return out;
        }
    }
    // Not a table (damaged, cut short): what it recorded is lost.
    return empty_table(TableFile::Opened::replaced, size ? "not a replay table (damaged?)" : "empty", now);
}

}  // namespace

TableFile open_table_file(const std::string& path, std::string_view label, const Geometry& g, std::uint32_t quota,
                          const unsigned char (&random)[36], std::int64_t now) {
    TableFile out = open_or_make(path, label, g, quota, random, now);
    mark_kept(path);
    return out;
}

void sync_table_file(void* base, std::size_t bytes) { ::msync(base, bytes, MS_SYNC); }

}  // namespace cmi::replay
