// RFC 8941 fields come straight from clients (Content-Digest, Signature-Input).
// Whatever parses must serialise, and the serialisation must parse back to itself.
// fuzz-sources: libcmi/structured_field.cpp libcmi/base64.cpp
#include "libcmi/structured_field.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

template <class Parse>
static void round_trip(std::string_view in, Parse parse) {
    try {
        const auto v = parse(in);
        const std::string once = cmi::sf::serialize(v);
        const std::string twice = cmi::sf::serialize(parse(once));
        if (once != twice) __builtin_trap();
    } catch (const cmi::sf::ParseError&) {
    } catch (const std::invalid_argument&) {
        // a parsed value that cannot be serialised (e.g. an empty list) is fine
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    round_trip(in, [](std::string_view s) { return cmi::sf::parse_item(s); });
    round_trip(in, [](std::string_view s) { return cmi::sf::parse_list(s); });
    round_trip(in, [](std::string_view s) { return cmi::sf::parse_dictionary(s); });
    return 0;
}
