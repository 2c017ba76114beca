#include "libcmi/staging_path.hpp"

#include "libcmi/unique_fd.hpp"
#include "libcmi/validation_error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace cmi {
namespace {

constexpr size_t kMaxLocation = 4096;

std::vector<std::string> components(std::string_view location) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= location.size()) {
        const size_t slash = location.find('/', start);
        const size_t end = slash == std::string_view::npos ? location.size() : slash;
        out.emplace_back(location.substr(start, end - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return out;
}

// Only a printable label of the location goes into messages.
std::string label(std::string_view location) {
    std::string out;
    for (char c : location.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    return out;
}

using Fd = UniqueFd;

[[noreturn]] void refuse_errno(int err, const std::string& where) {
    switch (err) {
    case ENOENT:
        throw ValidationError("content-missing", "'" + where + "' is not staged");
    case ELOOP:
        throw ValidationError("forbidden", "'" + where + "' is a symbolic link; staged content is never reached through links");
    case ENOTDIR:
        throw ValidationError("forbidden", "'" + where + "' is not a directory");
    case EACCES:
    case EPERM:
        throw ValidationError("forbidden", "'" + where + "' is not readable by the server");
    default:
        throw std::runtime_error("cannot open staged '" + where + "': " + std::strerror(err));
    }
}

// One component below `dir`: a symlink is refused whatever it points to.
int open_component(int dir, const std::string& name, bool last, const std::string& where) {
    const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? O_NONBLOCK : O_DIRECTORY);
    const int fd = ::openat(dir, name.c_str(), flags);
    if (fd >= 0) return fd;
    const int err = errno;
    // O_DIRECTORY|O_NOFOLLOW on a symlink may say ENOTDIR: tell the two apart.
    struct stat st;
    if (err == ENOTDIR && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        refuse_errno(ELOOP, where);
    refuse_errno(err, where);
}

}  // namespace

StagedFile::~StagedFile() {
    if (fd_ >= 0) ::close(fd_);
}

StagedFile& StagedFile::operator=(StagedFile&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

std::string staging_path_syntax_error(std::string_view location) {
    if (location.empty()) return "the location is empty";
    if (location.size() > kMaxLocation) return "the location is longer than 4096 bytes";
    for (char c : location)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "the location contains a control character";
    if (location.front() == '/') return "the location is an absolute path";
    for (const std::string& c : components(location)) {
        if (c.empty()) return "the location has an empty component ('//' or a trailing '/')";
        if (c == "." || c == "..") return "the location has a '" + c + "' component";
    }
    return "";
}

StagedEntry open_staged_entry(const std::string& root, std::string_view subdir, std::string_view location) {
    if (const std::string why = staging_path_syntax_error(location); !why.empty())
        throw ValidationError("manifest-malformed", why + ": '" + label(location) + "'");
    if (!subdir.empty()) {
        if (subdir.find('/') != std::string_view::npos || !staging_path_syntax_error(subdir).empty())
            throw ValidationError("forbidden", "the user name cannot name a staging directory");
    }
    Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) throw std::runtime_error("cannot open the staging root " + root + ": " + std::strerror(errno));

    std::vector<std::string> parts = components(location);
    if (!subdir.empty()) parts.insert(parts.begin(), std::string(subdir));
    StagedEntry e;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        e.where += (e.where.empty() ? "" : "/") + label(parts[i]);
        dir.reset(open_component(dir.get(), parts[i], false, e.where));
    }
    e.name = parts.back();
    e.where += (e.where.empty() ? "" : "/") + label(e.name);
    e.dir = StagedFile(dir.release());
    return e;
}

StagedFile open_staged_file(int dir, const std::string& name, const std::string& where) {
    Fd f(open_component(dir, name, true, where));
    struct stat st;
    if (::fstat(f.get(), &st) != 0) throw std::runtime_error("cannot stat staged '" + where + "'");
    if (!S_ISREG(st.st_mode)) throw ValidationError("forbidden", "'" + where + "' is not a regular file");
    // Regular files ignore O_NONBLOCK; drop it anyway.
    const int fl = ::fcntl(f.get(), F_GETFL);
    if (fl >= 0) ::fcntl(f.get(), F_SETFL, fl & ~O_NONBLOCK);
    return StagedFile(f.release());
}

StagedFile open_staged(const std::string& root, std::string_view subdir, std::string_view location) {
    const StagedEntry e = open_staged_entry(root, subdir, location);
    return open_staged_file(e.dir.fd(), e.name, e.where);
}

}  // namespace cmi
