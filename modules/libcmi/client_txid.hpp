// CMI-Client-Transaction-ID (docs/architecture.md §Audit trail): a client's own reference for an
// operation, recorded and echoed, never used as the primary id.
#pragma once
#include <string_view>

namespace cmi {

inline constexpr std::size_t kClientTxidMaxLength = 128;

// True if s is 1..128 characters of [A-Za-z0-9._:-].
bool is_valid_client_txid(std::string_view s);

}  // namespace cmi
