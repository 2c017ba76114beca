#include "libcmi/base64.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace cmi {

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

namespace {
int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}
}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
    size_t pad = 0;
    while (!text.empty() && text.back() == '=' && pad < 2) {
        text.remove_suffix(1);
        ++pad;
    }
    const size_t rem = text.size() % 4;
    if (rem == 1) return std::nullopt;
    if (pad && (rem + pad) != 4) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = sextet(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // The leftover bits of a final partial group must be zero (canonical form).
    if (bits && (acc & ((1u << bits) - 1))) return std::nullopt;
    return out;
}

std::vector<unsigned char> base64_decode_padded(std::string_view text) {
    const auto bytes = text.size() % 4 == 0 ? base64_decode(text) : std::nullopt;
    if (!bytes) throw std::invalid_argument("bad base64");
    return {bytes->begin(), bytes->end()};
}

}  // namespace cmi
