#include "libcmi/staged_digest.hpp"

#include "libcmi/validation_error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <unistd.h>

namespace cmi {

namespace {

void write_all(int fd, const char* data, size_t len) {
    while (len) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error(std::string("cannot write a snapshot: ") + std::strerror(errno));
        data += n;
        len -= static_cast<size_t>(n);
    }
}

}  // namespace

StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs, std::vector<char>& buffer,
                            unsigned long long max_bytes, int copy_to) {
    constexpr size_t kBlock = 256 * 1024;
    std::vector<std::unique_ptr<StreamingDigest>> ds;
    for (DigestAlg a : algs) {
        bool dup = false;
        for (const auto& d : ds) dup = dup || d->alg() == a;
        if (!dup) ds.push_back(std::make_unique<StreamingDigest>(a));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (buffer.size() < kBlock) buffer.resize(kBlock);
    StagedDigests out;
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), kBlock);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("cannot read a staged file: ") + std::strerror(errno));
        }
        out.bytes += static_cast<unsigned long long>(n);
        if (out.bytes > max_bytes)
            throw ValidationError("too-large", "more than " + std::to_string(max_bytes) + " bytes of staged content");
        if (copy_to >= 0) write_all(copy_to, buffer.data(), static_cast<size_t>(n));
        for (auto& d : ds) d->update(buffer.data(), static_cast<size_t>(n));
    }
    for (auto& d : ds) out.digests.emplace_back(d->alg(), d->finish());
    return out;
}

}  // namespace cmi
