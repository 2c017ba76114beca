// `cert`: a client certificate mod_ssl verified (SSL_CLIENT_VERIFY = SUCCESS).
#include "mod_cmi_auth/mechanism.hpp"

namespace cmi::auth {

Outcome cert_authenticate(request_rec* r, const DirConfig& dc) {
    Outcome out;
    if (!ap_ssl_conn_is_ssl(r->connection)) return out;
    const char* verify = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_VERIFY");
    if (!verify || !*verify || !strcmp(verify, "NONE")) return out;
    if (strcmp(verify, "SUCCESS")) {
        // GENEROUS (optional_no_ca) or FAILED:reason: a certificate was
        // presented and did not verify.
        out.verdict = Verdict::denied;
        out.detail = std::string("The client certificate was not verified (") + verify + ").";
        return out;
    }
    const char* user = nullptr;
    if (dc.cert_user) {
        const char* err = nullptr;
        user = ap_expr_str_exec(r, dc.cert_user, &err);
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CMIAuthCertUser: %s", err);
            user = nullptr;
        }
    } else {
        user = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_S_DN_CN");
    }
    if (!user || !*user) {
        out.verdict = Verdict::denied;
        out.detail = "The client certificate carries no user name (see CMIAuthCertUser).";
        return out;
    }
    out.verdict = Verdict::granted;
    out.user = user;
    out.issuer = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_I_DN");
    return out;
}

}  // namespace cmi::auth
