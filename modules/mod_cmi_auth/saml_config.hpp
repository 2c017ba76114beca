// The SAML directives of mod_cmi_auth (entries in auth_config.cpp's table).
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::auth {

struct DirConfig;

// lasso_init() once for this process (per load of the module; a repeat after
// a restart is harmless, BUILD-NOTES).
void ensure_lasso();

const char* add_saml_idp_metadata(cmd_parms* cmd, DirConfig& c, const char* path, const char* alias);
const char* set_saml_sp_entity_id(cmd_parms* cmd, DirConfig& c, const char* uri);
const char* set_saml_clock_skew(cmd_parms* cmd, DirConfig& c, const char* secs);
const char* set_saml_recipients(cmd_parms* cmd, DirConfig& c, int argc, char* const argv[]);
const char* set_saml_user_attribute(cmd_parms* cmd, DirConfig& c, const char* name);

}  // namespace cmi::auth
