#include "mod_cmi_audit/connection_tls.hpp"

#include "libcmi/cert_fingerprint.hpp"

#include <cstring>
#include <new>
#include <type_traits>

namespace cmi::audit {
namespace {

// What the facts were made from. They can change on a connection only with
// its TLS session (a renegotiation makes a new one) or with the certificate
// the client presented on the session (TLS 1.3 post-handshake
// authentication keeps the session id): its verification result, serial
// number and issuer are part of the key, so a certificate that arrives, or
// another one, is never missed.
struct Cached {
    const char* session;
    const char* verify;
    const char* serial;  // "" without a certificate
    const char* issuer;  // "" without a certificate
    RecordView::Tls facts;
};
static_assert(std::is_trivially_destructible_v<Cached>, "kept in a pool without a cleanup");
constexpr const char* kCacheKey = "cmi-audit-tls-facts";

RecordView::Str view(const char* v) {
    if (!v || !*v) return std::nullopt;
    return std::string_view(v);
}

bool same(const char* a, const char* b) { return !std::strcmp(a ? a : "", b ? b : ""); }

}  // namespace

std::optional<RecordView::Tls> connection_tls(request_rec* r) {
    conn_rec* c = r->connection;
    if (!ap_ssl_conn_is_ssl(c)) return std::nullopt;
    auto var = [r, c](apr_pool_t* p, const char* name) { return ap_ssl_var_lookup(p, r->server, c, r, name); };
    const char* session = var(r->pool, "SSL_SESSION_ID");
    const char* verify = var(r->pool, "SSL_CLIENT_VERIFY");
    // NONE: no certificate presented (mod_ssl says so only then).
    const bool presented = verify && *verify && std::strcmp(verify, "NONE") != 0;
    const char* serial = presented ? var(r->pool, "SSL_CLIENT_M_SERIAL") : "";
    const char* issuer = presented ? var(r->pool, "SSL_CLIENT_I_DN") : "";
    // A connection's pool is used by one thread at a time (an HTTP/2 stream
    // has a connection of its own): no lock.
    const bool keyed = session && *session;
    if (keyed) {
        void* found = nullptr;
        apr_pool_userdata_get(&found, kCacheKey, c->pool);
        if (const auto* cached = static_cast<const Cached*>(found);
            cached && same(cached->session, session) && same(cached->verify, verify) && same(cached->serial, serial) &&
            same(cached->issuer, issuer))
            return cached->facts;
    }
    apr_pool_t* p = keyed ? c->pool : r->pool;
    RecordView::Tls t;
    t.protocol = view(var(p, "SSL_PROTOCOL"));
    t.cipher = view(var(p, "SSL_CIPHER"));
    if (presented)
        if (const char* pem = var(r->pool, "SSL_CLIENT_CERT"); pem && *pem)
            if (const auto fp = pem_certificate_sha256(pem))
                t.client_cert_sha256 = std::string_view(apr_pstrmemdup(p, fp->data(), fp->size()), fp->size());
    if (verify && !std::strcmp(verify, "SUCCESS")) t.client_dn = view(var(p, "SSL_CLIENT_S_DN"));
    if (keyed) {
        auto* cached = new (apr_palloc(c->pool, sizeof(Cached)))
            Cached{apr_pstrdup(c->pool, session), apr_pstrdup(c->pool, verify ? verify : ""),
                   apr_pstrdup(c->pool, serial ? serial : ""), apr_pstrdup(c->pool, issuer ? issuer : ""), t};
        apr_pool_userdata_setn(cached, kCacheKey, nullptr, c->pool);
    }
    return t;
}

}  // namespace cmi::audit
