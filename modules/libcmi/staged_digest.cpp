#include "libcmi/staged_digest.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <unistd.h>

namespace cmi {

StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs, std::vector<char>& buffer) {
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
        for (auto& d : ds) d->update(buffer.data(), static_cast<size_t>(n));
        out.bytes += static_cast<unsigned long long>(n);
    }
    for (auto& d : ds) out.digests.emplace_back(d->alg(), d->finish());
    return out;
}

}  // namespace cmi
