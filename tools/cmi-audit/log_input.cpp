#include "log_input.hpp"

#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <unistd.h>

namespace cmi::audit_tool {
namespace {

// The first line of every chain head file, whatever its version.
constexpr std::string_view kHeadPrefix = "cmi-audit head ";

std::string os_error(const std::string& file) { return "cannot open " + file + ": " + std::strerror(errno); }

// Reads through zlib, which passes a file that is not gzip through unchanged.
class GzBuf : public std::streambuf {
public:
    GzBuf(int fd, const std::string& file) : gz_(gzdopen(fd, "rb")) {
        if (!gz_) {
            ::close(fd);
            throw std::runtime_error("cannot read " + file + ": out of memory");
        }
        gzbuffer(gz_, 128 * 1024);
    }
    ~GzBuf() override { gzclose(gz_); }
    GzBuf(const GzBuf&) = delete;
    GzBuf& operator=(const GzBuf&) = delete;
    const std::string& error() const { return error_; }

protected:
    int_type underflow() override {
        const int n = gzread(gz_, buf_.data(), static_cast<unsigned>(buf_.size()));
        if (n > 0) {
            setg(buf_.data(), buf_.data(), buf_.data() + n);
            return traits_type::to_int_type(buf_[0]);
        }
        // zlib ends a truncated gzip file like a complete one (so that a
        // file still being written can be read on): only gzerror tells.
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        if (n == 0 && code == Z_OK) return traits_type::eof();
        error_ = code == Z_ERRNO ? std::strerror(errno)
                 : code == Z_BUF_ERROR ? "gzip: the compressed file is truncated"
                                       : std::string("gzip: ") + (msg && *msg ? msg : "read error");
        // std::istream turns an exception from its buffer into badbit.
        throw std::runtime_error(error_);
    }

private:
    gzFile gz_;
    std::array<char, 64 * 1024> buf_{};
    std::string error_;
};

class FileInput : public LogInput {
public:
    FileInput(int fd, const std::string& file) : LogInput(file), buf_(fd, file), in_(&buf_) {}
    std::istream& stream() override { return in_; }
    std::string error() const override { return buf_.error(); }

private:
    GzBuf buf_;
    std::istream in_;
};

// What the first bytes say: a head file, another compression, or a log.
const char* other_compression(std::string_view magic) {
    if (magic.substr(0, 6) == std::string_view("\xfd" "7zXZ\0", 6)) return "xz (xz -dk FILE)";
    if (magic.substr(0, 3) == "BZh") return "bzip2 (bunzip2 -k FILE)";
    if (magic.substr(0, 4) == "\x28\xb5\x2f\xfd") return "zstd (zstd -d FILE)";
    return nullptr;
}

// `<log>.head`, or the temporary name it is written under (`<log>.head.XXXXXX`).
bool head_file_name(const std::string& f) {
    const std::string_view name(f);
    const auto ends = [&](std::string_view tail) {
        return name.size() >= tail.size() && name.substr(name.size() - tail.size()) == tail;
    };
    if (ends(".head")) return true;
    const std::size_t at = name.rfind(".head.");
    if (at == std::string_view::npos || name.size() - at != 12) return false;
    for (const char c : name.substr(at + 6))
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    return true;
}

}  // namespace

OpenedLogs open_logs(const std::vector<std::string>& files) {
    OpenedLogs out;
    for (const auto& f : files) {
        const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error(os_error(f));
        std::array<char, 16> head{};
        const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
        if (n < 0) {
            const std::string why = os_error(f);
            ::close(fd);
            throw std::runtime_error(why);
        }
        const std::string_view magic(head.data(), static_cast<std::size_t>(n));
        if (magic.substr(0, kHeadPrefix.size()) == kHeadPrefix) {
            ::close(fd);
            // Only under a head file's name: a log replaced by a head's text
            // must not be passed over as if it were not among the files.
            if (!head_file_name(f))
                throw std::runtime_error(f + " holds a chain head, not log records, but is not named like " +
                                         "<log>.head: a log file replaced?");
            out.skipped.push_back(f);
            continue;
        }
        if (const char* how = other_compression(magic)) {
            ::close(fd);
            throw std::runtime_error(f + " is compressed with " + how + "; cmi-audit reads plain and gzip files");
        }
        out.logs.push_back(std::make_unique<FileInput>(fd, f));  // the buffer owns fd from here
    }
    return out;
}

void report_skipped(const OpenedLogs& opened) {
    for (const auto& f : opened.skipped) std::cerr << "skipped " << f << ": the chain head file, not a log\n";
}

}  // namespace cmi::audit_tool
