// mod_cmi_tls on mod_status's server-status page (see tls_status.cpp).
#pragma once

namespace cmi::tls {

// Makes the counter table in post_config and reports it on server-status.
void register_status_hooks();

}  // namespace cmi::tls
