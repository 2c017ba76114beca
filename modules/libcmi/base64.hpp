// Base64 (RFC 4648 §4) for byte sequences in headers and CMS blobs.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmi {

std::string base64_encode(std::string_view bytes);

// Strict decoding: only the base64 alphabet; padding optional but, if present,
// correct; no whitespace. nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

// The same with padding required, for our own signatures and hashes (checkpoints,
// receipts); throws std::invalid_argument on anything else.
std::vector<unsigned char> base64_decode_padded(std::string_view text);

}  // namespace cmi
