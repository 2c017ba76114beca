#include "libcmi/audit_chain.hpp"

#include "libcmi/sha256.hpp"

namespace cmi::audit {

std::string checkpoint_message(std::uint64_t seq, std::string_view prev) {
    return "cmi-audit checkpoint v1\n" + std::to_string(seq) + "\n" + std::string(prev) + "\n";
}

std::string line_hash(std::string_view line_with_newline) { return sha256_hex(line_with_newline); }

}  // namespace cmi::audit
