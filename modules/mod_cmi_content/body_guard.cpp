#include "httpd/notes.hpp"
#include "mod_cmi_content/body_guard.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/request_chain.hpp"
#include "httpd/transaction.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/redirect_policy.hpp"

namespace cmi::content {
namespace {

constexpr const char* kSealedFilterName = "CMI_CONTENT_SEALED";

enum class Verdict {
    undecided,  // no request of the chain reached our fixups
    open,       // decided: the body may be read as it is (no validation here, Optional and unsigned)
    guarded,    // every read goes through `frec`/`ctx`
    sealed,     // refused, or never validated where validation applies: nobody reads it
};

struct BodyGuard {
    Verdict verdict = Verdict::undecided;
    ap_filter_rec_t* frec = nullptr;
    void* ctx = nullptr;
    const ap_conf_vector_t* judged = nullptr;  // the configuration the verdict was last reached or confirmed under
    JudgedBody policy;                         // guarded: the policy it was judged by and the signature it passed
    bool seal_added = false;
};

struct Seal {
    bool logged = false;
};

// Kept on the request httpd received (its pool outlives every redirect and subrequest).
BodyGuard* find_guard(request_rec* r) {
    return static_cast<BodyGuard*>(
        ap_get_module_config(httpd::first_request(r)->request_config, &cmi_content_module));
}

BodyGuard& guard_of(request_rec* r) {
    if (BodyGuard* g = find_guard(r)) return *g;
    request_rec* first = httpd::first_request(r);
    auto* g = httpd::pool_new<BodyGuard>(first->pool);
    ap_set_module_config(first->request_config, &cmi_content_module, g);
    return *g;
}

// A read of a sealed body fails, and the connection closes after this
// response: httpd's own discard of the body (ap_discard_request_body reads
// through the same filters) then reads nothing, and nothing left unread can
// be taken for a next request.
apr_status_t sealed_filter_body(ap_filter_t* f, ap_input_mode_t mode) {
    f->c->keepalive = AP_CONN_CLOSE;
    if (mode == AP_MODE_INIT) return APR_SUCCESS;
    auto* seal = static_cast<Seal*>(f->ctx);
    if (!seal->logged) {
        seal->logged = true;
        request_rec* first = httpd::first_request(f->r);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, f->r,
                      CMILOGNO(30003) "refused to hand the body of %s %s to %s: it was never validated (the request "
                                      "was refused before or by validation) [CMI-Transaction-ID %s]",
                      first->method, first->uri, f->r->uri, httpd::transaction_id(f->r));
    }
    return APR_EACCES;
}

extern "C" apr_status_t sealed_filter(ap_filter_t* f, apr_bucket_brigade*, ap_input_mode_t mode, apr_read_type_e,
                                      apr_off_t) {
    return httpd::filter_barrier(f, cmi_content_module, "sealed body filter",
                                 [&] { return sealed_filter_body(f, mode); });
}

void seal(request_rec* r, BodyGuard& g) {
    g.verdict = Verdict::sealed;
    if (g.seal_added) return;
    g.seal_added = true;
    ap_filter_t* f = ap_add_input_filter(kSealedFilterName, httpd::pool_new<Seal>(httpd::first_request(r)->pool), r,
                                         r->connection);
    g.frec = f->frec;
    g.ctx = f->ctx;
}

// Puts the guard in front of r's handler.
void follow(request_rec* r, BodyGuard& g) {
    if (g.verdict == Verdict::sealed) {
        seal(r, g);
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (g.verdict == Verdict::guarded || g.verdict == Verdict::sealed) httpd::keep_input_filter(r, g.frec, g.ctx);
}

// What a handler learns about the body (notes and, for CGIs, the environment)
// is the same after a redirect; subprocess_env otherwise carries it only as REDIRECT_*.
void carry_results(const request_rec* from, request_rec* to) {
    for (const char* key : {httpd::kContentValidationKey, httpd::kContentFormatKey, httpd::kContentDigestKey, httpd::kContentSignerKey, httpd::kContentItemsKey, httpd::kContentItemsFileKey}) {
        if (const char* v = apr_table_get(from->notes, key)) apr_table_setn(to->notes, key, v);
        if (const char* v = apr_table_get(from->subprocess_env, key)) apr_table_setn(to->subprocess_env, key, v);
    }
}

// ap_internal_redirect runs post_read_request for the new request before anything else.
extern "C" int follow_redirect(request_rec* r) {
    if (!r->prev) return DECLINED;
    return httpd::hook_barrier(r, cmi_content_module, "post_read_request", [r] {
        BodyGuard* g = find_guard(r);
        if ((!g || g->verdict == Verdict::undecided) && validates_body(httpd::first_request(r)))
            seal(r, guard_of(r));  // refused before our fixups (e.g. 401 with an ErrorDocument)
        if (g || (g = find_guard(r))) follow(r, *g);
        carry_results(r->prev, r);
        return DECLINED;
    });
}

// Subrequests and fast redirects may run a handler on a chain without the guard.
extern "C" void follow_to_handler(request_rec* r) {
    httpd::hook_barrier(r, cmi_content_module, "insert_filter", [r] {
        if (BodyGuard* g = find_guard(r)) follow(r, *g);
        return DECLINED;
    });
}

}  // namespace

void register_body_guard() {
    ap_register_input_filter(kSealedFilterName, sealed_filter, nullptr, AP_FTYPE_CONTENT_SET);
    ap_hook_post_read_request(follow_redirect, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(follow_to_handler, nullptr, nullptr, APR_HOOK_FIRST);
}

void guard_body(request_rec* r, ap_filter_t* f) {
    BodyGuard& g = guard_of(r);
    g.verdict = Verdict::guarded;
    g.frec = f->frec;
    g.ctx = f->ctx;
}

void keep_signer(request_rec* r, const Expectation* signer) {
    guard_of(r).policy.signer = signer;
}

namespace {

const DirConfig& content_config(request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_content_module));
}

// A guarded body handed to r's location: that location's policy must hold too.
int judge_where_it_lands(request_rec* r, BodyGuard& g) {
    const DirConfig& now = content_config(r);
    const int status = judge_in_new_location(r, now, g.policy);
    if (status != DECLINED && status != OK) {
        seal(r, g);  // refused here: no later handler of the chain reads it either
        r->connection->keepalive = AP_CONN_CLOSE;
        return status;
    }
    if (validates_body(r)) g.policy.policy = &now;
    g.judged = r->per_dir_config;
    return status;
}

}  // namespace

int validate_body_once(request_rec* r, int (*validate)(request_rec*)) {
    if (r->main) return DECLINED;
    BodyGuard& g = guard_of(r);
    if (g.verdict == Verdict::sealed) return DECLINED;
    if (g.verdict == Verdict::guarded) return judge_where_it_lands(r, g);
    const int status = validate(r);
    if (status != DECLINED && status != OK) {
        g.verdict = Verdict::sealed;  // refused: nobody reads it
        return status;
    }
    if (g.verdict == Verdict::undecided) g.verdict = Verdict::open;
    if (g.verdict == Verdict::guarded) g.policy.policy = &content_config(r);
    g.judged = r->per_dir_config;
    return status;
}

int judge_moved_request(request_rec* r, int (*judge)(request_rec*)) {
    if (r->main) return DECLINED;
    const BodyGuard* g = find_guard(r);
    if (!g || (g->verdict != Verdict::open && g->verdict != Verdict::guarded) || g->judged == r->per_dir_config)
        return DECLINED;
    return judge(r);
}

}  // namespace cmi::content
