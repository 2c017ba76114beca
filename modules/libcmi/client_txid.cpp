#include "libcmi/client_txid.hpp"

namespace cmi {

bool is_valid_client_txid(std::string_view s) {
    if (s.empty() || s.size() > kClientTxidMaxLength) return false;
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace cmi
