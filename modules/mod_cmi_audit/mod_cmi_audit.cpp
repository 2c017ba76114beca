// mod_cmi_audit — CMI non-repudiation (OMA CMI §6.3): transaction ids and a
// durable, hash-chained operation log of every audited request.
#include "httpd/barrier.hpp"
#include "httpd/common_hooks.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/transaction.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/audit_status.hpp"
#include "mod_cmi_audit/connection_tls.hpp"
#include "mod_cmi_audit/request_body.hpp"
#include "mod_cmi_audit/request_evidence.hpp"
#include "mod_cmi_audit/request_facts.hpp"
#include "mod_cmi_audit/request_ids.hpp"
#include "mod_cmi_audit/request_state.hpp"
#include "mod_cmi_audit/receipt_filter.hpp"

#include <mpm_common.h>

#include <string>

namespace cmi::audit {
namespace {

AuditLog* log_of(const request_rec* r) { return server_config(r->server).log; }

bool audited_request(const request_rec* r) { return r->per_dir_config && audited(dir_config(r)); }

// A record serialized: its fields (seq and prev are the log writer's).
struct Fields {
    std::string text;
    std::string_view ev;
    PieceSpans spans;  // where the request's description is in `text`
};

Fields serialized(const RecordView& rec) {
    Fields f{std::string(), rec.ev, PieceSpans()};
    f.text.reserve(1024);
    serialize_fields(rec, f.text, &f.spans);
    return f;
}

// Keeps the begin record's description of r for its end record (the same
// request: the same bytes; see RecordView::Pieces).
void keep_description(request_rec* r, RequestState& st, const Fields& begin) {
    const char* copy = static_cast<const char*>(apr_pmemdup(operation_pool(r), begin.text.data(), begin.text.size()));
    st.description = begin.spans.in(std::string_view(copy, begin.text.size()));
    st.described = r;
}

void log_not_recorded(request_rec* r, const AuditLog& log, const Fields& rec, const std::string& why) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  CMILOGNO(40001) "audit log %s: %.*s record NOT recorded (%s) [CMI-Transaction-ID %s]: %s", log.path(),
                  static_cast<int>(rec.ev.size()), rec.ev.data(), why.c_str(), httpd::transaction_id(r),
                  assemble_line(0, rec.text, std::string()).c_str());
}

// header_parser runs once the location's configuration is known and before
// access control, so even a refusal by authentication carries the ids.
extern "C" int header_parser(request_rec* r) {
    return httpd::hook_barrier(r, cmi_audit_module, "header_parser", [r] {
        if (audited_request(r)) publish_request_ids(r);
        return DECLINED;
    });
}

// The begin record is written in fixups, at APR_HOOK_REALLY_LAST, rather than
// first thing in the handler phase:
//  - fixups is the last phase before ap_invoke_handler, after authentication
//    and authorization, so the record names the user, and every other
//    module's fixups (mod_rewrite, mod_dir, mod_env, ...) has settled the request;
//  - a fixups error goes through httpd's ordinary error path: ap_die sends
//    our 503 problem document, and neither insert_filter nor any handler
//    (mod_dav, CGI, mod_proxy) is ever invoked;
//  - a handler-phase hook would race other REALLY_FIRST handlers, and a
//    handler that runs a body filter chain first could consume input before
//    the record exists.
// Requests refused before fixups get begin and end together in log_transaction.
// Lets go of the operation's result entry in the log's ring when the request
// ends without an end record (an aborted request, a dying child's pool).
// Nothing here can throw (atomics on the ring): no barrier needed.
extern "C" apr_status_t release_entry(void* data) noexcept {
    auto* st = static_cast<RequestState*>(data);
    if (st->has_entry && !st->entry_released) {
        st->entry_released = true;
        if (st->log) st->log->abandon(st->entry);
    }
    return APR_SUCCESS;
}

// Queues the begin record of r's operation (waiting for durability when
// `durable`); the outcome is kept in the operation's state.
AuditLog::Begin queue_begin(request_rec* r, AuditLog& log, RequestState& st, const Fields& rec, bool durable) {
    const apr_time_t start = durable ? apr_time_now() : 0;
    AuditLog::Begin res = log.begin(rec.text, durable);
    count_begin(r, res, durable, durable ? apr_time_now() - start : 0);
    st.begun = res.queued && !res.failed;
    st.begin_failed = !st.begun;
    if (res.queued) {
        st.has_entry = true;
        st.entry = res.entry;
        st.log = &log;
        apr_pool_cleanup_register(operation_pool(r), &st, release_entry, apr_pool_cleanup_null);
        if (!st.begun) release_entry(&st);
    }
    return res;
}

// queue_begin, once the evidence of origin the record names is in the store
// (request_evidence.hpp); evidence that cannot be kept fails the begin.
// `fields`: the record as serialized (for the error log).
AuditLog::Begin begin_with_evidence(request_rec* r, AuditLog& log, RequestState& st, RecordView& rec,
                                    const RecordNotes& notes, bool durable, Fields& fields) {
    const std::string why = keep_evidence(r, rec, notes.evidence);
    fields = serialized(rec);
    if (!why.empty()) {
        AuditLog::Begin res;
        res.failed = true;
        res.error = "cannot keep the evidence of origin: " + why;
        count_failed(r);
        st.begin_failed = true;
        return res;
    }
    AuditLog::Begin res = queue_begin(r, log, st, fields, durable);
    if (st.begun) keep_description(r, st, fields);
    return res;
}

int write_begin(request_rec* r) {
    if (r->main || !audited_request(r)) return DECLINED;
    AuditLog* log = log_of(r);
    if (!log) return DECLINED;
    RequestState& st = state(r);
    if (st.begun || st.begin_failed) return DECLINED;  // an internal redirect: one begin per operation

    const RecordNotes notes = record_notes(r);
    RecordView rec = begin_record(r, notes);
    Fields fields;
    const AuditLog::Begin res = begin_with_evidence(r, *log, st, rec, notes, syncs(server_config(r->server)), fields);
    if (res.ok()) return DECLINED;
    if (fails_open(dir_config(r))) {
        log_not_recorded(r, *log, fields, res.error + "; the request proceeds (CMIAuditFailMode open)");
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  CMILOGNO(40002) "audit log %s: cannot make the begin record of %s %s durable: %s; refused "
                                  "(CMIAuditFailMode closed) [CMI-Transaction-ID %s]",
                  log->path(), r->method, r->uri, res.error.c_str(), httpd::transaction_id(r));
    return httpd::refuse(r, cmi_audit_module, "audit-unavailable",
                         "The operation log cannot record this operation, so it was not performed. "
                         "Please try again later.");
}

extern "C" int fixups(request_rec* r) {
    return httpd::hook_barrier(r, cmi_audit_module, "fixups", [r] { return write_begin(r); });
}

extern "C" void insert_filter(request_rec* r) {
    httpd::hook_barrier(r, cmi_audit_module, "insert_filter", [r] {
        if (r->main) return DECLINED;
        RequestState* st = find_state(r);
        if (!st || !st->begun) return DECLINED;
        if (st->body) {  // once per operation; an internal redirect reads the same body
            keep_body_filter(r, st->body);
            return DECLINED;
        }
        st->body = add_body_filter(r);
        const AuditLog* log = log_of(r);
        if (gives_receipts(dir_config(r)) && log && log->signer()) add_receipt_filter(r, log->signer());
        return DECLINED;
    });
}

// A handler that returns a status (mod_dav's 204, a 404) goes through
// ap_send_error_response, which drops the content filters: add it again.
extern "C" void insert_error_filter(request_rec* r) {
    httpd::hook_barrier(r, cmi_audit_module, "insert_error_filter", [r] {
        if (r->main) return DECLINED;
        RequestState* st = find_state(r);
        const AuditLog* log = log_of(r);
        if (st && st->begun && !st->receipt && gives_receipts(dir_config(r)) && log && log->signer())
            add_receipt_filter(r, log->signer());
        return DECLINED;
    });
}

int write_end(request_rec* r) {
    if (r->main) return DECLINED;
    AuditLog* log = log_of(r);
    if (!log) return DECLINED;
    request_rec* last = r;
    while (last->next) last = last->next;
    RequestState* st = find_state(r);
    if (!st) {
        // Never reached fixups: refused earlier, or answered by a quick handler.
        // Its begin and end go together; nothing waits for them (the response is out).
        if (!audited_request(r) && !audited_request(last)) return DECLINED;
        st = &state(r);
        const RecordNotes notes = record_notes(r);
        RecordView begin = begin_record(r, notes);
        Fields fields;
        const AuditLog::Begin res = begin_with_evidence(r, *log, *st, begin, notes, false, fields);
        if (!res.ok()) log_not_recorded(r, *log, fields, res.error);
    }
    RecordView end = end_record(r, last, record_notes(last), st->described == r ? &st->description : nullptr);
    if (st->body) end.request = body_view(*st->body);
    if (st->receipt) end.receipt = std::string_view(st->receipt);
    const Fields fields = serialized(end);
    if (!st->begun || !st->has_entry || st->entry_released) {
        log_not_recorded(r, *log, fields, "its begin record is missing");
        return DECLINED;
    }
    st->entry_released = true;
    const std::string err = log->end(st->entry, fields.text);  // written (and counted) by the log writer
    if (!err.empty()) {
        count_failed(r);
        log_not_recorded(r, *log, fields, err);
    }
    return DECLINED;
}

extern "C" int log_transaction(request_rec* r) {
    return httpd::hook_barrier(r, cmi_audit_module, "log_transaction", [r] { return write_end(r); });
}

extern "C" int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) {
    // The first run only checks the configuration: open nothing yet.
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    return httpd::server_barrier(s, cmi_audit_module, "post_config", [=] {
        const ServerConfig& main = server_config(s);
        if (!main.log_path) return OK;  // inert: ids only
        char host[APRMAXHOSTLEN + 1] = "";
        if (apr_gethostname(host, sizeof host, ptemp) != APR_SUCCESS) apr_cpystrn(host, "localhost", sizeof host);
        auto* log = httpd::pool_new<AuditLog>(pconf, pconf, s, main, main.log_path, main.node ? main.node : host);
        log->start_logger();
        const EvidenceStore* evidence = open_evidence_store(pconf, s, main);
        for (server_rec* v = s; v; v = v->next) {
            server_config(v).log = log;
            server_config(v).evidence = evidence;
        }
        return OK;
    });
}

// The parent, about every ten seconds: gives back what children that died
// mid-operation held in the ring; keeps <log>.head up to date. (Idle
// checkpoints are the log writer's own.)
extern "C" int monitor(apr_pool_t*, server_rec* s) {
    return httpd::server_barrier(
        s, cmi_audit_module, "monitor",
        [s] {
            if (AuditLog* log = server_config(s).log) log->monitor();
            return DECLINED;
        },
        DECLINED);
}

extern "C" void child_init(apr_pool_t*, server_rec* s) {
    httpd::server_barrier(s, cmi_audit_module, "child_init", [s] {
        if (AuditLog* log = server_config(s).log) log->child_init();
    });
}

void register_hooks(apr_pool_t*) {
    httpd::register_common_hooks();
    register_status_hooks();
    register_body_filter();
    register_receipt_filter();
    register_tls_handshake_hook();
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_header_parser(header_parser, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(fixups, nullptr, nullptr, APR_HOOK_REALLY_LAST);
    ap_hook_insert_filter(insert_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(insert_error_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_monitor(monitor, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace
}  // namespace cmi::audit

CMI_MODULE(cmi_audit, cmi::audit)
