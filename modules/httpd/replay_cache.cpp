#include "httpd/replay_cache.hpp"

#include "httpd/pool_object.hpp"
#include "httpd/status_counters.hpp"

#include <ap_provider.h>
#include <util_mutex.h>

#include <stdexcept>
#include <string>

namespace cmi::httpd {
namespace {

// Unlocks on every path out of check_and_store.
class MutexGuard {
public:
    explicit MutexGuard(apr_global_mutex_t* m) : m_(m), ok_(!m || apr_global_mutex_lock(m) == APR_SUCCESS) {}
    ~MutexGuard() {
        if (m_ && ok_) apr_global_mutex_unlock(m_);
    }
    bool ok() const { return ok_; }
    MutexGuard(const MutexGuard&) = delete;
    MutexGuard& operator=(const MutexGuard&) = delete;

private:
    apr_global_mutex_t* m_;
    bool ok_;
};

}  // namespace

ReplayCache* ReplayCache::parse(apr_pool_t* pconf, apr_pool_t* ptemp, const char* spec, const module& owner) {
    std::string name(spec);
    const char* args = nullptr;
    if (auto colon = name.find(':'); colon != std::string::npos) {
        args = spec + colon + 1;
        name.resize(colon);
    }
    const auto* provider = static_cast<const ap_socache_provider_t*>(
        ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name.c_str(), AP_SOCACHE_PROVIDER_VERSION));
    if (!provider)
        throw std::invalid_argument("'" + name + "' is not a loaded socache provider; use shmcb, memcache:host:port "
                                    "or redis:host:port and load its module first (LoadModule socache_" +
                                    name + "_module ...)");
    ap_socache_instance_t* instance = nullptr;
    if (const char* err = provider->create(&instance, args, ptemp, pconf))
        throw std::invalid_argument(std::string("socache provider '") + name + "': " + err);
    auto* cache = pool_new<ReplayCache>(pconf);
    cache->provider_ = provider;
    cache->instance_ = instance;
    cache->spec_ = apr_pstrdup(pconf, spec);
    cache->owner_ = &owner;
    return cache;
}

void ReplayCache::register_mutex(apr_pool_t* pconf, const char* mutex_type) {
    ap_mutex_register(pconf, mutex_type, nullptr, APR_LOCK_DEFAULT, 0);
}

apr_status_t ReplayCache::init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type) {
    if (initialised_) return APR_SUCCESS;
    if (provider_->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        apr_status_t rv = ap_global_mutex_create(&mutex_, nullptr, mutex_type, nullptr, s, pconf, 0);
        if (rv != APR_SUCCESS) return rv;
    }
    const ap_socache_hints hints = {64, 8, apr_time_from_sec(60)};
    apr_status_t rv = provider_->init(instance_, cname, &hints, s, pconf);
    if (rv != APR_SUCCESS) return rv;
    // The instance is torn down with the configuration that made it.
    struct Destroy {
        const ap_socache_provider_t* provider;
        ap_socache_instance_t* instance;
        server_rec* s;
    };
    auto* d = static_cast<Destroy*>(apr_palloc(pconf, sizeof(Destroy)));
    *d = {provider_, instance_, s};
    apr_pool_cleanup_register(
        pconf, d,
        [](void* p) -> apr_status_t {
            auto* x = static_cast<Destroy*>(p);
            x->provider->destroy(x->instance, x->s);
            return APR_SUCCESS;
        },
        apr_pool_cleanup_null);
    initialised_ = true;
    return APR_SUCCESS;
}

void ReplayCache::child_init(apr_pool_t* p, server_rec* s) {
    if (!mutex_ || child_initialised_) return;
    child_initialised_ = true;
    apr_status_t rv = apr_global_mutex_child_init(&mutex_, apr_global_mutex_lockfile(mutex_), p);
    if (rv != APR_SUCCESS)
        ap_log_error_(__FILE__, __LINE__, owner_->module_index, APLOG_CRIT, rv, s, "replay cache %s: cannot attach the global mutex", spec_);
}

ReplayCache::Result ReplayCache::check_and_store(request_rec* r, std::string_view key, apr_time_t expiry) {
    // A pooled connection to memcache/redis that went stale while the store
    // restarted fails once and is replaced: one retry hides that, a store
    // that is really down fails twice and the caller fails closed.
    Result res = attempt(r, key, expiry, false);
    if (res == Result::unavailable && initialised_) res = attempt(r, key, expiry, true);
    if (owner_)
        count(r, *owner_, res == Result::fresh ? "replay_cache.misses"
                          : res == Result::replayed ? "replay_cache.hits" : "replay_cache.errors");
    return res;
}

ReplayCache::Result ReplayCache::attempt(request_rec* r, std::string_view key, apr_time_t expiry, bool last) {
    if (!initialised_) return Result::unavailable;
    const auto* id = reinterpret_cast<const unsigned char*>(key.data());
    const auto idlen = static_cast<unsigned int>(key.size());
    MutexGuard guard(mutex_);
    if (!guard.ok()) return Result::unavailable;
    unsigned char buf[16];
    unsigned int buflen = sizeof buf;
    apr_status_t rv = provider_->retrieve(instance_, r->server, id, idlen, buf, &buflen, r->pool);
    if (rv == APR_SUCCESS) return Result::replayed;
    if (rv != APR_NOTFOUND) {
        ap_log_rerror_(__FILE__, __LINE__, owner_->module_index, last ? APLOG_ERR : APLOG_INFO, rv, r,
                       "replay cache %s: lookup failed%s", spec_, last ? "" : ", retrying");
        return Result::unavailable;
    }
    unsigned char one[] = {'1'};
    rv = provider_->store(instance_, r->server, id, idlen, expiry, one, sizeof one, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror_(__FILE__, __LINE__, owner_->module_index, last ? APLOG_ERR : APLOG_INFO, rv, r,
                       "replay cache %s: store failed%s", spec_, last ? "" : ", retrying");
        return Result::unavailable;
    }
    return Result::fresh;
}

}  // namespace cmi::httpd
