// Runs of plain ASCII, sixteen bytes at a time: the audit log's JSON writer
// copies such runs unescaped, its log writer refuses lines with anything else.
#pragma once
#include <cstddef>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cmi {

// Length of the leading run of bytes in 0x20..0x7e (printable ASCII).
// With `json`, '"' and '\\' end the run too (what a JSON string escapes).
template <bool json>
inline std::size_t ascii_run(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    // As signed bytes, everything from 0x80 is negative: one "less than 0x20"
    // catches the controls and every non-ASCII byte; DEL is compared alone.
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del));
        if (json) bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (const int mask = _mm_movemask_epi8(bad)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    for (; i < n; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c < 0x20 || c > 0x7e || (json && (c == '"' || c == '\\'))) return i;
    }
    return n;
}

}  // namespace cmi
