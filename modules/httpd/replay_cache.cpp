#include "httpd/replay_cache.hpp"

#include "httpd/pool_object.hpp"
#include "httpd/status_counters.hpp"
#include "libcmi/replay_ledger.hpp"

#include <ap_provider.h>
#include <util_mutex.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::httpd {
namespace {

using replay::Key;
using replay::Ledger;

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

// Every node of a cluster must compute the same ids for a shared store.
constexpr std::string_view kSharedSalt = "mod_cmi replay cache v1";
constexpr unsigned kIdLen = sizeof(Key);
// Hints for shmcb's layout: a 32-byte id and 1 byte of data take 33 bytes of
// data area plus a 24-byte index entry, so index and data run out together.
constexpr ap_socache_hints kHints = {kIdLen, 25, apr_time_from_sec(60)};
constexpr unsigned kMaxProbe = 1u << 20;

Key probe_key(unsigned char first, unsigned n) {
    Key k{};
    k[0] = first;
    k[1] = 0xc3;
    std::memcpy(&k[2], &n, sizeof n);
    return k;
}

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
    cache->shmcb_ = name == "shmcb";
    cache->local_ = name != "memcache" && name != "redis";
    return cache;
}

void ReplayCache::register_mutex(apr_pool_t* pconf, const char* mutex_type) {
    ap_mutex_register(pconf, mutex_type, nullptr, APR_LOCK_DEFAULT, 0);
}

apr_status_t ReplayCache::init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type) {
    if (initialised_) return APR_SUCCESS;
    if (local_) {
        apr_status_t rv = apr_generate_random_bytes(salt_, sizeof salt_);
        if (rv != APR_SUCCESS) return rv;
        do {
            rv = apr_generate_random_bytes(reinterpret_cast<unsigned char*>(&generation_), sizeof generation_);
            if (rv != APR_SUCCESS) return rv;
        } while (generation_ == 0);
    } else {
        std::memcpy(salt_, kSharedSalt.data(), kSharedSalt.size());
    }
    if (provider_->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        apr_status_t rv = ap_global_mutex_create(&mutex_, nullptr, mutex_type, nullptr, s, pconf, 0);
        if (rv != APR_SUCCESS) return rv;
    }
    apr_status_t rv = provider_->init(instance_, cname, &kHints, s, pconf);
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
    if (shmcb_) {
        rv = probe_shmcb(pconf, s, cname);
        if (rv != APR_SUCCESS) return rv;
    }
    initialised_ = true;
    return APR_SUCCESS;
}

// Fills subcache 0 (ids whose first byte is 0) until the first id is evicted:
// that is the capacity of a subcache. Then stores one id with first byte
// 1, 2, 4, ...: the first that evicts from the full subcache 0 maps to it,
// and is the number of subcaches (shmcb uses first byte & (number - 1)).
// The probed instance is then destroyed and made again, empty.
apr_status_t ReplayCache::probe_shmcb(apr_pool_t* pconf, server_rec* s, const char* cname) {
    apr_pool_t* tmp = nullptr;
    apr_status_t rv = apr_pool_create(&tmp, pconf);
    if (rv != APR_SUCCESS) return rv;
    const apr_time_t expiry = apr_time_now() + apr_time_from_sec(3600);
    unsigned char one = '1';
    auto store = [&](const Key& k) { return provider_->store(instance_, s, k.data(), kIdLen, expiry, &one, 1, tmp); };
    auto present = [&](const Key& k) {
        unsigned char buf[8];
        unsigned int len = sizeof buf;
        return provider_->retrieve(instance_, s, k.data(), kIdLen, buf, &len, tmp) == APR_SUCCESS;
    };
    unsigned capacity = 0;
    for (unsigned i = 0; i < kMaxProbe && rv == APR_SUCCESS && !capacity; ++i) {
        rv = store(probe_key(0, i));
        if (rv == APR_SUCCESS && i > 0 && !present(probe_key(0, 0))) capacity = i;
    }
    unsigned subcaches = 256;
    for (unsigned j = 1; j < 256 && rv == APR_SUCCESS; j <<= 1) {
        rv = store(probe_key(static_cast<unsigned char>(j), 0));
        if (rv == APR_SUCCESS && !present(probe_key(0, 1))) {
            subcaches = j;
            break;
        }
    }
    apr_pool_destroy(tmp);
    if (rv != APR_SUCCESS || !capacity) {
        ap_log_error_(__FILE__, __LINE__, owner_->module_index, APLOG_EMERG, rv, s,
                      "replay cache %s: cannot probe the capacity of shmcb", spec_);
        return rv != APR_SUCCESS ? rv : APR_EGENERAL;
    }
    provider_->destroy(instance_, s);
    rv = provider_->init(instance_, cname, &kHints, s, pconf);
    if (rv != APR_SUCCESS) return rv;

    apr_shm_t* shm = nullptr;
    rv = apr_shm_create(&shm, Ledger::bytes(subcaches, capacity), nullptr, pconf);  // destroyed with pconf
    if (rv != APR_SUCCESS) {
        ap_log_error_(__FILE__, __LINE__, owner_->module_index, APLOG_EMERG, rv, s,
                      "replay cache %s: cannot make the ledger in shared memory", spec_);
        return rv;
    }
    ledger_ = apr_shm_baseaddr_get(shm);
    Ledger::format(ledger_, subcaches, capacity);
    subcaches_ = subcaches;
    per_subcache_ = capacity;
    ap_log_error_(__FILE__, __LINE__, owner_->module_index, APLOG_INFO, 0, s,
                  "replay cache %s: room for %u entries (%u subcaches of %u); a full subcache refuses "
                  "rather than evicting",
                  spec_, subcaches * capacity, subcaches, capacity);
    return APR_SUCCESS;
}

void ReplayCache::child_init(apr_pool_t* p, server_rec* s) {
    if (!mutex_ || child_initialised_) return;
    child_initialised_ = true;
    apr_status_t rv = apr_global_mutex_child_init(&mutex_, apr_global_mutex_lockfile(mutex_), p);
    if (rv != APR_SUCCESS)
        ap_log_error_(__FILE__, __LINE__, owner_->module_index, APLOG_CRIT, rv, s, "replay cache %s: cannot attach the global mutex", spec_);
}

Key ReplayCache::id_of(std::string_view key) const {
    return replay::replay_key(
        std::string_view(reinterpret_cast<const char*>(salt_), local_ ? sizeof salt_ : kSharedSalt.size()), key);
}

ReplayCache::Result ReplayCache::check_and_store(request_rec* r, std::string_view key, apr_time_t expiry) {
    const Key id = id_of(key);
    // A pooled connection to memcache/redis that went stale while the store
    // restarted fails once and is replaced: one retry hides that, a store
    // that is really down fails twice and the caller fails closed.
    Result res = attempt(r, id.data(), expiry, false);
    if (res == Result::unavailable && initialised_) res = attempt(r, id.data(), expiry, true);
    if (owner_)
        count(r, *owner_, res == Result::fresh ? "replay_cache.misses"
                          : res == Result::replayed ? "replay_cache.hits"
                          : res == Result::full ? "replay_cache.full" : "replay_cache.errors");
    return res;
}

ReplayCache::Result ReplayCache::lookup(request_rec* r, std::string_view key) {
    const Key id = id_of(key);
    Result res = attempt_lookup(r, id.data(), false);
    if (res == Result::unavailable && initialised_) res = attempt_lookup(r, id.data(), true);
    return res;
}

ReplayCache::Result ReplayCache::attempt_lookup(request_rec* r, const unsigned char* id, bool last) {
    if (!initialised_) return Result::unavailable;
    MutexGuard guard(mutex_);
    if (!guard.ok()) return Result::unavailable;
    return retrieve_locked(r, id, last);
}

ReplayCache::Result ReplayCache::retrieve_locked(request_rec* r, const unsigned char* id, bool last) {
    unsigned char buf[16];
    unsigned int buflen = sizeof buf;
    const apr_status_t rv = provider_->retrieve(instance_, r->server, id, kIdLen, buf, &buflen, r->pool);
    if (rv == APR_SUCCESS) return Result::replayed;
    if (rv == APR_NOTFOUND) return Result::fresh;
    ap_log_rerror_(__FILE__, __LINE__, owner_->module_index, last ? APLOG_ERR : APLOG_INFO, rv, r,
                   "replay cache %s: lookup failed%s", spec_, last ? "" : ", retrying");
    return Result::unavailable;
}

ReplayCache::Result ReplayCache::attempt(request_rec* r, const unsigned char* id, apr_time_t expiry, bool last) {
    if (!initialised_) return Result::unavailable;
    MutexGuard guard(mutex_);
    if (!guard.ok()) return Result::unavailable;
    if (const Result seen = retrieve_locked(r, id, last); seen != Result::fresh) return seen;
    Key k;
    std::memcpy(k.data(), id, kIdLen);
    if (ledger_) {
        Ledger ledger = Ledger::attach(ledger_);
        if (ledger.claim(k, expiry, apr_time_now()) == Ledger::Claim::full) {
            ap_log_rerror_(__FILE__, __LINE__, owner_->module_index, APLOG_ERR, 0, r,
                           "replay cache %s is full (%u entries, %u per subcache): storing would evict an entry "
                           "that has not expired, so the request is refused; make the cache larger "
                           "(shmcb:/path(bytes)) or use redis/memcache",
                           spec_, subcaches_ * per_subcache_, per_subcache_);
            return Result::full;
        }
    }
    unsigned char one[] = {'1'};
    const apr_status_t rv = provider_->store(instance_, r->server, id, kIdLen, expiry, one, sizeof one, r->pool);
    if (rv != APR_SUCCESS) {
        if (ledger_) Ledger::attach(ledger_).unclaim(k);
        ap_log_rerror_(__FILE__, __LINE__, owner_->module_index, last ? APLOG_ERR : APLOG_INFO, rv, r,
                       "replay cache %s: store failed%s", spec_, last ? "" : ", retrying");
        return Result::unavailable;
    }
    return Result::fresh;
}

}  // namespace cmi::httpd
