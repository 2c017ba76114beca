// The proxy-protocol parsers read attacker-controlled headers.
// fuzz-sources: libcmi/forwarded.cpp
#include "libcmi/forwarded.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    if (auto p = cmi::last_forwarded_proto(in)) {
        // Whatever is returned is a lower-case scheme.
        for (char c : *p)
            if (c >= 'A' && c <= 'Z') __builtin_trap();
    }
    cmi::last_x_forwarded_proto(in);
    return 0;
}
