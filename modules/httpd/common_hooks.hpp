// What every mod_cmi module registers first: problem documents for its
// refusals, the guard against client headers posing as our variables, and the
// check of the running httpd's version.
#pragma once

namespace cmi::httpd {

void register_common_hooks();

}  // namespace cmi::httpd
