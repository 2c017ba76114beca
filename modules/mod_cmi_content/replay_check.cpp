#include "mod_cmi_content/replay_check.hpp"

#include "httpd/replay_cache.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/validation_error.hpp"
#include "mod_cmi_content/content_config.hpp"

#include <ap_provider.h>

#include <exception>
#include <string>

namespace cmi::content {
namespace {

constexpr const char* kMutexType = "cmi-content-replay";
constexpr const char* kCacheName = "cmi-content";

// A fixed-size key whatever the nonce's length (memcache keys are bounded),
// distinct from mod_cmi_auth's keys when both share one store.
std::string cache_key(const std::string& keyid, const std::string& nonce) {
    Sha256 h;
    h.update(keyid);
    h.update("\0", 1);
    h.update(nonce);
    const auto d = h.finish();
    return "cmi-content-nonce:" + std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

extern "C" int pre_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) {
    httpd::ReplayCache::register_mutex(pconf, kMutexType);
    return OK;
}

int post_config_body(apr_pool_t* pconf, apr_pool_t* ptemp, server_rec* main) {
    httpd::ReplayCache* fallback = server_config(main).replay_cache;
    if (!fallback) fallback = httpd::ReplayCache::parse(pconf, ptemp, "shmcb", cmi_content_module);
    for (server_rec* s = main; s; s = s->next) {
        ServerConfig& sc = server_config(s);
        if (!sc.replay_cache) sc.replay_cache = fallback;
        if (!sc.replay_cache) continue;  // requests with a nonce fail closed, with a log line
        const apr_status_t rv = sc.replay_cache->init(pconf, s, kCacheName, kMutexType);
        if (rv != APR_SUCCESS) {
            ap_log_error_(__FILE__, __LINE__, cmi_content_module.module_index, APLOG_EMERG, rv, s, "CMIContentReplayCache %s: cannot initialise the cache",
                         sc.replay_cache->spec());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

extern "C" int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* s) {
    try {
        return post_config_body(pconf, ptemp, s);
    } catch (const std::exception& e) {
        ap_log_error_(__FILE__, __LINE__, cmi_content_module.module_index, APLOG_EMERG, 0, s, "mod_cmi_content: %s", e.what());
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

extern "C" void child_init(apr_pool_t* p, server_rec* main) {
    for (server_rec* s = main; s; s = s->next)
        if (httpd::ReplayCache* c = server_config(s).replay_cache) c->child_init(p, s);
}

[[noreturn]] void unavailable(request_rec* r, const char* why) {
    ap_log_rerror_(__FILE__, __LINE__, cmi_content_module.module_index, APLOG_ERR, 0, r,
                  "%s: RFC 9421 nonces cannot be checked; the request is refused (fail closed).", why);
    throw ValidationError("validation-unavailable",
                          "The signature's nonce cannot be checked for replay right now; try again later.");
}

}  // namespace

void register_replay_hooks() {
    ap_hook_pre_config(pre_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
}

void record_nonce(request_rec* r, const std::string& keyid, const std::string& nonce, apr_time_t until,
                  apr_time_t made_after) {
    const std::string key = cache_key(keyid, nonce);
    // An internal redirect re-runs fixups for the same request: not a replay.
    request_rec* first = r;
    while (first->main || first->prev) first = first->main ? first->main : first->prev;
    const std::string note = "CMI_CONTENT_NONCE " + hex(reinterpret_cast<const unsigned char*>(key.data()), key.size());
    if (apr_table_get(first->notes, note.c_str())) return;

    httpd::ReplayCache* cache = server_config(r->server).replay_cache;
    if (!cache) unavailable(r, "no CMIContentReplayCache");
    // Charged to the signer: one signer cannot fill the cache for the others.
    switch (cache->check_and_store(r, key, until, {keyid, made_after})) {
    case httpd::ReplayCache::Result::fresh:
        apr_table_set(first->notes, note.c_str(), "1");
        return;
    case httpd::ReplayCache::Result::replayed:
    case httpd::ReplayCache::Result::behind_window:
        throw ValidationError("signature-invalid", "this signature's nonce was already used (replay); sign the "
                                                   "request again with a new nonce");
    case httpd::ReplayCache::Result::before_start:
        throw ValidationError("signature-invalid", "this signature was created before the replay cache's memory "
                                                   "begins (a first start or a crash of the server); sign the "
                                                   "request again");
    case httpd::ReplayCache::Result::over_share:
        unavailable(r, apr_psprintf(r->pool, "signer '%s' holds its share of replay cache %s", keyid.c_str(),
                                    cache->spec()));
    case httpd::ReplayCache::Result::unavailable:
        break;
    case httpd::ReplayCache::Result::full:  // a shmcb with no room left that would not evict a live entry
        unavailable(r, apr_psprintf(r->pool, "replay cache %s is full", cache->spec()));
    }
    unavailable(r, apr_psprintf(r->pool, "replay cache %s is unavailable", cache->spec()));
}

}  // namespace cmi::content
