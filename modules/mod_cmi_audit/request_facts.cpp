#include "mod_cmi_audit/request_facts.hpp"

#include "httpd/transaction.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/connection_tls.hpp"
#include "mod_cmi_audit/request_state.hpp"

#include <cstring>

namespace cmi::audit {
namespace {

RecordView::Str str(const char* v) {
    if (!v || !*v) return std::nullopt;
    return std::string_view(v);
}

// The connection's TLS facts, looked up once per operation for both records.
const std::optional<RecordView::Tls>& tls_facts_once(request_rec* r) {
    RequestState& st = state(r);
    if (!st.tls_known) {
        st.tls = connection_tls(r);
        st.tls_known = true;
    }
    return st.tls;
}

std::optional<RecordView::Auth> auth_facts(const request_rec* r, const RecordNotes& n) {
    RecordView::Auth a;
    a.user = str(n.user);
    if (!a.user) a.user = str(r->user);
    a.mech = str(n.auth_mech);
    if (!a.mech && a.user) a.mech = str(r->ap_auth_type);
    a.issuer = str(n.auth_issuer);
    if (!a.user && !a.mech && !a.issuer) return std::nullopt;
    return a;
}

std::optional<RecordView::Validation> validation_facts(const RecordNotes& n) {
    RecordView::Validation v;
    v.result = str(n.validation);
    v.format = str(n.format);
    v.signer = str(n.signer);
    v.items = str(n.items);
    if (!v.result && !v.format && !v.signer && !v.items) return std::nullopt;
    return v;
}

// COPY/MOVE: where the request puts the resource — the path of its Destination
// (an absolute URI, RFC 4918 §10.3), without the query, as `uri` is recorded.
RecordView::Str destination(request_rec* r) {
    const char* d = apr_table_get(r->headers_in, "Destination");
    if (!d || !*d) return std::nullopt;
    apr_uri_t u{};
    if (apr_uri_parse(r->pool, d, &u) != APR_SUCCESS || !u.path) return std::nullopt;
    return std::string_view(u.path);
}

// `client_txid`: record_notes(r)'s.
RecordView common(request_rec* r, std::string_view ev, const char* client_txid) {
    const ServerConfig& sc = server_config(r->server);
    RecordView rec;
    rec.node = sc.node ? sc.node : (sc.log ? sc.log->default_node() : "");
    rec.ev = ev;
    rec.txid = str(httpd::transaction_id(r));
    rec.client_txid = str(client_txid);
    rec.op = str(dir_config(r).operation);
    rec.peer = str(r->connection->client_ip);
    rec.tls = tls_facts_once(r);
    rec.method = str(r->method);
    rec.uri = recorded_uri(r);
    rec.destination = destination(r);
    rec.content_type = str(apr_table_get(r->headers_in, "Content-Type"));
    return rec;
}

}  // namespace

std::optional<std::string_view> recorded_uri(const request_rec* r) {
    const char* u = r->unparsed_uri;
    if (!u || !*u) return std::nullopt;
    return std::string_view(u, std::strcspn(u, "?"));
}

RecordView begin_record(request_rec* r, const RecordNotes& notes) {
    RecordView rec = common(r, "begin", notes.client_txid);
    rec.time_us = r->request_time;
    rec.auth = auth_facts(r, notes);
    return rec;
}

RecordView end_record(request_rec* first, request_rec* last, const RecordNotes& notes,
                      const RecordView::Pieces* described) {
    RecordView rec;
    if (described) {  // the begin record's description of `first`: only what is not in it
        const ServerConfig& sc = server_config(first->server);
        rec.node = sc.node ? sc.node : (sc.log ? sc.log->default_node() : "");
        rec.ev = "end";
        rec.pieces = described;
    } else {
        rec = common(first, "end", first == last ? notes.client_txid : record_notes(first).client_txid);
    }
    const apr_time_t now = apr_time_now();
    rec.time_us = now;
    rec.auth = auth_facts(last, notes);
    rec.validation = validation_facts(notes);
    rec.status = last->status;
    rec.refusal = str(notes.refusal);
    rec.response_bytes = static_cast<std::uint64_t>(last->bytes_sent);
    rec.duration_us = now - first->request_time;
    return rec;
}

}  // namespace cmi::audit
