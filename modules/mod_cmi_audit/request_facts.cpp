#include "mod_cmi_audit/request_facts.hpp"

#include "httpd/request_chain.hpp"
#include "httpd/notes.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/cert_fingerprint.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/request_ids.hpp"
#include "mod_cmi_audit/request_state.hpp"

#include <cstring>

namespace cmi::audit {
namespace {

std::optional<std::string> str(const char* v) {
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

const char* note(const request_rec* r, const char* key) { return httpd::chain_note(r, key); }

std::optional<TlsFacts> tls_facts(request_rec* r) {
    if (!ap_ssl_conn_is_ssl(r->connection)) return std::nullopt;
    auto var = [r](const char* name) { return ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name); };
    TlsFacts t;
    t.protocol = str(var("SSL_PROTOCOL"));
    t.cipher = str(var("SSL_CIPHER"));
    if (const char* pem = var("SSL_CLIENT_CERT"); pem && *pem) t.client_cert_sha256 = pem_certificate_sha256(pem);
    const char* verify = var("SSL_CLIENT_VERIFY");
    if (verify && !strcmp(verify, "SUCCESS")) t.client_dn = str(var("SSL_CLIENT_S_DN"));
    return t;
}

const std::optional<TlsFacts>& tls_facts_once(request_rec* r) {
    RequestState& st = state(r);
    if (!st.tls_known) {
        st.tls = tls_facts(r);
        st.tls_known = true;
    }
    return st.tls;
}

std::optional<AuthFacts> auth_facts(const request_rec* r) {
    AuthFacts a;
    a.user = str(note(r, httpd::kUserKey));
    if (!a.user) a.user = str(r->user);
    a.mech = str(note(r, httpd::kAuthMechKey));
    if (!a.mech && a.user) a.mech = str(r->ap_auth_type);
    a.issuer = str(note(r, httpd::kAuthIssuerKey));
    if (!a.user && !a.mech && !a.issuer) return std::nullopt;
    return a;
}

std::optional<ValidationFacts> validation_facts(const request_rec* r) {
    ValidationFacts v;
    v.result = str(note(r, httpd::kContentValidationKey));
    v.format = str(note(r, httpd::kContentFormatKey));
    v.signer = str(note(r, httpd::kContentSignerKey));
    v.items = str(note(r, httpd::kContentItemsKey));
    if (!v.result && !v.format && !v.signer && !v.items) return std::nullopt;
    return v;
}

// COPY/MOVE: where the request puts the resource — the path of its Destination
// (an absolute URI, RFC 4918 §10.3), without the query, as `uri` is recorded.
std::optional<std::string> destination(request_rec* r) {
    const char* d = apr_table_get(r->headers_in, "Destination");
    if (!d || !*d) return std::nullopt;
    apr_uri_t u{};
    if (apr_uri_parse(r->pool, d, &u) != APR_SUCCESS || !u.path) return std::nullopt;
    return std::string(u.path);
}

Record common(request_rec* r, const char* ev) {
    const ServerConfig& sc = server_config(r->server);
    Record rec;
    rec.node = sc.node ? sc.node : (sc.log ? sc.log->default_node() : "");
    rec.ev = ev;
    rec.txid = str(httpd::transaction_id(r));
    rec.client_txid = str(client_transaction_id(r));
    rec.op = str(dir_config(r).operation);
    rec.peer = str(r->connection->client_ip);
    rec.tls = tls_facts_once(r);
    rec.auth = auth_facts(r);
    rec.method = str(r->method);
    rec.uri = recorded_uri(r);
    rec.destination = destination(r);
    rec.content_type = str(apr_table_get(r->headers_in, "Content-Type"));
    return rec;
}

}  // namespace

std::optional<std::string> recorded_uri(const request_rec* r) {
    const char* u = r->unparsed_uri;
    if (!u || !*u) return std::nullopt;
    return std::string(u, std::strcspn(u, "?"));
}

Record begin_record(request_rec* r) {
    Record rec = common(r, "begin");
    rec.time_us = r->request_time;
    return rec;
}

Record end_record(request_rec* first, request_rec* last) {
    Record rec = common(first, "end");
    const apr_time_t now = apr_time_now();
    rec.time_us = now;
    rec.auth = auth_facts(last);
    rec.validation = validation_facts(last);
    rec.status = last->status;
    rec.refusal = str(note(last, httpd::kRefusalKey));
    rec.response_bytes = static_cast<std::uint64_t>(last->bytes_sent);
    rec.duration_us = now - first->request_time;
    return rec;
}

}  // namespace cmi::audit
