// mod_cmi_content on mod_status's server-status page (see content_status.cpp).
#pragma once

namespace cmi::content {

// Makes the counter table in post_config and reports it on server-status.
void register_status_hooks();

}  // namespace cmi::content
