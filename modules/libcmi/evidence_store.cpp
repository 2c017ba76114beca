#include "libcmi/evidence_store.hpp"

#include "libcmi/sha256.hpp"
#include "libcmi/unique_fd.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cmi::audit {
namespace {

std::runtime_error os_error(const std::string& what, const std::string& path, int err) {
    return std::runtime_error(what + " " + path + ": " + std::strerror(err));
}

void write_all(int fd, std::string_view bytes, const std::string& shown) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw os_error("cannot write", shown, errno);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// A temporary name no other writer (thread or process) uses at the same time.
std::string temp_name(const std::string& sub, const std::string& hex) {
    static std::atomic<unsigned long> counter{0};
    return sub + "/.tmp-" + hex.substr(0, 16) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1));
}

// A name read from a record: never a path of its own.
std::string rel_of(const std::string& hex) {
    if (!is_sha256_hex(hex)) throw std::runtime_error("'" + hex + "' is not a hex SHA-256");
    return hex.substr(0, 2) + "/" + hex;
}

}  // namespace

int EvidenceStore::at() const { return dirfd_ >= 0 ? dirfd_ : AT_FDCWD; }

std::string EvidenceStore::arg(const std::string& rel) const { return dirfd_ >= 0 ? rel : shown(rel); }

std::string EvidenceStore::path_of(const std::string& hex) const { return shown(rel_of(hex)); }

bool EvidenceStore::read(const std::string& rel, std::string& out) const {
    UniqueFd fd(::openat(at(), arg(rel).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        if (errno == ENOENT) return false;
        throw os_error("cannot open", shown(rel), errno);
    }
    out.clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw os_error("cannot read", shown(rel), errno);
        if (n == 0) return true;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

void EvidenceStore::sync_dir(const std::string& rel) const {
    UniqueFd fd(::openat(at(), arg(rel).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw os_error("cannot sync the directory", shown(rel), errno);
}

std::string EvidenceStore::put(std::string_view bytes, bool sync) const {
    const std::string hex = sha256_hex(bytes);
    const std::string sub = hex.substr(0, 2), rel = rel_of(hex);
    std::string existing;
    if (read(rel, existing) && existing == bytes) return hex;  // kept before (a key, a replayed upload)
    if (::mkdirat(at(), arg(sub).c_str(), 0750) == 0) {
        if (sync) sync_dir(".");
    } else if (errno != EEXIST) {
        throw os_error("cannot create", shown(sub), errno);
    }
    const std::string tmp = temp_name(sub, hex);
    UniqueFd fd(::openat(at(), arg(tmp).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0440));
    if (fd.get() < 0) throw os_error("cannot create", shown(tmp), errno);
    try {
        write_all(fd.get(), bytes, shown(tmp));
        if (sync && ::fdatasync(fd.get()) != 0) throw os_error("cannot sync", shown(tmp), errno);
        if (::close(fd.release()) != 0) throw os_error("cannot write", shown(tmp), errno);
        // Replaces a file under this name whose bytes were not these.
        if (::renameat(at(), arg(tmp).c_str(), at(), arg(rel).c_str()) != 0)
            throw os_error("cannot rename to", shown(rel), errno);
    } catch (...) {
        ::unlinkat(at(), arg(tmp).c_str(), 0);
        throw;
    }
    if (sync) sync_dir(sub);
    return hex;
}

std::string EvidenceStore::get(const std::string& hex) const {
    const std::string rel = rel_of(hex);
    std::string bytes;
    if (!read(rel, bytes)) throw std::runtime_error("evidence file " + shown(rel) + " is missing");
    if (sha256_hex(bytes) != hex)
        throw std::runtime_error("evidence file " + shown(rel) + " was altered: its bytes hash to " + sha256_hex(bytes));
    return bytes;
}

std::string default_evidence_dir(const std::string& log_path) {
    const auto slash = log_path.rfind('/');
    return (slash == std::string::npos ? std::string(".") : log_path.substr(0, slash == 0 ? 1 : slash)) +
           (slash == 0 ? "" : "/") + "cmi-evidence";
}

}  // namespace cmi::audit
