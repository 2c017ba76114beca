#include "mod_cmi_audit/connection_tls.hpp"

#include "libcmi/cert_fingerprint.hpp"
#include "mod_cmi_audit/audit_config.hpp"

#include <apr_optional_hooks.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <new>
#include <type_traits>

namespace cmi::audit {
namespace {

RecordView::Str view(const char* v) {
    if (!v || !*v) return std::nullopt;
    return std::string_view(v);
}

bool same(const char* a, const char* b) { return !std::strcmp(a ? a : "", b ? b : ""); }

// The facts as mod_ssl formats them. `verify`: SSL_CLIENT_VERIFY; the strings
// are made in `p`.
RecordView::Tls facts_from_mod_ssl(request_rec* r, apr_pool_t* p, const char* verify) {
    conn_rec* c = r->connection;
    auto var = [r, c](apr_pool_t* pool, const char* name) { return ap_ssl_var_lookup(pool, r->server, c, r, name); };
    // NONE: no certificate presented (mod_ssl says so only then).
    const bool presented = verify && *verify && std::strcmp(verify, "NONE") != 0;
    RecordView::Tls t;
    t.protocol = view(var(p, "SSL_PROTOCOL"));
    t.cipher = view(var(p, "SSL_CIPHER"));
    if (presented)
        if (const char* pem = var(r->pool, "SSL_CLIENT_CERT"); pem && *pem)
            if (const auto fp = pem_certificate_sha256(pem))
                t.client_cert_sha256 = std::string_view(apr_pstrmemdup(p, fp->data(), fp->size()), fp->size());
    if (verify && !std::strcmp(verify, "SUCCESS")) t.client_dn = view(var(p, "SSL_CLIENT_S_DN"));
    return t;
}

// --- a client connection whose SSL mod_ssl showed us (its pre_handshake hook) ---
//
// What the facts were made from: the TLS session, the client's certificate
// and its verification result, as OpenSSL holds them. A TLS 1.2
// renegotiation makes a new session; TLS 1.3 post-handshake authentication
// a new certificate object; mod_ssl's re-check of a certificate already on
// the connection (a location with stricter verification) sets a new
// verification result. The session and the certificate are held by
// reference while they are the key, so a new one can never reuse the old
// one's address.
struct HandshakeTls {
    SSL* ssl;
    SSL_SESSION* session = nullptr;  // held (up_ref) while it is the key
    X509* peer = nullptr;            // held (up_ref) while it is the key
    long verify = 0;
    bool known = false;
    RecordView::Tls facts;
};
static_assert(std::is_trivially_destructible_v<HandshakeTls>, "kept in a pool; the refs go in a cleanup");

void hold(HandshakeTls& h, SSL_SESSION* session, X509* peer) {
    if (session) SSL_SESSION_up_ref(session);
    if (peer) X509_up_ref(peer);
    SSL_SESSION_free(h.session);
    X509_free(h.peer);
    h.session = session;
    h.peer = peer;
}

extern "C" apr_status_t release_handshake_tls(void* data) noexcept {
    auto* h = static_cast<HandshakeTls*>(data);
    hold(*h, nullptr, nullptr);
    h->known = false;
    return APR_SUCCESS;
}

// mod_ssl's optional hook (mod_ssl_openssl.h, not installed by every
// distribution): int pre_handshake(conn_rec*, SSL*, int is_proxy), run once
// per TLS connection before its handshake. Nothing here can throw.
extern "C" int pre_handshake(conn_rec* c, SSL* ssl, int is_proxy) noexcept {
    if (is_proxy || !ssl || c->master) return DECLINED;
    auto* h = new (apr_palloc(c->pool, sizeof(HandshakeTls))) HandshakeTls{ssl, nullptr, nullptr, 0, false, RecordView::Tls()};
    apr_pool_cleanup_register(c->pool, h, release_handshake_tls, apr_pool_cleanup_null);
    ap_set_module_config(c->conn_config, &cmi_audit_module, h);
    return DECLINED;
}

std::optional<RecordView::Tls> handshake_tls(request_rec* r, HandshakeTls& h) {
    SSL_SESSION* session = SSL_get_session(h.ssl);
    X509* peer = SSL_get0_peer_certificate(h.ssl);
    const long verify = SSL_get_verify_result(h.ssl);
    if (h.known && session == h.session && peer == h.peer && verify == h.verify) return h.facts;
    conn_rec* c = r->connection;
    h.facts = facts_from_mod_ssl(r, c->pool, ap_ssl_var_lookup(r->pool, r->server, c, r, "SSL_CLIENT_VERIFY"));
    hold(h, session, peer);
    h.verify = verify;
    h.known = true;
    return h.facts;
}

// --- any other TLS connection (an HTTP/2 stream, another TLS module) ----------
//
// Keyed by what mod_ssl says: the facts can change on a connection only with
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

std::optional<RecordView::Tls> looked_up_tls(request_rec* r) {
    conn_rec* c = r->connection;
    if (!ap_ssl_conn_is_ssl(c)) return std::nullopt;
    auto var = [r, c](apr_pool_t* p, const char* name) { return ap_ssl_var_lookup(p, r->server, c, r, name); };
    const char* session = var(r->pool, "SSL_SESSION_ID");
    const char* verify = var(r->pool, "SSL_CLIENT_VERIFY");
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
    const RecordView::Tls t = facts_from_mod_ssl(r, keyed ? c->pool : r->pool, verify);
    if (keyed) {
        auto* cached = new (apr_palloc(c->pool, sizeof(Cached)))
            Cached{apr_pstrdup(c->pool, session), apr_pstrdup(c->pool, verify ? verify : ""),
                   apr_pstrdup(c->pool, serial ? serial : ""), apr_pstrdup(c->pool, issuer ? issuer : ""), t};
        apr_pool_userdata_setn(cached, kCacheKey, nullptr, c->pool);
    }
    return t;
}

}  // namespace

void register_tls_handshake_hook() {
    apr_optional_hook_add("pre_handshake", reinterpret_cast<void (*)()>(&pre_handshake), nullptr, nullptr,
                          APR_HOOK_MIDDLE);
}

std::optional<RecordView::Tls> connection_tls(request_rec* r) {
    conn_rec* c = r->connection;
    if (!c->master)
        if (auto* h = static_cast<HandshakeTls*>(ap_get_module_config(c->conn_config, &cmi_audit_module)))
            return handshake_tls(r, *h);
    return looked_up_tls(r);
}

}  // namespace cmi::audit
