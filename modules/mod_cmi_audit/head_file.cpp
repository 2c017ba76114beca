#include "mod_cmi_audit/head_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cmi::audit {

std::optional<std::string> read_head_file(const std::string& path) {
    // O_NOFOLLOW: <log>.head is only ever made by rename(); a symlink there was planted.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    std::string text;
    int err = 0;
    if (fstat(fd, &st) != 0) err = errno;
    else if (!S_ISREG(st.st_mode)) err = EINVAL;
    char buf[4096];
    while (!err) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > 4096) err = EFBIG;
    }
    ::close(fd);
    if (err) throw std::runtime_error("cannot read " + path + ": " + std::strerror(err));
    return text;
}

int write_head_file(const std::string& path, const std::string& text) {
    // mkostemp: O_CREAT | O_EXCL, which never follows a symlink; rename()
    // replaces the name `path`, never what a symlink there points to.
    std::string tmp = path + ".XXXXXX";
    const int fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) return errno;
    int err = 0;
    if (fchmod(fd, 0640) != 0) err = errno;
    for (std::size_t done = 0; !err && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) err = n < 0 ? errno : EIO;
        else done += static_cast<std::size_t>(n);
    }
    if (!err && fdatasync(fd) != 0) err = errno;
    ::close(fd);
    if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
    if (err) ::unlink(tmp.c_str());
    return err;
}

}  // namespace cmi::audit
