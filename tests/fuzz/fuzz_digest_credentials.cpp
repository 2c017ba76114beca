// libFuzzer target: the Authorization: Digest parameter parser (RFC 7616).
// fuzz-sources: libcmi/digest_auth.cpp libcmi/sha256.cpp libcmi/ossl.cpp
#include "libcmi/digest_auth.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view s(reinterpret_cast<const char*>(data), size);
    if (auto c = cmi::digest::parse_credentials(s)) {
        // Whatever parses must be usable without surprises.
        cmi::digest::expected_response(c->algorithm, std::string(cmi::digest::hex_length(c->algorithm), '0'), *c,
                                       "GET");
    }
    cmi::digest::check_nonce("secret", "realm", cmi::digest::Algorithm::sha256, s, 1000, 300);
    return 0;
}
