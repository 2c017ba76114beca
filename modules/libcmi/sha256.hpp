// SHA-256 through OpenSSL EVP, streaming, plus the encodings we need.
#pragma once
#include "libcmi/ossl.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace cmi {

class Sha256 {
public:
    Sha256();

    void update(const void* data, std::size_t len);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // The digest; the object can no longer be updated.
    std::array<unsigned char, 32> finish();

private:
    ossl::UniquePtr<EVP_MD_CTX> ctx_;
};

std::string hex(const unsigned char* data, std::size_t len);
std::string base64(const unsigned char* data, std::size_t len);

std::string sha256_hex(std::string_view data);
// 64 lower-case hex digits: what sha256_hex gives (and `sha256sum` prints).
bool is_sha256_hex(std::string_view s);
// RFC 9530 dictionary member for one digest: "sha-256=:<base64>:".
std::string rfc9530_sha256(const std::array<unsigned char, 32>& digest);

}  // namespace cmi
