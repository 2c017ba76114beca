// The keys modules share through r->notes / r->subprocess_env (DESIGN §7).
#pragma once

namespace cmi::httpd {

inline constexpr const char* kTransactionIdKey = "CMI_TRANSACTION_ID";
inline constexpr const char* kTransactionIdHeader = "CMI-Transaction-ID";
inline constexpr const char* kRefusalKey = "CMI_REFUSAL";

}  // namespace cmi::httpd
