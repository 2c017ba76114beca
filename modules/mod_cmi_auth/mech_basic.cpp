// `basic`: user and password checked by authn providers; never over plain HTTP.
#include "mod_cmi_auth/mechanism.hpp"

#include <ap_provider.h>
#include <apr_base64.h>
#include <mod_auth.h>

#include <openssl/crypto.h>

#include <cstring>

namespace cmi::auth {
namespace {

bool valid_base64(const char* s) {
    std::size_t n = 0;
    for (; s[n]; ++n)
        if (!apr_isalnum(s[n]) && s[n] != '+' && s[n] != '/' && s[n] != '=') return false;
    return n > 0 && n % 4 == 0;
}

}  // namespace

Outcome basic_authenticate(request_rec* r, const DirConfig& dc) {
    Outcome out;
    const char* b64 = authorization_params(r, "Basic");
    if (!b64) return out;
    out.verdict = Verdict::denied;
    if (!ap_ssl_conn_is_ssl(r->connection)) {
        out.detail = "Basic credentials are only accepted over TLS.";
        return out;
    }
    while (*b64 == ' ') ++b64;
    if (!valid_base64(b64)) {
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

    apr_array_header_t* names = providers(dc, r->pool);
    authn_status result = AUTH_USER_NOT_FOUND;
    for (int i = 0; i < names->nelts && result == AUTH_USER_NOT_FOUND; ++i) {
        const char* name = APR_ARRAY_IDX(names, i, const char*);
        const auto* p = static_cast<const authn_provider*>(
            ap_lookup_provider(AUTHN_PROVIDER_GROUP, name, AUTHN_PROVIDER_VERSION));
        if (!p || !p->check_password) continue;
        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, name);
        result = p->check_password(r, user, password);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
    }
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
