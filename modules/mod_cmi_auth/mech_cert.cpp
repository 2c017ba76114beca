// `cert`: a client certificate mod_ssl verified (SSL_CLIENT_VERIFY = SUCCESS).
#include "mod_cmi_auth/mechanism.hpp"

#include <new>

namespace cmi::auth {
namespace {

// What the certificate says, per connection. mod_ssl formats the subject CN
// and the issuer DN anew for every lookup (X509_NAME_print_ex, BIOs: most of
// this mechanism's cost). A connection's client certificate belongs to its TLS
// session and changes only with a new session (a renegotiation), so the facts
// are kept in the connection's pool, keyed by the session id.
struct CertFacts {
    const char* session;
    const char* cn;
    const char* issuer;
};
constexpr const char* kFactsKey = "cmi-auth-cert-facts";

CertFacts cert_facts(request_rec* r) {
    conn_rec* c = r->connection;
    const char* session = ap_ssl_var_lookup(r->pool, r->server, c, r, "SSL_SESSION_ID");
    const bool keyed = session && *session;
    if (keyed) {
        void* found = nullptr;
        apr_pool_userdata_get(&found, kFactsKey, c->pool);
        const auto* cached = static_cast<const CertFacts*>(found);
        if (cached && !strcmp(cached->session, session)) return *cached;
    }
    // Kept: looked up into the connection's pool; else into the request's.
    apr_pool_t* p = keyed ? c->pool : r->pool;
    const CertFacts facts{keyed ? apr_pstrdup(c->pool, session) : session,
                          ap_ssl_var_lookup(p, r->server, c, r, "SSL_CLIENT_S_DN_CN"),
                          ap_ssl_var_lookup(p, r->server, c, r, "SSL_CLIENT_I_DN")};
    if (keyed) apr_pool_userdata_setn(new (apr_palloc(c->pool, sizeof(CertFacts))) CertFacts(facts), kFactsKey,
                                      nullptr, c->pool);
    return facts;
}

}  // namespace

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
    const CertFacts facts = cert_facts(r);
    const char* user = nullptr;
    if (dc.cert_user) {  // an expression may use anything of the request: evaluated each time
        const char* err = nullptr;
        user = ap_expr_str_exec(r, dc.cert_user, &err);
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CMILOGNO(20001) "CMIAuthCertUser: %s", err);
            user = nullptr;
        }
    } else {
        user = facts.cn;
    }
    if (!user || !*user) {
        out.verdict = Verdict::denied;
        out.detail = "The client certificate carries no user name (see CMIAuthCertUser).";
        return out;
    }
    out.verdict = Verdict::granted;
    out.user = user;
    out.issuer = facts.issuer;
    return out;
}

}  // namespace cmi::auth
