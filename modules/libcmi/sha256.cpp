#include "libcmi/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace cmi {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 is not available");
}

void Sha256::update(const void* data, std::size_t len) {
    if (len && EVP_DigestUpdate(ctx_.get(), data, len) != 1) throw std::runtime_error("SHA-256 update failed");
}

std::array<unsigned char, 32> Sha256::finish() {
    std::array<unsigned char, 32> out{};
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &n) != 1 || n != out.size())
        throw std::runtime_error("SHA-256 final failed");
    return out;
}

std::string hex(const unsigned char* data, std::size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(len * 2);
    for (std::size_t i = 0; i < len; ++i) {
        s.push_back(digits[data[i] >> 4]);
        s.push_back(digits[data[i] & 0xf]);
    }
    return s;
}

std::string base64(const unsigned char* data, std::size_t len) {
    std::string out(4 * ((len + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    const auto d = h.finish();
    return hex(d.data(), d.size());
}

std::string rfc9530_sha256(const std::array<unsigned char, 32>& digest) {
    return "sha-256=:" + base64(digest.data(), digest.size()) + ":";
}

bool is_sha256_hex(std::string_view s) {
    if (s.size() != 64) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace cmi
