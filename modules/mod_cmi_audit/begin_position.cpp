#include "mod_cmi_audit/begin_position.hpp"

#include "libcmi/sha256.hpp"
#include "mod_cmi_audit/request_state.hpp"

namespace cmi::audit {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

}  // namespace

std::string BeginPosition::sha256_hex() const { return hex(sha256.data(), sha256.size()); }

std::optional<BeginPosition> begin_position(request_rec* r, apr_interval_time_t) {
    // Today's engine chains the begin record before fixups returns: nothing to wait for.
    const RequestState* st = find_state(r);
    if (!st || !st->begun || st->begin_seq == 0 || st->begin_line_hash.size() != 64) return std::nullopt;
    BeginPosition pos;
    pos.seq = st->begin_seq;
    for (std::size_t i = 0; i < pos.sha256.size(); ++i) {
        const int hi = hex_digit(st->begin_line_hash[2 * i]), lo = hex_digit(st->begin_line_hash[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        pos.sha256[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return pos;
}

}  // namespace cmi::audit
