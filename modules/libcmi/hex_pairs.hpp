// Lower-case hex two digits a byte from a table (one load and one store per
// byte): the log writer's chain head, the transaction ids.
#pragma once
#include <cstring>

namespace cmi {

struct HexPairs {
    char pair[256][2];
    constexpr HexPairs() : pair() {
        constexpr char digits[] = "0123456789abcdef";
        for (int b = 0; b < 256; ++b) {
            pair[b][0] = digits[b >> 4];
            pair[b][1] = digits[b & 15];
        }
    }
};
inline constexpr HexPairs kHexPairs;

// The two digits of `b` at `out`.
inline void put_hex_pair(char* out, unsigned char b) noexcept { std::memcpy(out, kHexPairs.pair[b], 2); }

}  // namespace cmi
