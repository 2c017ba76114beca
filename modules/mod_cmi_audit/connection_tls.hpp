// The TLS facts of a request's connection for its audit records (`tls`),
// kept per connection: mod_ssl formats them anew for every lookup (the client
// certificate as PEM, which we then hash; its subject DN), and most
// connections carry many requests. Whether they are still true is asked of
// OpenSSL when mod_ssl showed us the connection's SSL (three pointer reads),
// else of mod_ssl (two to four variable lookups a request).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"

#include <optional>

namespace cmi::audit {

// nullopt without TLS. The strings live in the connection's pool (or the
// request's, when the connection's TLS session has no id to key them by).
std::optional<RecordView::Tls> connection_tls(request_rec* r);

// Registers with mod_ssl's pre_handshake hook (by name: nothing happens
// without mod_ssl); call from register_hooks.
void register_tls_handshake_hook();

}  // namespace cmi::audit
