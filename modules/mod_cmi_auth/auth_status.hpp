// mod_cmi_auth on mod_status's server-status page (see auth_status.cpp).
#pragma once

namespace cmi::auth {

// Makes the counter table in post_config and reports it on server-status.
void register_status_hooks();

}  // namespace cmi::auth
