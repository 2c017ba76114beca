// CMIContentSignerIdentity: an ap_expr string expression over the SIGNER_*
// variables of a CMS signer certificate (libcmi/signer_vars.hpp) and every
// variable ap_expr already knows; its value is the identity that
// CMIContentBindSigner compares with CMI_USER. (RFC 9421 signers are their keyid.)
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/signer_vars.hpp"

#include <ap_expr.h>

#include <string>

namespace cmi::content {

// In the directive handler. Throws std::invalid_argument with ap_expr's message.
const ap_expr_info_t* parse_signer_identity(cmd_parms* cmd, const char* expr);

// The expression's value for this signer. Throws std::runtime_error when it
// cannot be evaluated.
std::string signer_identity(request_rec* r, const ap_expr_info_t* expr, const SignerVars& vars);

}  // namespace cmi::content
