// `saml`: Authorization: SAML <base64 of a signed Assertion or Response>,
// validated with lasso against CMISAMLIdPMetadata (libcmi/saml_assertion).
#include "mod_cmi_auth/mechanism.hpp"

#include "httpd/notes.hpp"
#include "libcmi/ossl.hpp"
#include "libcmi/saml_assertion.hpp"
#include "libcmi/saml_cache.hpp"
#include "libcmi/sha256.hpp"

#include <apr_base64.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace cmi::auth {
namespace {

// The DER of the TLS client certificate, or "" without one.
std::string client_cert_der(request_rec* r) {
    const char* pem = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
    if (!pem || !*pem) return {};
    const auto bio = ossl::memory_bio(pem);
    const ossl::UniquePtr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    return cert ? ossl::to_der(i2d_X509, cert.get()) : std::string();
}

std::string env_name(const std::string& attribute) {
    std::string out = httpd::kSamlAttrPrefix;
    for (char c : attribute) out += apr_isalnum(c) ? static_cast<char>(apr_toupper(c)) : '_';
    return out;
}

// This request's URL as the configuration names it — https, the virtual
// host's ServerName, its port (ServerName host:port, else the port the
// connection came in on), the path — never from the Host header, which the
// client writes (UseCanonicalName On with UseCanonicalPhysicalPort On).
std::string configured_url(request_rec* r) {
    const apr_port_t port = r->server->port ? r->server->port : r->connection->local_addr->port;
    std::string url = "https://";
    url += r->server->server_hostname ? r->server->server_hostname : "localhost";
    if (port != 443) url += ":" + std::to_string(port);
    return url + r->uri;
}

// The one-time-use key: short and printable for every socache provider.
std::string replay_key(const saml::Identity& id) {
    return "cmi-sa:" + sha256_hex(id.issuer + '\n' + id.assertion_id);
}

}  // namespace

Outcome saml_authenticate(request_rec* r, const DirConfig& dc) {
    Outcome out;
    // A bearer assertion is as good as a password to whoever sees it (cf. RFC 6750 §5.3).
    const char* b64 = presented(r, "SAML", out, "SAML assertions");
    if (!b64) return out;
    if (!dc.saml_idps || dc.saml_idps->empty() || !dc.saml_sp_entity_id) {
        // A client can send this at will: a warning, not an error.
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      CMILOGNO(20004) "saml: no CMISAMLIdPMetadata or CMISAMLSPEntityID for %s: SAML assertions are refused",
                      r->uri);
        out.detail = "SAML assertions are not accepted here.";
        return out;
    }
    std::size_t n = 0;
    if (!valid_base64(b64, n) || n > (saml::kMaxDocumentBytes / 3 + 1) * 4) {
        out.detail = "The SAML credentials are not base64 of an assertion of at most 256 KiB.";
        return out;
    }
    char* xml = static_cast<char*>(apr_palloc(r->pool, apr_base64_decode_len(b64) + 1));
    const int len = apr_base64_decode(xml, b64);

    saml::Policy policy;
    policy.sp_entity_id = dc.saml_sp_entity_id;
    if (dc.saml_recipients) {
        // The administrator's list: these and nothing else, and a bearer
        // assertion must name one of them.
        for (int i = 0; i < dc.saml_recipients->nelts; ++i)
            policy.recipients.emplace_back(APR_ARRAY_IDX(dc.saml_recipients, i, const char*));
        policy.recipient_required = true;
    } else {
        const std::string url = configured_url(r);
        policy.recipients.push_back(url);
        if (r->args) policy.recipients.push_back(url + "?" + r->args);
    }
    policy.now = apr_time_sec(apr_time_now());
    policy.skew = saml_skew(dc);
    policy.holder_of_key = dc.saml_holder_of_key == httpd::Tri::on;
    if (policy.holder_of_key) policy.client_cert_der = client_cert_der(r);
    policy.user_attribute = saml_user_attribute(dc);

    const std::string_view doc(xml, static_cast<std::size_t>(len));
    saml::ValidatedCache* cache = server_config(r->server).saml_cache;
    bool cached = false;
    const saml::Result res = cache ? saml::validate_cached(doc, *dc.saml_idps, policy, *cache, cached)
                                   : saml::validate(doc, *dc.saml_idps, policy);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "saml: assertion %s", cached ? "from the validated-assertion cache"
                                                                              : "validated");
    if (!res.ok) {
        out.detail = "The SAML assertion was refused: " + res.error + ".";
        return out;
    }
    const saml::Identity& id = res.identity;
    if (dc.saml_one_time_use == httpd::Tri::on || id.one_time_use) {
        const apr_time_t expiry = apr_time_from_sec(id.not_on_or_after + policy.skew + 1);
        // Charged to the user at its IdP; an assertion issued before the
        // cache's memory begins (a first start, a crash) may have been used.
        const std::string owner = "saml\n" + id.issuer + "\n" + id.user;
        apr_time_t free_at = 0;
        const auto res = record_once(r, replay_key(id), expiry,
                                     {owner, apr_time_from_sec(id.issue_instant - policy.skew), &free_at});
        if (replay_cache_refused(res, free_at, out)) return out;
        if (res == httpd::ReplayCache::Result::replayed || res == httpd::ReplayCache::Result::behind_window) {
            out.detail = "This one-time SAML assertion was already used (replay).";
            return out;
        }
        if (res == httpd::ReplayCache::Result::before_start) {
            out.detail = "This one-time SAML assertion was issued before the replay cache's memory begins (a "
                         "first start or a crash of the server); request a new assertion.";
            return out;
        }
    }
    out.verdict = Verdict::granted;
    out.user = apr_pstrdup(r->pool, id.user.c_str());
    out.issuer = apr_pstrdup(r->pool, id.issuer.c_str());
    if (!id.name_id.empty()) out.notes.emplace_back(httpd::kSamlNameIdKey, id.name_id);
    out.notes.emplace_back(httpd::kSamlAssertionIdKey, id.assertion_id);
    for (const auto& [name, value] : id.attributes) out.notes.emplace_back(env_name(name), value);
    return out;
}

void saml_challenge(request_rec* r) {
    if (!ap_ssl_conn_is_ssl(r->connection)) return;  // not offered where it would be refused
    apr_table_addn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, "SAML realm=", quoted(realm(r)).c_str(), nullptr));
}

}  // namespace cmi::auth
