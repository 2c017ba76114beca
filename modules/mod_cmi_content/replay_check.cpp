#include "mod_cmi_content/replay_check.hpp"

#include "httpd/barrier.hpp"
#include "httpd/replay_cache.hpp"
#include "httpd/request_chain.hpp"
#include "libcmi/sha256.hpp"
#include "libcmi/validation_error.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/request_target.hpp"

#include <ap_provider.h>

#include <exception>
#include <string>

namespace cmi::content {
namespace {

constexpr char kMutexType[] = "cmi-content-replay";
constexpr const char* kCacheName = "cmi-content";

// A fixed-size key whatever the lengths (memcache keys are bounded), distinct
// from mod_cmi_auth's keys when both share one store.
std::string cache_key(const char* kind, const std::string& a, const std::string& b) {
    Sha256 h;
    h.update(a);
    h.update("\0", 1);
    h.update(b);
    const auto d = h.finish();
    return std::string(kind) + std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// Notes on the request as received: an internal redirect re-runs fixups for
// the same request, which is not a replay.
std::string note_of(const std::string& key) {
    return "CMI_CONTENT_REPLAY " + hex(reinterpret_cast<const unsigned char*>(key.data()), key.size());
}

bool seen_in_this_request(request_rec* r, const std::string& key) {
    return apr_table_get(httpd::first_request(r)->notes, note_of(key).c_str()) != nullptr;
}

void remember_in_this_request(request_rec* r, const std::string& key) {
    apr_table_set(httpd::first_request(r)->notes, note_of(key).c_str(), "1");
}

extern "C" int post_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t* ptemp, server_rec* main) {
    return httpd::server_barrier(main, cmi_content_module, "post_config", [=] {
        httpd::ReplayCache* fallback = server_config(main).replay_cache;
        if (!fallback) fallback = httpd::ReplayCache::parse(pconf, ptemp, "shmcb", cmi_content_module);
        return httpd::init_replay_caches<cmi_content_module, &ServerConfig::replay_cache, kMutexType>(
            pconf, main, fallback, kCacheName, "CMIContentReplayCache");
    });
}

[[noreturn]] void unavailable(request_rec* r, const char* why, const char* what = "RFC 9421 nonces",
                              const char* whose = "The signature's nonce") {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  CMILOGNO(30002) "%s: %s cannot be checked; the request is refused (fail closed).", why, what);
    throw ValidationError("validation-unavailable",
                          std::string(whose) + " cannot be checked for replay right now; try again later.");
}

httpd::ReplayCache& cache_of(request_rec* r, const char* what, const char* whose) {
    httpd::ReplayCache* cache = server_config(r->server).replay_cache;
    if (!cache) unavailable(r, "no CMIContentReplayCache", what, whose);
    return *cache;
}

// Fails closed on anything but a clear fresh/replayed answer.
httpd::ReplayCache::Result answered(request_rec* r, httpd::ReplayCache& cache, httpd::ReplayCache::Result res,
                                    const char* what, const char* whose) {
    using Result = httpd::ReplayCache::Result;
    if (res == Result::fresh || res == Result::replayed) return res;
    if (res == Result::before_start)  // a replay table made anew (its file was damaged) does not know it
        throw ValidationError("signature-invalid", "this signature was created before the replay cache's memory "
                                                   "begins (a first start or a crash of the server); sign the "
                                                   "request again");
    if (res == Result::full)  // a local table with no room left that would not drop a live entry
        unavailable(r, apr_psprintf(r->pool, "replay cache %s is full", cache.spec()), what, whose);
    if (res == Result::over_share)  // one signer cannot fill the cache for the others
        unavailable(r, apr_psprintf(r->pool, "the signer holds its share of replay cache %s", cache.spec()), what,
                    whose);
    unavailable(r, apr_psprintf(r->pool, "replay cache %s is unavailable", cache.spec()), what, whose);
}

}  // namespace

void register_replay_hooks() {
    httpd::register_replay_cache_hooks<cmi_content_module, &ServerConfig::replay_cache, kMutexType>();
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
}

void record_nonce(request_rec* r, const std::string& keyid, const std::string& nonce, apr_time_t until,
                  apr_time_t made_after) {
    const std::string key = cache_key("cmi-content-nonce:", keyid, nonce);
    if (seen_in_this_request(r, key)) return;
    constexpr const char* what = "RFC 9421 nonces";
    constexpr const char* whose = "The signature's nonce";
    httpd::ReplayCache& cache = cache_of(r, what, whose);
    // Charged to the signer, with the signature's creation for a table made anew.
    if (answered(r, cache, cache.check_and_store(r, key, until, {keyid, made_after}), what, whose) ==
        httpd::ReplayCache::Result::replayed)
        throw ValidationError("signature-invalid", "this signature's nonce was already used (replay); sign the "
                                                   "request again with a new nonce");
    remember_in_this_request(r, key);
}

void bind_signature_to_target(request_rec* r, const std::string& signature_id, apr_time_t until,
                              const std::string& signer) {
    using Result = httpd::ReplayCache::Result;
    const std::string used = cache_key("cmi-content-cms:", signature_id, "");
    const std::string here = cache_key("cmi-content-cms-target:", signature_id, canonical_target(r));
    if (seen_in_this_request(r, here)) return;
    constexpr const char* what = "CMS signatures";
    constexpr const char* whose = "The content signature";
    httpd::ReplayCache& cache = cache_of(r, what, whose);
    // The atomic check-and-store on the signature decides who is first; only the
    // first request records its target. (If that second store fails, the request
    // fails closed and the signature stays bound to no target: sign again.)
    // Both entries are charged to the signer: one provider signing fresh content
    // cannot fill the cache and lock the others out.
    const httpd::ReplayUse use{signer};
    if (answered(r, cache, cache.check_and_store(r, used, until, use), what, whose) == Result::fresh) {
        answered(r, cache, cache.check_and_store(r, here, until, use), what, whose);
    } else if (answered(r, cache, cache.lookup(r, here), what, whose) == Result::fresh) {
        throw ValidationError("signature-reused",
                              "this content signature was already accepted for another target (method, URL); a "
                              "signature may be retried only where it was first sent: sign the content again for "
                              "this one");
    }
    remember_in_this_request(r, here);
}

}  // namespace cmi::content
