// Ordering of TLS protocol names as mod_ssl reports them in SSL_PROTOCOL.
#pragma once
#include <string_view>

namespace cmi {

// 0 for anything unknown or older than TLS 1.2 ("SSLv3", "TLSv1", "TLSv1.1"),
// 12 for "TLSv1.2", 13 for "TLSv1.3".
int tls_version_rank(std::string_view ssl_protocol);

}  // namespace cmi
