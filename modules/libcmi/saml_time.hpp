// xs:dateTime as SAML 2.0 uses it (UTC, "Z" or an offset, optional fractions).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace cmi::saml {

// Seconds since the Unix epoch (fractions dropped); nullopt if malformed.
std::optional<std::int64_t> parse_time(std::string_view s);

}  // namespace cmi::saml
