// Certificate fingerprints for the audit log.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace cmi {

// Hex SHA-256 of the DER form of the first certificate in `pem`; nullopt if
// it holds none.
std::optional<std::string> pem_certificate_sha256(std::string_view pem);

}  // namespace cmi
