// mod_cmi_audit — CMI non-repudiation (OMA CMI §6.3): transaction ids and a
// durable, hash-chained operation log of every audited request.
#include "httpd/barrier.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/transaction.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/audit_status.hpp"
#include "mod_cmi_audit/request_body.hpp"
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

void log_not_recorded(request_rec* r, const AuditLog& log, const Record& rec, const std::string& why) {
    ap_log_rerror_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, r,
                   "audit log %s: %s record NOT recorded (%s) [CMI-Transaction-ID %s]: %s", log.path(),
                   rec.ev.c_str(), why.c_str(), rec.txid ? rec.txid->c_str() : "-", serialize(rec).c_str());
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
int write_begin(request_rec* r) {
    if (r->main || !audited_request(r)) return DECLINED;
    AuditLog* log = log_of(r);
    if (!log) return DECLINED;
    RequestState& st = state(r);
    if (st.begun || st.begin_failed) return DECLINED;  // an internal redirect: one begin per operation

    Record rec = begin_record(r);
    const AuditLog::Result res = counted_append(
        r, *log, rec, syncs(server_config(r->server)) ? AuditLog::Durable::now : AuditLog::Durable::no);
    st.begun = res.written;
    if (res.written) {
        st.begin_seq = res.seq;
        st.begin_line_hash = res.line_hash;
    }
    if (res.ok()) return DECLINED;
    st.begin_failed = !res.written;
    if (fails_open(dir_config(r))) {
        log_not_recorded(r, *log, rec,
                         res.error + "; the request proceeds (CMIAuditFailMode open)");
        return DECLINED;
    }
    ap_log_rerror_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, r,
                   "audit log %s: cannot make the begin record of %s %s durable: %s; refused "
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
    // The response has gone out: nothing waits for these records (see audit_log.hpp).
    const AuditLog::Durable sync = syncs(server_config(r->server)) ? AuditLog::Durable::soon : AuditLog::Durable::no;
    bool begun = st && st->begun;
    if (!st) {
        // Never reached fixups: refused earlier, or answered by a quick handler.
        if (!audited_request(r) && !audited_request(last)) return DECLINED;
        Record begin = begin_record(r);
        const AuditLog::Result res = counted_append(r, *log, begin, sync);
        if (!res.ok()) log_not_recorded(r, *log, begin, res.error);
        begun = res.written;
    }
    Record end = end_record(r, last);
    if (st && st->body) end.request = body_facts(*st->body);
    if (st && st->receipt) end.receipt = st->receipt;
    if (!begun) {
        log_not_recorded(r, *log, end, "its begin record is missing");
        return DECLINED;
    }
    log->append_later(std::move(end), sync);  // counted, and logged if it fails, by whoever writes it
    return DECLINED;
}

extern "C" int log_transaction(request_rec* r) {
    return httpd::hook_barrier(r, cmi_audit_module, "log_transaction", [r] { return write_end(r); });
}

extern "C" int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) {
    // The first run only checks the configuration: open nothing yet.
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    try {
        const ServerConfig& main = server_config(s);
        if (!main.log_path) return OK;  // inert: ids only
        char host[APRMAXHOSTLEN + 1] = "";
        if (apr_gethostname(host, sizeof host, ptemp) != APR_SUCCESS) apr_cpystrn(host, "localhost", sizeof host);
        auto* log = httpd::pool_new<AuditLog>(pconf, pconf, s, main.log_path, main.node ? main.node : host);
        if (main.signer)
            log->set_signer(main.signer, main.checkpoint_records ? main.checkpoint_records : 1000,
                            main.checkpoint_us ? main.checkpoint_us : apr_time_from_sec(60));
        for (server_rec* v = s; v; v = v->next) server_config(v).log = log;
        return OK;
    } catch (const std::exception& e) {
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_EMERG, 0, s, "%s", e.what());
    } catch (...) {
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_EMERG, 0, s,
                      "audit log: unknown error at start-up");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

// The parent, about every ten seconds: a checkpoint if the server went idle
// with records not covered by one; keeps <log>.head up to date.
extern "C" int monitor(apr_pool_t*, server_rec* s) {
    try {
        if (AuditLog* log = server_config(s).log) {
            const std::string err = log->idle_checkpoint(syncs(server_config(s)));
            if (!err.empty())
                ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, s, "audit log %s: %s",
                              log->path(), err.c_str());
            const std::string left = log->flush_left();
            if (!left.empty())
                ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, s, "audit log %s: %s",
                              log->path(), left.c_str());
            log->save_head();
        }
    } catch (const std::exception& e) {
        ap_log_error_(__FILE__, __LINE__, cmi_audit_module.module_index, APLOG_ERR, 0, s, "audit log: %s", e.what());
    } catch (...) {
    }
    return DECLINED;
}

void register_hooks(apr_pool_t*) {
    httpd::register_problem_response();
    register_status_hooks();
    register_body_filter();
    register_receipt_filter();
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_header_parser(header_parser, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(fixups, nullptr, nullptr, APR_HOOK_REALLY_LAST);
    ap_hook_insert_filter(insert_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(insert_error_filter, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_monitor(monitor, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace
}  // namespace cmi::audit

extern "C" {
APLOG_USE_MODULE(cmi_audit);

__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA cmi_audit_module = {
    STANDARD20_MODULE_STUFF,
    cmi::audit::create_dir_config,
    cmi::audit::merge_dir_config,
    cmi::audit::create_server_config,
    cmi::audit::merge_server_config,
    cmi::audit::directives,
    cmi::audit::register_hooks,
    AP_MODULE_FLAG_NONE,
};
}
