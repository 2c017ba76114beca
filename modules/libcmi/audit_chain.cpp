#include "libcmi/audit_chain.hpp"

#include "libcmi/sha256.hpp"

namespace cmi::audit {

std::string checkpoint_message(std::uint64_t seq, std::string_view prev) {
    return "cmi-audit checkpoint v1\n" + std::to_string(seq) + "\n" + std::string(prev) + "\n";
}

std::string line_hash(std::string_view line_with_newline) { return sha256_hex(line_with_newline); }

namespace {
constexpr std::string_view kHeadMagic = "cmi-audit head v1\n";
}

std::string format_head_file(const ChainHead& head) {
    return std::string(kHeadMagic) + std::to_string(head.seq) + "\n" + head.hash + "\n";
}

std::optional<ChainHead> parse_head_file(std::string_view text) {
    if (text.substr(0, kHeadMagic.size()) != kHeadMagic) return std::nullopt;
    text.remove_prefix(kHeadMagic.size());
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos || nl == 0 || nl > 20) return std::nullopt;
    ChainHead head;
    head.seq = 0;
    for (const char c : text.substr(0, nl)) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t next = head.seq * 10 + static_cast<std::uint64_t>(c - '0');
        if (next / 10 != head.seq) return std::nullopt;  // overflow
        head.seq = next;
    }
    if (head.seq == 0) return std::nullopt;
    text.remove_prefix(nl + 1);
    if (text.size() != 65 || text[64] != '\n') return std::nullopt;
    for (const char c : text.substr(0, 64))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    head.hash = std::string(text.substr(0, 64));
    return head;
}

}  // namespace cmi::audit
