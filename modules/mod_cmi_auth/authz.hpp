// Authorization providers over what AuthType CMI established:
// `Require cmi-mechanism mech...` and `Require cmi-saml-attribute name value...`.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::auth {

void register_authz_providers(apr_pool_t* p);

}  // namespace cmi::auth
