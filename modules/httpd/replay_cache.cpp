#include "httpd/replay_cache.hpp"

#include "httpd/pool_object.hpp"
#include "httpd/status_counters.hpp"
#include "libcmi/replay_table.hpp"
#include "libcmi/replay_table_file.hpp"

#include <ap_mpm.h>
#include <ap_provider.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <util_mutex.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::httpd {
namespace {

using replay::Table;
using replay::Verdict;

// Unlocks on every path out of a shared store's lookup-and-store.
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
constexpr unsigned kIdLen = 32;
constexpr ap_socache_hints kHints = {kIdLen, 25, apr_time_from_sec(60)};
constexpr apr_size_t kDefaultBytes = 512000;  // mod_socache_shmcb's default size
constexpr apr_size_t kMinBytes = 8192;
constexpr apr_size_t kMaxBytes = apr_size_t{1} << 30;
constexpr std::uint32_t kSharedOwners = 4096;  // owners counted per node for a shared store
constexpr unsigned kSharedQuota = 10000;

// What outlives a configuration cycle: the shared memory of the table (a
// file mapping for a local store, anonymous for a shared store's shares),
// made by the parent (as the audit log's shared state).
struct Retained {
    void* base;
    apr_size_t map_bytes;
    apr_size_t spec_bytes;  // the size the spec asked for when it was made
};

// At the parent's exit (a stop, not a restart): the table's pages to storage.
struct SyncAtExit {
    void* base;
    apr_size_t bytes;
    pid_t parent;
};

extern "C" apr_status_t sync_at_exit(void* data) noexcept {
    const auto* x = static_cast<const SyncAtExit*>(data);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING && getpid() == x->parent)
        replay::sync_table_file(x->base, x->bytes);
    return APR_SUCCESS;
}

ReplayCache::Result result_of(Verdict v) {
    switch (v) {
    case Verdict::fresh: return ReplayCache::Result::fresh;
    case Verdict::replayed: return ReplayCache::Result::replayed;
    case Verdict::full: return ReplayCache::Result::full;
    case Verdict::over_share: return ReplayCache::Result::over_share;
    case Verdict::before_start: return ReplayCache::Result::before_start;
    case Verdict::behind_window: return ReplayCache::Result::behind_window;
    case Verdict::unavailable: break;
    }
    return ReplayCache::Result::unavailable;
}

const char* counter_of(ReplayCache::Result res) {
    switch (res) {
    case ReplayCache::Result::fresh: return "replay_cache.misses";
    case ReplayCache::Result::replayed: return "replay_cache.hits";
    case ReplayCache::Result::full: return "replay_cache.full";
    case ReplayCache::Result::over_share: return "replay_cache.over_share";
    case ReplayCache::Result::before_start: return "replay_cache.before_start";
    case ReplayCache::Result::behind_window: return "replay_cache.behind_window";
    case ReplayCache::Result::unavailable: break;
    }
    return "replay_cache.errors";
}

// "PATH" or "PATH(BYTES)" of a shmcb spec.
void parse_local(apr_pool_t* pconf, const char* args, const char*& path, apr_size_t& bytes) {
    bytes = kDefaultBytes;
    path = nullptr;
    if (!args || !*args) return;
    std::string a(args);
    if (const auto open = a.rfind('('); open != std::string::npos) {
        if (a.back() != ')')
            throw std::invalid_argument("shmcb:" + a + " is not shmcb:/path(bytes)");
        const std::string n = a.substr(open + 1, a.size() - open - 2);
        char* end = nullptr;
        const unsigned long long v = std::strtoull(n.c_str(), &end, 10);
        if (n.empty() || *end || v < kMinBytes || v > kMaxBytes)
            throw std::invalid_argument("shmcb size '" + n + "' must be from 8192 to 1073741824 bytes, e.g. " +
                                        "shmcb:/run/apache2/cmi-replay.cache(4194304)");
        bytes = static_cast<apr_size_t>(v);
        a.resize(open);
    }
    if (!a.empty()) path = ap_runtime_dir_relative(pconf, a.c_str());
    if (!a.empty() && !path) throw std::invalid_argument("'" + a + "' is not a valid path");
}

}  // namespace

ReplayCache* ReplayCache::parse(apr_pool_t* pconf, apr_pool_t* ptemp, const char* spec, const module& owner) {
    std::string name(spec);
    const char* args = nullptr;
    if (auto colon = name.find(':'); colon != std::string::npos) {
        args = spec + colon + 1;
        name.resize(colon);
    }
    auto* cache = pool_new<ReplayCache>(pconf);
    cache->spec_ = apr_pstrdup(pconf, spec);
    cache->owner_ = &owner;
    if (!strcasecmp(name.c_str(), "shmcb")) {
        parse_local(pconf, args, cache->path_, cache->bytes_);
        return cache;
    }
    if (name != "redis" && name != "memcache")
        throw std::invalid_argument("'" + name + "' cannot keep replay entries; use shmcb[:/path(bytes)] (this server) "
                                    "or redis:host:port / memcache:host:port (shared by a cluster)");
    const auto* provider = static_cast<const ap_socache_provider_t*>(
        ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name.c_str(), AP_SOCACHE_PROVIDER_VERSION));
    if (!provider)
        throw std::invalid_argument("'" + name + "' is not a loaded socache provider; load its module first "
                                    "(LoadModule socache_" + name + "_module ...)");
    if (const char* err = provider->create(&cache->instance_, args, ptemp, pconf))
        throw std::invalid_argument(std::string("socache provider '") + name + "': " + err);
    cache->provider_ = provider;
    cache->local_ = false;
    return cache;
}

void ReplayCache::register_mutex(apr_pool_t* pconf, const char* mutex_type) {
    ap_mutex_register(pconf, mutex_type, nullptr, APR_LOCK_DEFAULT, 0);
}

apr_status_t ReplayCache::init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type) {
    if (initialised_) return APR_SUCCESS;
    if (local_) {
        const apr_status_t rv = init_local(pconf, s, cname);
        if (rv != APR_SUCCESS) return rv;
        initialised_ = true;
        return APR_SUCCESS;
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

    // This node's count of what each owner holds in the shared store.
    const char* key = apr_pstrcat(pconf, "mod_cmi replay shares ", cname, " ", spec_, nullptr);
    auto* kept = static_cast<Retained*>(ap_retained_data_get(key));
    const unsigned quota = quota_ ? quota_ : kSharedQuota;
    if (!kept || !kept->base) {
        const replay::Geometry g = Table::shares_only(kSharedOwners);
        apr_shm_t* shm = nullptr;
        rv = apr_shm_create(&shm, Table::bytes(g), nullptr, s->process->pool);
        if (rv != APR_SUCCESS) return rv;
        unsigned char random[36];
        rv = apr_generate_random_bytes(random, sizeof random);
        if (rv != APR_SUCCESS) return rv;
        Table::format(apr_shm_baseaddr_get(shm), g, quota, random, cname, 0);
        kept = static_cast<Retained*>(ap_retained_data_create(key, sizeof(Retained)));
        *kept = {apr_shm_baseaddr_get(shm), Table::bytes(g), 0};
    }
    table_ = kept->base;
    Table::attach(table_).set_quota(quota);
    initialised_ = true;
    return APR_SUCCESS;
}

apr_status_t ReplayCache::init_local(apr_pool_t* pconf, server_rec* s, const char* cname) {
    if (!path_) path_ = ap_runtime_dir_relative(pconf, apr_pstrcat(pconf, cname, "-replay.cache", nullptr));
    if (!path_) return APR_EGENERAL;
    const char* key = apr_pstrcat(pconf, "mod_cmi replay table ", cname, " ", path_, nullptr);
    auto* kept = static_cast<Retained*>(ap_retained_data_get(key));
    const replay::Geometry g = Table::fit(bytes_);
    const unsigned quota = quota_ ? quota_ : (g.entries() / 8 ? g.entries() / 8 : 1);
    if (!kept || !kept->base) {
        unsigned char random[36];
        apr_status_t rv = apr_generate_random_bytes(random, sizeof random);
        if (rv != APR_SUCCESS) return rv;
        const apr_time_t now = apr_time_now();
        replay::TableFile f;
        try {
            f = replay::open_table_file(path_, cname, g, quota, random, now);
        } catch (const std::exception& e) {
            ap_log_error(CMI_LOG_MARK(*owner_), APLOG_EMERG, 0, s, CMILOGNO(00006) "replay cache %s: %s", spec_,
                         e.what());
            return APR_EGENERAL;
        }
        kept = static_cast<Retained*>(ap_retained_data_create(key, sizeof(Retained)));
        *kept = {f.base, f.bytes, bytes_};
        char since[APR_RFC822_DATE_LEN];
        apr_rfc822_date(since, now);
        switch (f.how) {
        case replay::TableFile::Opened::created:
            apr_rfc822_date(since, f.unknown_before);
            ap_log_error(CMI_LOG_MARK(*owner_), APLOG_INFO, 0, s,
                         "replay cache %s: no table at %s yet: made one; one-time items made before the system "
                         "started (%s) are refused",
                         spec_, path_, since);
            break;
        case replay::TableFile::Opened::reopened:
            break;
        case replay::TableFile::Opened::resized:
            ap_log_error(CMI_LOG_MARK(*owner_), f.moved.dropped ? APLOG_WARNING : APLOG_NOTICE, 0, s,
                         CMILOGNO(00007) "replay cache %s: %s held a table of another size: moved its %u live "
                                         "entries into one of the new size%s",
                          spec_, path_, f.moved.entries,
                          f.moved.dropped ? apr_psprintf(pconf, "; %u did not fit, so one-time items made before "
                                                                "%s are refused",
                                                         f.moved.dropped, since)
                                          : "");
            break;
        case replay::TableFile::Opened::replaced:
            ap_log_error(CMI_LOG_MARK(*owner_), APLOG_WARNING, 0, s,
                         CMILOGNO(00008) "replay cache %s: %s was %s; made a new table: one-time items made before "
                                         "%s are refused",
                         spec_, path_, f.why.c_str(), since);
            break;
        }
    } else if (kept->spec_bytes != bytes_) {
        ap_log_error(CMI_LOG_MARK(*owner_), APLOG_WARNING, 0, s,
                     CMILOGNO(00009) "replay cache %s: the new size takes effect at the next stop and start; the "
                                     "running table (%" APR_SIZE_T_FMT " bytes) is kept until then, as its entries "
                                     "cannot move while children of the last generation still use it",
                      spec_, kept->spec_bytes);
    }
    table_ = kept->base;
    Table t = Table::attach(table_);
    if (kept->spec_bytes == bytes_) t.set_quota(quota);
    ap_log_error(CMI_LOG_MARK(*owner_), APLOG_INFO, 0, s,
                 "replay cache %s: room for %u entries, %u per owner, in %s (kept across restarts and stops)",
                  spec_, t.geometry().entries(), t.quota(), path_);

    // Once per configuration cycle and table: synced when the parent exits.
    const char* once = apr_pstrcat(pconf, key, " sync", nullptr);
    void* done = nullptr;
    apr_pool_userdata_get(&done, once, pconf);
    if (!done) {
        apr_pool_userdata_setn(this, once, nullptr, pconf);
        auto* x = static_cast<SyncAtExit*>(apr_palloc(pconf, sizeof(SyncAtExit)));
        *x = {kept->base, kept->map_bytes, getpid()};
        apr_pool_cleanup_register(pconf, x, sync_at_exit, apr_pool_cleanup_null);
    }
    return APR_SUCCESS;
}

bool ReplayCache::init_logged(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type,
                              const char* directive) {
    const apr_status_t rv = init(pconf, s, cname, mutex_type);
    if (rv != APR_SUCCESS)
        ap_log_error(CMI_LOG_MARK(*owner_), APLOG_EMERG, rv, s, CMILOGNO(00013) "%s %s: cannot initialise the cache",
                     directive, spec_);
    return rv == APR_SUCCESS;
}

void ReplayCache::child_init(apr_pool_t* p, server_rec* s) {
    if (!mutex_ || child_initialised_) return;
    child_initialised_ = true;
    apr_status_t rv = apr_global_mutex_child_init(&mutex_, apr_global_mutex_lockfile(mutex_), p);
    if (rv != APR_SUCCESS)
        ap_log_error(CMI_LOG_MARK(*owner_), APLOG_CRIT, rv, s,
                     CMILOGNO(00010) "replay cache %s: cannot attach the global mutex", spec_);
}

std::uint32_t ReplayCache::generation() const {
    return local_ && table_ ? Table::attach(table_).generation() : 0;
}

unsigned ReplayCache::capacity() const { return local_ && table_ ? Table::attach(table_).geometry().entries() : 0; }

unsigned ReplayCache::quota() const { return table_ ? Table::attach(table_).quota() : 0; }

ReplayCache::Result ReplayCache::counted(request_rec* r, Result res, const Use&) const {
    if (res == Result::full)
        ap_log_rerror(CMI_LOG_MARK(*owner_), APLOG_ERR, 0, r,
                      CMILOGNO(00011) "replay cache %s is full (%u entries): storing would need to evict an entry "
                                      "that has not expired, so the request is refused; make the cache larger "
                                      "(shmcb:/path(bytes)) or use redis/memcache",
                       spec_, capacity());
    if (res == Result::over_share)
        ap_log_rerror(CMI_LOG_MARK(*owner_), APLOG_INFO, 0, r,
                      "replay cache %s: this owner holds its share (%u entries); refused until one expires",
                       spec_, quota());
    if (owner_) count(r, *owner_, counter_of(res));
    return res;
}

ReplayCache::Result ReplayCache::check_and_store(request_rec* r, std::string_view key, apr_time_t expiry,
                                                 const Use& use) {
    if (!initialised_ || !table_) return counted(r, Result::unavailable, use);
    if (!local_) return counted(r, shared_store(r, key, expiry, use), use);
    Table t = Table::attach(table_);
    Table::Use u{0, use.made_after, 0, use.owner};
    const Verdict v = t.check_and_store(key, expiry, apr_time_now(), u);
    if (v == Verdict::over_share && use.free_at) *use.free_at = u.free_at;
    return counted(r, result_of(v), use);
}

ReplayCache::Result ReplayCache::check_and_count(request_rec* r, std::string_view key, std::uint32_t count,
                                                 apr_time_t expiry, const Use& use) {
    if (!initialised_ || !table_) return counted(r, Result::unavailable, use);
    if (!local_) {
        // Lookup and store are two operations on a shared store: a window
        // updated by two nodes at once could lose a count. One entry per count.
        char nc[16];
        std::snprintf(nc, sizeof nc, ":%08x", count);
        return counted(r, shared_store(r, std::string(key) + nc, expiry, use), use);
    }
    Table t = Table::attach(table_);
    Table::Use u{0, use.made_after, 0, use.owner};
    const Verdict v = t.check_and_count(key, count, expiry, apr_time_now(), u);
    if (v == Verdict::over_share && use.free_at) *use.free_at = u.free_at;
    return counted(r, result_of(v), use);
}

ReplayCache::Result ReplayCache::lookup(request_rec* r, std::string_view key) {
    if (!initialised_ || !table_) return Result::unavailable;
    if (local_) return result_of(Table::attach(table_).contains(key, apr_time_now()));
    const replay::Digest id = replay::replay_key(kSharedSalt, key);
    for (int round = 0; round < 2; ++round) {
        MutexGuard guard(mutex_);
        if (!guard.ok()) return Result::unavailable;
        const apr_status_t rv = retrieve(r, id);
        if (rv == APR_SUCCESS) return Result::replayed;
        if (rv == APR_NOTFOUND) return Result::fresh;
        store_failed(r, rv, "lookup", round == 1);
    }
    return Result::unavailable;
}

apr_status_t ReplayCache::retrieve(request_rec* r, const replay::Digest& id) const {
    unsigned char buf[16];
    unsigned int buflen = sizeof buf;
    return provider_->retrieve(instance_, r->server, id.data(), kIdLen, buf, &buflen, r->pool);
}

// The first failure of a round is expected now and then (a pooled connection
// that went stale): info; the second is an error.
void ReplayCache::store_failed(request_rec* r, apr_status_t rv, const char* what, bool last) const {
    ap_log_rerror(CMI_LOG_MARK(*owner_), last ? APLOG_ERR : APLOG_INFO, rv, r,
                  CMILOGNO(00012) "replay cache %s: %s failed%s", spec_, what, last ? "" : ", retrying");
}

// A shared store: lookup, charge the owner, store. A pooled connection to
// memcache/redis that went stale while the store restarted fails once and is
// replaced: one retry hides that, a store that is really down fails twice and
// the caller fails closed.
ReplayCache::Result ReplayCache::shared_store(request_rec* r, std::string_view key, apr_time_t expiry, const Use& use) {
    const replay::Digest id = replay::replay_key(kSharedSalt, key);
    Table shares = Table::attach(table_);
    Table::Use u{0, 0, 0, use.owner};
    for (int round = 0; round < 2; ++round) {
        const bool last = round == 1;
        MutexGuard guard(mutex_);
        if (!guard.ok()) return Result::unavailable;
        apr_status_t rv = retrieve(r, id);
        if (rv == APR_SUCCESS) return Result::replayed;
        if (rv != APR_NOTFOUND) {
            store_failed(r, rv, "lookup", last);
            continue;
        }
        int bucket = -1;
        const Verdict charged = shares.charge(u, expiry, apr_time_now(), bucket);
        if (charged == Verdict::over_share) {
            if (use.free_at) *use.free_at = u.free_at;
            return Result::over_share;
        }
        if (charged != Verdict::fresh) return Result::unavailable;
        unsigned char one[] = {'1'};
        rv = provider_->store(instance_, r->server, id.data(), kIdLen, expiry, one, sizeof one, r->pool);
        if (rv == APR_SUCCESS) return Result::fresh;
        shares.refund(u.owner, bucket);
        store_failed(r, rv, "store", last);
    }
    return Result::unavailable;
}

}  // namespace cmi::httpd
