// A replay cache on mod_socache: remembers keys (digest nonce-counts, SAML
// assertion ids, RFC 9421 nonces) until they expire, in any socache provider,
// so a cluster can point every node at one memcache or redis.
//
// Keys are stored as SHA-256 (libcmi/replay_ledger): fixed-size ids for every
// provider. A cache local to this server (shmcb) salts them with random bytes
// made at each start and has a random `generation()`; a shared one (memcache,
// redis) uses a fixed salt and generation 0, so every node computes the same ids.
//
// shmcb evicts its oldest entries when full; for shmcb the capacity is probed
// at start-up and a ledger in shared memory refuses a store that would evict a
// live entry (Result::full: the caller fails closed).
//
// Life cycle (httpd's): parse() in the directive handler (or in post_config),
// init() in post_config, child_init() in child_init.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <ap_socache.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace cmi::httpd {

class ReplayCache {
public:
    // "provider[:args]", e.g. "shmcb", "shmcb:/run/x(512000)", "redis:127.0.0.1:6379".
    // Throws std::invalid_argument with a message naming the fix.
    static ReplayCache* parse(apr_pool_t* pconf, apr_pool_t* ptemp, const char* spec, const module& owner);

    // Registers the global mutex type (once per mutex_type, from pre_config).
    static void register_mutex(apr_pool_t* pconf, const char* mutex_type);

    // Initialises the provider and, for providers that are not safe across
    // processes, the global mutex; for shmcb, probes its capacity and makes the
    // ledger. Idempotent within one configuration cycle.
    apr_status_t init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type);
    void child_init(apr_pool_t* p, server_rec* s);

    enum class Result { fresh, replayed, unavailable, full };

    // Records `key` until `expiry` and says whether it had been recorded before.
    // `unavailable`: the store could not be asked or written; `full`: a shmcb
    // that has no room without evicting a live entry. The caller fails closed.
    Result check_and_store(request_rec* r, std::string_view key, apr_time_t expiry);

    // Whether `key` is recorded, recording nothing: `replayed` (it is), `fresh`
    // (it is not) or `unavailable`. (mod_cmi_content: is a signature bound to this target?)
    Result lookup(request_rec* r, std::string_view key);

    const char* spec() const { return spec_; }
    // True when the contents live in this server only and die with a restart.
    bool local() const { return local_; }
    // 0 for a shared cache; random per start for a local one (Digest nonces carry it).
    std::uint32_t generation() const { return generation_; }
    // Entries a shmcb holds without evicting (probed), or 0 if not known.
    unsigned capacity() const { return subcaches_ * per_subcache_; }

private:
    Result attempt(request_rec* r, const unsigned char* id, apr_time_t expiry, bool last);
    Result attempt_lookup(request_rec* r, const unsigned char* id, bool last);
    Result retrieve_locked(request_rec* r, const unsigned char* id, bool last);
    std::array<unsigned char, 32> id_of(std::string_view key) const;
    apr_status_t probe_shmcb(apr_pool_t* pconf, server_rec* s, const char* cname);

    const ap_socache_provider_t* provider_ = nullptr;
    ap_socache_instance_t* instance_ = nullptr;
    const char* spec_ = nullptr;
    const module* owner_ = nullptr;  // logs under its name
    apr_global_mutex_t* mutex_ = nullptr;
    bool shmcb_ = false;
    bool local_ = true;
    unsigned char salt_[32] = {};
    std::uint32_t generation_ = 0;
    void* ledger_ = nullptr;  // in shared memory (shmcb only)
    unsigned subcaches_ = 0, per_subcache_ = 0;
    bool initialised_ = false;
    bool child_initialised_ = false;
};

}  // namespace cmi::httpd
