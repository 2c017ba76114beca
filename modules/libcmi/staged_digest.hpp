// Streams a staged file through one or more digests: bounded memory whatever
// the file's size, one read per block for every algorithm.
#pragma once
#include "libcmi/digest.hpp"

#include <string>
#include <vector>

namespace cmi {

struct StagedDigests {
    unsigned long long bytes = 0;
    std::vector<std::pair<DigestAlg, std::string>> digests;  // raw digests, in the order asked
    const std::string* find(DigestAlg alg) const {
        for (const auto& d : digests)
            if (d.first == alg) return &d.second;
        return nullptr;
    }
};

// Reads fd from its current offset to the end, through `buffer` (sized on
// first use; pass the same one for many files). Throws std::runtime_error on
// a read or write error, ValidationError("too-large") past `max_bytes`.
// With `copy_to` >= 0 every block is also written there before it is hashed:
// the copy holds exactly the bytes digested, whatever happens to fd meanwhile.
StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs, std::vector<char>& buffer,
                            unsigned long long max_bytes = ~0ULL, int copy_to = -1);
inline StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs) {
    std::vector<char> buffer;
    return digest_staged(fd, algs, buffer);
}

}  // namespace cmi
