#include "mod_cmi_content/signer_identity.hpp"

#include "mod_cmi_content/content_config.hpp"

#include <stdexcept>

namespace cmi::content {
namespace {

// ap_expr calls these two through C function pointers; nothing in them can throw.
extern "C" const char* signer_var(ap_expr_eval_ctx_t* ctx, const void* data) noexcept {
    const auto* vars = static_cast<const SignerVars*>(ctx->data);
    if (!vars) return "";  // SIGNER_* outside CMIContentSignerIdentity is empty
    const std::string* v = find_signer_variable(*vars, static_cast<const char*>(data));
    return v ? apr_pstrmemdup(ctx->p, v->data(), v->size()) : "";
}

extern "C" int lookup_signer_vars(ap_expr_lookup_parms* parms) noexcept {
    if (parms->type != AP_EXPR_FUNC_VAR || !is_signer_variable(parms->name)) return ap_expr_lookup_default(parms);
    *parms->func = reinterpret_cast<const void*>(&signer_var);
    *parms->data = parms->name;
    return OK;
}

}  // namespace

const ap_expr_info_t* parse_signer_identity(cmd_parms* cmd, const char* expr) {
    const char* err = nullptr;
    ap_expr_info_t* info = ap_expr_parse_cmd_mi(cmd, expr, AP_EXPR_FLAG_STRING_RESULT, &err, lookup_signer_vars,
                                                cmi_content_module.module_index);
    if (err || !info)
        throw std::invalid_argument(std::string("cannot parse '") + expr + "': " + (err ? err : "unknown error") +
                                    "; use a string expression such as \"%{SIGNER_S_DN_CN}\" or "
                                    "\"%{SIGNER_S_DN_O}/%{SIGNER_S_DN_CN}\"");
    return info;
}

std::string signer_identity(request_rec* r, const ap_expr_info_t* expr, const SignerVars& vars) {
    const char* err = nullptr;
    const char* result = nullptr;
    const char* source = nullptr;
    const char* vary = nullptr;
    ap_regmatch_t pmatch[AP_MAX_REG_MATCH];
    ap_expr_eval_ctx_t ctx{};
    ctx.r = r;
    ctx.c = r->connection;
    ctx.s = r->server;
    ctx.p = r->pool;
    ctx.err = &err;
    ctx.info = expr;
    ctx.re_pmatch = pmatch;
    ctx.re_nmatch = AP_MAX_REG_MATCH;
    ctx.re_source = &source;
    ctx.vary_this = &vary;
    ctx.result_string = &result;
    ctx.data = const_cast<SignerVars*>(&vars);
    const int rc = ap_expr_exec_ctx(&ctx);
    if (rc < 0 || err)
        throw std::runtime_error(std::string("CMIContentSignerIdentity cannot be evaluated: ") +
                                 (err ? err : "unknown error"));
    return result ? result : "";
}

}  // namespace cmi::content
