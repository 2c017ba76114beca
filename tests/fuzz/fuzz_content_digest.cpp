// Content-Digest (RFC 9530) straight from the client: a claimed digest of an
// accepted algorithm with the right length, or a ContentDigestError. The first
// byte chooses the accepted set, the rest is the field value.
// fuzz-sources: libcmi/content_digest.cpp libcmi/structured_field.cpp libcmi/base64.cpp libcmi/digest.cpp libcmi/ossl.cpp
#include "libcmi/content_digest.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::vector<cmi::DigestAlg> accepted;
    if (data[0] & 1) accepted.push_back(cmi::DigestAlg::sha256);
    if (data[0] & 2) accepted.push_back(cmi::DigestAlg::sha512);
    const std::string_view field(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        const auto c = cmi::parse_content_digest(field, accepted);
        if (std::find(accepted.begin(), accepted.end(), c.alg) == accepted.end()) __builtin_trap();
        if (c.value.size() != cmi::digest_alg_size(c.alg)) __builtin_trap();
        // The member the module writes back parses to the same claim.
        const auto again = cmi::parse_content_digest(cmi::content_digest_member(c.alg, c.value), accepted);
        if (again.alg != c.alg || again.value != c.value) __builtin_trap();
    } catch (const cmi::ContentDigestError&) {
    }
    return 0;
}
