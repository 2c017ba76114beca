// RFC 9530 Content-Digest: which digest of the body the client claims.
#pragma once
#include "libcmi/digest.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cmi {

struct ContentDigestError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ClaimedDigest {
    DigestAlg alg;
    std::string value;  // raw digest bytes
};

// Parses a Content-Digest field value and picks the strongest member whose
// algorithm is in `accepted`. Throws ContentDigestError when the field is not
// an RFC 8941 dictionary of byte sequences, when a digest has the wrong length,
// or when no member uses an accepted algorithm (e.g. only `sha` or `md5`).
ClaimedDigest parse_content_digest(std::string_view field, const std::vector<DigestAlg>& accepted);

}  // namespace cmi
