#include "libcmi/tls_version.hpp"

namespace cmi {

int tls_version_rank(std::string_view p) {
    if (p == "TLSv1.3") return 13;
    if (p == "TLSv1.2") return 12;
    return 0;
}

}  // namespace cmi
