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
// a read error.
StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs, std::vector<char>& buffer);
inline StagedDigests digest_staged(int fd, const std::vector<DigestAlg>& algs) {
    std::vector<char> buffer;
    return digest_staged(fd, algs, buffer);
}

}  // namespace cmi
