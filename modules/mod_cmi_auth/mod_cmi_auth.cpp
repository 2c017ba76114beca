// mod_cmi_auth — CMI user authentication (OMA CMI §6.1): `AuthType CMI`
// accepts several standard mechanisms on one location, tried in
// CMIAuthMechanisms order; the first that presents credentials decides.
#include "httpd/barrier.hpp"
#include "httpd/common_hooks.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/notes.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/request_chain.hpp"
#include "mod_cmi_auth/auth_config.hpp"
#include "mod_cmi_auth/auth_status.hpp"
#include "mod_cmi_auth/authz.hpp"
#include "mod_cmi_auth/mechanism.hpp"
#include "mod_cmi_auth/saml_config.hpp"
#include "httpd/pool_object.hpp"
#include "libcmi/saml_cache.hpp"

#include <apr_file_io.h>
#include <dlfcn.h>
#include <mod_auth.h>
#include <mod_core.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::auth {

namespace {

constexpr char kMutexType[] = "cmi-auth-replay";
constexpr const char* kCacheName = "cmi-auth";
constexpr std::size_t kSamlCacheEntries = 10000;

bool is_cmi(const char* type) noexcept { return type && !strcasecmp(type, "CMI"); }

// SAML without a trusted IdP (CMISAMLIdPMetadata) can never succeed: not offered.
bool usable(Mech m, const DirConfig& dc) { return m != Mech::saml || dc.saml_idps; }

void add_challenges(request_rec* r, const DirConfig& dc, bool stale) {
    apr_array_header_t* mechs = mechanisms(dc, r->pool);
    for (int i = 0; i < mechs->nelts; ++i) {
        switch (APR_ARRAY_IDX(mechs, i, Mech)) {
        case Mech::cert: break;  // nothing to challenge: the handshake asks
        case Mech::saml:
            if (usable(Mech::saml, dc)) saml_challenge(r);
            break;
        case Mech::digest: digest_challenge(r, dc, stale); break;
        case Mech::basic: basic_challenge(r); break;
        }
    }
}

void set_identity(request_rec* r, Mech m, const Outcome& o) {
    r->user = const_cast<char*>(o.user);
    r->ap_auth_type = const_cast<char*>("CMI");
    const char* mech = mech_name(m);
    for (apr_table_t* t : {r->notes, r->subprocess_env}) {
        apr_table_setn(t, httpd::kUserKey, o.user);
        apr_table_setn(t, httpd::kAuthMechKey, mech);
        if (o.issuer && *o.issuer) apr_table_setn(t, httpd::kAuthIssuerKey, o.issuer);
    }
    // A multi-valued key: one notes entry per value (Require cmi-saml-attribute
    // sees them all), values joined with ", " in the environment.
    for (const auto& [k, v] : o.notes) {
        apr_table_add(r->notes, k.c_str(), v.c_str());
        apr_table_merge(r->subprocess_env, k.c_str(), v.c_str());
    }
}

Outcome run(Mech m, request_rec* r, const DirConfig& dc) {
    switch (m) {
    case Mech::cert: return cert_authenticate(r, dc);
    case Mech::saml: return saml_authenticate(r, dc);
    case Mech::digest: return digest_authenticate(r, dc);
    case Mech::basic: return basic_authenticate(r, dc);
    }
    return {};
}

int authenticate(request_rec* r) {
    if (!is_cmi(ap_auth_type(r))) return DECLINED;
    const DirConfig& dc = dir_config(r);
    apr_array_header_t* mechs = mechanisms(dc, r->pool);
    for (int i = 0; i < mechs->nelts; ++i) {
        const Mech m = APR_ARRAY_IDX(mechs, i, Mech);
        const Outcome o = run(m, r, dc);
        switch (o.verdict) {
        case Verdict::absent:
            continue;
        case Verdict::granted:
            set_identity(r, m, o);
            return OK;
        case Verdict::denied:
            add_challenges(r, dc, false);
            return httpd::refuse(r, cmi_auth_module, "authentication-failed",
                                 std::string(mech_name(m)) + ": " + o.detail);
        case Verdict::stale:
            add_challenges(r, dc, true);
            return httpd::refuse(r, cmi_auth_module, "authentication-required",
                                 std::string(mech_name(m)) + ": " + o.detail);
        case Verdict::unavailable:
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          CMILOGNO(20003) "%s: %s Requests that need it are refused (fail closed).",
                          mech_name(m), o.detail.c_str());
            return httpd::refuse(r, cmi_auth_module, "authentication-unavailable",
                                 "Authentication cannot be checked right now; try again later.");
        case Verdict::throttled: {
            // No challenges: these credentials are good, only not now.
            const apr_time_t wait = o.retry_at - apr_time_now();
            const long secs = wait > 0 ? static_cast<long>((wait + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC) : 1;
            apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, secs));
            return httpd::refuse(r, cmi_auth_module, "authentication-rate-limited",
                                 std::string(mech_name(m)) + ": " + o.detail);
        }
        }
    }
    add_challenges(r, dc, false);
    std::string offered;
    for (int i = 0; i < mechs->nelts; ++i) {
        const Mech m = APR_ARRAY_IDX(mechs, i, Mech);
        if (usable(m, dc)) offered += std::string(offered.empty() ? "" : ", ") + mech_name(m);
    }
    return httpd::refuse(r, cmi_auth_module, "authentication-required",
                         "This CMI interface requires authentication (" + offered + ").");
}

extern "C" int check_authn(request_rec* r) {
    return httpd::hook_barrier(r, cmi_auth_module, "check_authn", [r] { return authenticate(r); });
}

// Set when authorization refused a user AuthType CMI had authenticated.
constexpr const char* kForbiddenNote = "CMI_AUTH_FORBIDDEN";

// httpd answers a refused authorization with 401 and calls this hook, unless
// AuthzSendForbiddenOnFailure On (then 403, and our authz providers prepare
// the `forbidden` document themselves). Without a user, credentials are
// missing: offer the challenges. With one, the user is known and not allowed:
// docs/architecture.md §Problem types says 403 `forbidden`, so the document is prepared here and
// rewrite_forbidden_status turns httpd's 401 into 403 on the error path.
extern "C" int note_auth_failure(request_rec* r, const char* type) {
    if (!is_cmi(type)) return DECLINED;
    httpd::hook_barrier(r, cmi_auth_module, "note_auth_failure", [r] {
        if (!r->user) {
            add_challenges(r, dir_config(r), false);
            httpd::refuse(r, cmi_auth_module, "authentication-required",
                          "This CMI interface requires authentication.");
            return OK;
        }
        httpd::refuse(r, cmi_auth_module, "forbidden",
                      std::string("User '") + r->user + "' is not authorized here.");
        // The body is looked up by the status httpd started the error response
        // with (401): give it the same document.
        const char* body = ap_response_code_string(r, ap_index_of_response(HTTP_FORBIDDEN));
        if (body && *body == '"') ap_custom_response(r, HTTP_UNAUTHORIZED, body + 1);
        apr_table_setn(r->notes, kForbiddenNote, "1");
        return OK;
    });
    return OK;
}

// Set once a request of an AuthType CMI location has passed access control
// and authorization (the fixups phase comes after them).
constexpr const char* kPastAuthzNote = "CMI_AUTH_PAST_AUTHZ";

extern "C" int mark_past_authz(request_rec* r) noexcept {
    if (is_cmi(ap_auth_type(r))) apr_table_setn(r->notes, kPastAuthzNote, "1");
    return DECLINED;
}

// insert_error_filter runs before the error response's status line and
// headers are made: 401 for an authenticated but unauthorized user becomes
// 403. A 403 that access control or authorization gave such a user without a
// problem document (AuthzSendForbiddenOnFailure On with a stock Require, e.g.
// `Require user`) gets the `forbidden` document.
extern "C" void rewrite_forbidden_status(request_rec* r) {
    if (r->status == HTTP_UNAUTHORIZED && apr_table_get(r->notes, kForbiddenNote)) {
        r->status = HTTP_FORBIDDEN;
        r->status_line = nullptr;
        apr_table_unset(r->err_headers_out, "WWW-Authenticate");
        return;
    }
    if (r->status == HTTP_FORBIDDEN && r->user && is_cmi(ap_auth_type(r)) &&
        !apr_table_get(r->notes, httpd::kRefusalKey) && !apr_table_get(r->notes, kPastAuthzNote)) {
        httpd::hook_barrier(r, cmi_auth_module, "insert_error_filter", [r] {
            httpd::refuse(r, cmi_auth_module, "forbidden",
                          std::string("User '") + r->user + "' is not authorized here.");
            return OK;
        });
    }
}

// The random Digest nonce secret when none is configured: made once per
// httpd process tree and kept in the process pool, which outlives restarts,
// so nonces issued before a graceful or plain restart still verify (and are
// answered stale=true when the replay cache they were counted in is gone).
const unsigned char* random_nonce_secret(server_rec* main) {
    constexpr const char* kKey = "cmi_auth_random_nonce_secret";
    apr_pool_t* process_pool = main->process->pool;
    void* data = nullptr;
    apr_pool_userdata_get(&data, kKey, process_pool);
    if (data) return static_cast<const unsigned char*>(data);
    auto* random = static_cast<unsigned char*>(apr_palloc(process_pool, 32));
    if (apr_generate_random_bytes(random, 32) != APR_SUCCESS)
        throw std::runtime_error("cannot generate the Digest nonce secret");
    apr_pool_userdata_set(random, kKey, apr_pool_cleanup_null, process_pool);
    return random;
}

// The Digest nonce secret: the configured file, or random bytes kept for the
// life of the httpd process tree (a full stop and start makes new ones).
void load_nonce_secrets(apr_pool_t* pconf, server_rec* main) {
    const unsigned char* random = random_nonce_secret(main);
    for (server_rec* s = main; s; s = s->next) {
        ServerConfig& sc = server_config(s);
        if (!sc.nonce_secret_file) {
            sc.nonce_secret = reinterpret_cast<const char*>(random);
            sc.nonce_secret_len = 32;
            continue;
        }
        apr_file_t* f = nullptr;
        char* buf = static_cast<char*>(apr_palloc(pconf, 4096));
        apr_size_t len = 0;
        apr_status_t rv = apr_file_open(&f, sc.nonce_secret_file, APR_FOPEN_READ, 0, pconf);
        if (rv == APR_SUCCESS) {
            rv = apr_file_read_full(f, buf, 4096, &len);
            apr_file_close(f);
            if (rv == APR_EOF) rv = APR_SUCCESS;
        }
        if (rv != APR_SUCCESS || len < 16)
            throw std::runtime_error(std::string("CMIAuthDigestNonceSecret: cannot read 16 or more bytes from ") +
                                     sc.nonce_secret_file);
        sc.nonce_secret = buf;
        sc.nonce_secret_len = len;
    }
}

// A notice at each start for every section that offers MD5 (RFC 7616 keeps it
// for old clients only).
void notice_md5(server_rec* main) {
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return;  // the check-only pass
    for (server_rec* s = main; s; s = s->next) {
        const apr_array_header_t* where = server_config(s).md5_sections;
        for (int i = 0; where && i < where->nelts; ++i)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         "CMIAuthDigestAlgorithms lists MD5 in %s: MD5 is weaker than SHA-256 (a captured "
                         "response can be attacked offline far faster); move users to SHA-256 entries "
                         "(cmi-htdigest) and drop MD5 when clients no longer need it",
                         APR_ARRAY_IDX(where, i, const char*));
    }
}

int post_config_body(apr_pool_t* pconf, apr_pool_t* ptemp, server_rec* main) {
    load_nonce_secrets(pconf, main);
    notice_md5(main);
    httpd::ReplayCache* fallback = server_config(main).replay_cache;
    if (!fallback) {
        // 4 MiB: about 79000 entries.
        const char* spec = apr_pstrcat(ptemp, "shmcb:", ap_runtime_dir_relative(ptemp, "cmi-auth-replay.cache"),
                                       "(4194304)", nullptr);
        fallback = httpd::ReplayCache::parse(pconf, ptemp, spec, cmi_auth_module);
    }
    return httpd::init_replay_caches<cmi_auth_module, &ServerConfig::replay_cache, kMutexType>(
        pconf, main, fallback, kCacheName, "CMIAuthReplayCache", [](server_rec* s, httpd::ReplayCache& c) {
            if (const unsigned quota = server_config(s).replay_quota) c.set_quota(quota);
        });
}

extern "C" int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) {
    return httpd::server_barrier(s, cmi_auth_module, "post_config",
                                 [=] { return post_config_body(pconf, ptemp, s); });
}

// A failure is logged and the child serves on; lasso last, so that its failure
// (it was initialised when the configuration was read, where a failure stops
// httpd) leaves the assertion cache in place.
extern "C" void child_init(apr_pool_t* p, server_rec* main) {
    httpd::server_barrier(main, cmi_auth_module, "child_init", [=] {
        // One validated-assertion cache per process, in the child's pool.
        auto* saml_cache = httpd::pool_new<saml::ValidatedCache>(p, kSamlCacheEntries);
        for (server_rec* s = main; s; s = s->next) server_config(s).saml_cache = saml_cache;
        ensure_lasso();
    });
}

void register_hooks(apr_pool_t* p) {
    // This module is unloaded at every restart; lasso must not be: glib keeps
    // its registered GTypes, which would point into unmapped code.
    dlopen("liblasso.so.3", RTLD_NOW | RTLD_NODELETE);
    httpd::register_common_hooks();
    register_status_hooks();
    httpd::register_replay_cache_hooks<cmi_auth_module, &ServerConfig::replay_cache, kMutexType>();
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_check_authn(check_authn, nullptr, nullptr, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(rewrite_forbidden_status, nullptr, nullptr, APR_HOOK_FIRST);
    ap_hook_fixups(mark_past_authz, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
    register_authz_providers(p);
}

}  // namespace
}  // namespace cmi::auth

CMI_MODULE(cmi_auth, cmi::auth)
