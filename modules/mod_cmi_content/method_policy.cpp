#include "mod_cmi_content/method_policy.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/problem.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/validated_sections.hpp"

#include <cstring>
#include <string>

namespace cmi::content {
namespace {

constexpr const char* kRefusalFilter = "CMI_CONTENT_COPY_REFUSAL";
constexpr const char* kCopyRefused = "copy-refused";

const DirConfig& dir_config(request_rec* r) {
    return *static_cast<const DirConfig*>(ap_get_module_config(r->per_dir_config, &cmi_content_module));
}

}  // namespace

bool has_own_rules(int m) {
    switch (m) {
    case M_GET: case M_PUT: case M_POST: case M_DELETE: case M_OPTIONS: case M_TRACE:
    case M_PROPFIND: case M_PROPPATCH: case M_MKCOL: case M_COPY: case M_MOVE: case M_LOCK: case M_UNLOCK:
        return true;
    default:
        return false;
    }
}

namespace {

int refuse_method(request_rec* r, const DirConfig& dc) {
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, M_PUT, M_POST, M_DELETE, M_OPTIONS, M_PROPFIND, M_PROPPATCH,
                              M_MKCOL, M_COPY, M_MOVE, M_LOCK, M_UNLOCK, -1);
    if (dc.extension_methods)
        for (const auto& m : dc.extension_methods->names) ap_method_list_add(r->allowed_methods, m.c_str());
    return httpd::refuse(r, cmi_content_module, "method-refused",
                         std::string(r->method) + " is not let into a location where content is validated: "
                         "only methods whose effect on content is known are (see Allow); list it with "
                         "CMIContentExtensionMethods to let it through, its body validated");
}

// mod_dav writes a PUT with Content-Range into the existing file at that offset
// (RFC 9110 §14.4 asks origin servers to refuse it): the signature would cover
// the part, and the stored content, the part within the rest, would have none.
int refuse_partial_update(request_rec* r) {
    return httpd::refuse(r, cmi_content_module, "partial-update-refused",
                         std::string(r->method) + " with Content-Range is a partial update: where content is "
                         "validated, a signature covers the whole of what is stored; send the whole content, "
                         "signed, without Content-Range");
}

// mod_dav looks a Destination up as a subrequest of the COPY/MOVE itself, with
// its method: no other subrequest carries a method other than GET.
bool is_destination_lookup(request_rec* r) {
    return r->main && r->method_number != M_GET && std::strcmp(r->method, r->main->method) == 0;
}

bool one_tree(request_rec* sub, const DirConfig& to) {
    const DirConfig& from = dir_config(sub->main);
    return copies_within(to) && validates(from) && sub->server == sub->main->server && to.validation_scope &&
           from.validation_scope && std::strcmp(to.validation_scope, from.validation_scope) == 0;
}

const char* what_validates(const DirConfig& dc) {
    if (validation(dc) == Validation::required) return "CMIContentValidation Required";
    if (validation(dc) == Validation::optional) return "CMIContentValidation Optional";
    return "CMIDecoupledManifest On";
}

struct RefusalBody {
    std::string json;
    bool sent = false;
};

// mod_dav answers a failed Destination lookup itself (dav_error_response, an
// HTML page with the subrequest's status): its body is replaced by ours.
apr_status_t replace_body(ap_filter_t* f, apr_bucket_brigade* bb) {
    auto* ctx = static_cast<RefusalBody*>(f->ctx);
    bool eos = false;
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b))
        if (APR_BUCKET_IS_EOS(b)) eos = true;
    apr_brigade_cleanup(bb);
    if (!ctx->sent) {
        ctx->sent = true;
        ap_set_content_type(f->r, kProblemContentType);
        apr_table_unset(f->r->headers_out, "Content-Length");
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(ctx->json.data(), ctx->json.size(), f->r->pool,
                                                           f->c->bucket_alloc));
    }
    if (eos) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        ap_remove_output_filter(f);
    }
    return ap_pass_brigade(f->next, bb);
}

extern "C" apr_status_t refusal_filter(ap_filter_t* f, apr_bucket_brigade* bb) {
    return httpd::filter_barrier(f, cmi_content_module, "copy refusal filter", [&] { return replace_body(f, bb); });
}

int refuse_copy(request_rec* sub, const std::string& detail) {
    request_rec* m = sub->main;
    const int status = httpd::refuse(m, cmi_content_module, kCopyRefused, detail);
    auto* body = httpd::pool_new<RefusalBody>(m->pool);
    body->json = problem_json(kCopyRefused, detail, httpd::transaction_id(m));
    ap_add_output_filter(kRefusalFilter, body, m, m->connection);
    return status;  // the lookup fails: mod_dav creates and removes nothing
}

int refuse_destination(request_rec* sub, const DirConfig& to) {
    std::string detail = std::string(sub->main->method) + " to " + sub->uri + " is refused: it lies in a location "
                         "with " + what_validates(to) + ", which content enters only as a validated upload, never "
                         "copied or moved in";
    if (copies_within(to)) detail += " (CMIContentCopyWithin allows it only from within the same validated section)";
    return refuse_copy(sub, detail);
}

// A MOVE, or a COPY of any depth but 0, of a collection writes its members below
// the Destination, which mod_dav looks up only at the top.
bool brings_members(const request_rec* m) {
    if (m->finfo.filetype != APR_DIR) return false;
    const char* depth = apr_table_get(m->headers_in, "Depth");
    return m->method_number == M_MOVE || !depth || std::strcmp(depth, "0") != 0;
}

int refuse_members(request_rec* sub, const std::string& section) {
    return refuse_copy(sub, std::string(sub->main->method) + " of a collection to " + sub->uri + " is refused: " +
                                section + " switches content validation on within it, and content enters a "
                                "validated location only as a validated upload, never copied or moved in");
}

}  // namespace

int apply_method_policy(request_rec* r) {
    if (is_destination_lookup(r)) {
        const DirConfig& to = dir_config(r);
        if (validates(to) && !one_tree(r, to)) return refuse_destination(r, to);
        if (!brings_members(r->main)) return DECLINED;
        const std::string path = std::string(r->filename ? r->filename : "") + (r->path_info ? r->path_info : "");
        const auto section = validated_section_within(r, r->uri, path.c_str());
        return section ? refuse_members(r, *section) : DECLINED;
    }
    if (r->main) return DECLINED;
    const DirConfig& dc = dir_config(r);
    if (!validates(dc)) return DECLINED;
    if (apr_table_get(r->headers_in, "Content-Range")) return refuse_partial_update(r);
    if (has_own_rules(r->method_number)) return DECLINED;
    if (dc.extension_methods && dc.extension_methods->contains(r->method)) return DECLINED;
    return refuse_method(r, dc);
}

namespace {

extern "C" int method_policy_fixups(request_rec* r) {
    return httpd::hook_barrier(r, cmi_content_module, "fixups (method policy)", [r] { return apply_method_policy(r); });
}

}  // namespace

void register_method_policy() {
    ap_register_output_filter(kRefusalFilter, refusal_filter, nullptr, AP_FTYPE_RESOURCE);
    // Before validation (APR_HOOK_MIDDLE): a refused method is refused as such.
    ap_hook_fixups(method_policy_fixups, nullptr, nullptr, APR_HOOK_MIDDLE - 1);
}

}  // namespace cmi::content
