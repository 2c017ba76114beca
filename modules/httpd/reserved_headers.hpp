// Client-sent request headers that pose as one of mod_cmi's variables are
// removed before any handler, proxy or CGI sees them (libcmi/reserved_names.hpp).
#pragma once

namespace cmi::httpd {

// Registers the post_read_request hook; every module calls this from register_hooks,
// so the headers go wherever any of our modules is loaded, whatever it is configured
// to do (with or without CMIAudit). The first module's hook strips; the others find
// nothing left.
void register_reserved_header_guard();

}  // namespace cmi::httpd
