// `saml`: Authorization: SAML <base64 Assertion or Response>.
// Assertion validation (lasso) is not in this build yet: a presented
// assertion is refused, never accepted unchecked (fail closed).
#include "mod_cmi_auth/mechanism.hpp"

namespace cmi::auth {

Outcome saml_authenticate(request_rec* r, const DirConfig&) {
    Outcome out;
    if (!authorization_params(r, "SAML")) return out;
    out.verdict = Verdict::denied;
    out.detail = "SAML assertions are not accepted by this server yet.";
    return out;
}

void saml_challenge(request_rec* r) {
    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, "SAML realm=", quoted(realm(r)).c_str(), nullptr));
}

}  // namespace cmi::auth
