// What the mechanisms of AuthType CMI share: reading the Authorization header,
// the realm, the replay cache (once per request), the authn providers.
#include "mod_cmi_auth/mechanism.hpp"

#include "httpd/request_chain.hpp"

#include <ap_provider.h>
#include <mod_auth.h>

#include <cstring>
#include <functional>
#include <string>

namespace cmi::auth {

const char* authorization_params(request_rec* r, const char* scheme) {
    const char* h = apr_table_get(r->headers_in, "Authorization");
    if (!h) return nullptr;
    const std::size_t n = std::strlen(scheme);
    if (strncasecmp(h, scheme, n) || (h[n] != ' ' && h[n] != '\t')) return nullptr;
    h += n;
    while (*h == ' ' || *h == '\t') ++h;
    return h;
}

std::string quoted(const char* s) {
    std::string out = "\"";
    for (; *s; ++s) {
        if (*s == '"' || *s == '\\') out += '\\';
        out += *s;
    }
    return out + "\"";
}

const char* realm(request_rec* r) {
    const char* name = ap_auth_name(r);
    return name && *name ? name : "CMI";
}

namespace {

// Once per request: its subrequests and internal redirects are not replays of it.
template <typename Record>
httpd::ReplayCache::Result record(request_rec* r, const std::string& note_key, Record&& rec) {
    request_rec* first = httpd::first_request(r);
    const std::string note = "CMI_AUTH_RECORDED " + note_key;
    if (apr_table_get(first->notes, note.c_str())) return httpd::ReplayCache::Result::fresh;
    httpd::ReplayCache* cache = server_config(r->server).replay_cache;
    if (!cache) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CMILOGNO(20002) "no replay cache: set CMIAuthReplayCache");
        return httpd::ReplayCache::Result::unavailable;
    }
    const auto res = rec(*cache);
    if (res == httpd::ReplayCache::Result::fresh) apr_table_set(first->notes, note.c_str(), "1");
    return res;
}

}  // namespace

httpd::ReplayCache::Result record_once(request_rec* r, const std::string& key, apr_time_t expiry,
                                       const httpd::ReplayUse& use) {
    return record(r, key, [&](httpd::ReplayCache& c) { return c.check_and_store(r, key, expiry, use); });
}

httpd::ReplayCache::Result record_count(request_rec* r, const std::string& key, std::uint32_t count,
                                        apr_time_t expiry, const httpd::ReplayUse& use) {
    return record(r, key + ":" + std::to_string(count),
                  [&](httpd::ReplayCache& c) { return c.check_and_count(r, key, count, expiry, use); });
}

bool replay_cache_refused(httpd::ReplayCache::Result res, apr_time_t free_at, Outcome& out) {
    using R = httpd::ReplayCache::Result;
    switch (res) {
    case R::unavailable:
        out.verdict = Verdict::unavailable;
        out.detail = "The replay cache is unavailable.";
        return true;
    case R::full:
        out.verdict = Verdict::unavailable;
        out.detail = "The replay cache is full.";
        return true;
    case R::over_share:
        out.verdict = Verdict::throttled;
        out.retry_at = free_at;
        out.detail = "This user holds its share of the replay cache (too many new logins within their "
                     "lifetime); retry later.";
        return true;
    case R::fresh:
    case R::replayed:
    case R::before_start:
    case R::behind_window:
        break;
    }
    return false;
}

const char* presented(request_rec* r, const char* scheme, Outcome& out, const char* tls_only) {
    const char* params = authorization_params(r, scheme);
    if (!params) return nullptr;
    out.verdict = Verdict::denied;
    if (tls_only && !ap_ssl_conn_is_ssl(r->connection)) {
        out.detail = std::string(tls_only) + " are only accepted over TLS.";
        return nullptr;
    }
    return params;
}

bool valid_base64(const char* s, std::size_t& n) {
    for (n = 0; s[n]; ++n)
        if (!apr_isalnum(s[n]) && s[n] != '+' && s[n] != '/' && s[n] != '=') return false;
    return n > 0 && n % 4 == 0;
}

authn_status ask_providers(request_rec* r, const DirConfig& dc, bool past_errors,
                           const std::function<authn_status(const authn_provider&)>& ask) {
    apr_array_header_t* names = providers(dc, r->pool);
    authn_status result = AUTH_USER_NOT_FOUND;
    for (int i = 0; i < names->nelts; ++i) {
        const char* name = APR_ARRAY_IDX(names, i, const char*);
        const auto* p = static_cast<const authn_provider*>(
            ap_lookup_provider(AUTHN_PROVIDER_GROUP, name, AUTHN_PROVIDER_VERSION));
        if (!p) continue;
        apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, name);
        const authn_status st = ask(*p);
        apr_table_unset(r->notes, AUTHN_PROVIDER_NAME_NOTE);
        if (st == AUTH_GENERAL_ERROR && past_errors) result = st;
        else if (st != AUTH_USER_NOT_FOUND) return st;
    }
    return result;
}

}  // namespace cmi::auth
