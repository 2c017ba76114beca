// `basic`: user and password checked by authn providers; never over plain HTTP.
#include "mod_cmi_auth/mechanism.hpp"

#include <ap_provider.h>
#include <apr_base64.h>
#include <mod_auth.h>

#include <openssl/crypto.h>

#include <cstring>

namespace cmi::auth {

Outcome basic_authenticate(request_rec* r, const DirConfig& dc) {
    Outcome out;
    const char* b64 = presented(r, "Basic", out, "Basic credentials");
    if (!b64) return out;
    while (*b64 == ' ') ++b64;
    std::size_t n = 0;
    if (!valid_base64(b64, n)) {
        out.detail = "Malformed Basic credentials.";
        return out;
    }
    char* decoded = static_cast<char*>(apr_palloc(r->pool, apr_base64_decode_len(b64) + 1));
    const int len = apr_base64_decode(decoded, b64);
    decoded[len] = '\0';
    char* colon = std::strchr(decoded, ':');
    if (static_cast<int>(std::strlen(decoded)) != len || !colon || colon == decoded) {
        OPENSSL_cleanse(decoded, len);
        out.detail = "Malformed Basic credentials.";
        return out;
    }
    *colon = '\0';
    const char* user = decoded;
    const char* password = colon + 1;

    const authn_status result = ask_providers(r, dc, false, [&](const authn_provider& p) {
        return p.check_password ? p.check_password(r, user, password) : AUTH_USER_NOT_FOUND;
    });
    OPENSSL_cleanse(colon + 1, std::strlen(colon + 1));
    switch (result) {
    case AUTH_GRANTED:
        out.verdict = Verdict::granted;
        out.user = apr_pstrdup(r->pool, user);
        return out;
    case AUTH_GENERAL_ERROR:
        out.verdict = Verdict::unavailable;
        out.detail = "The user directory could not be consulted.";
        return out;
    default:
        out.detail = "Wrong user name or password.";
        return out;
    }
}

void basic_challenge(request_rec* r) {
    // Not offered where it would be refused.
    if (!ap_ssl_conn_is_ssl(r->connection)) return;
    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, "Basic realm=", quoted(realm(r)).c_str(), ", charset=\"UTF-8\"", nullptr));
}

}  // namespace cmi::auth
