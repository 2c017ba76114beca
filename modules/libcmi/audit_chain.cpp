#include "libcmi/audit_chain.hpp"

#include "libcmi/sha256.hpp"

namespace cmi::audit {

std::string line_hash(std::string_view line_with_newline) { return sha256_hex(line_with_newline); }

}  // namespace cmi::audit
