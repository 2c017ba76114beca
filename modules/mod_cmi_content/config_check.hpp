// `apache2 -t` (and every start) refuses configurations where content
// validation is switched on but cannot work, naming the directive and the fix.
#pragma once

namespace cmi::content {

void register_config_check();

}  // namespace cmi::content
