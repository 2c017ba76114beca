// A replay cache on mod_socache: remembers keys (digest nonce-counts, SAML
// assertion ids, RFC 9421 nonces) until they expire, in any socache provider,
// so a cluster can point every node at one memcache or redis.
//
// Life cycle (httpd's): parse() in the directive handler (or default() in
// post_config), init() in post_config, child_init() in child_init.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <ap_socache.h>
#include <apr_global_mutex.h>

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
    // processes, the global mutex. Idempotent within one configuration cycle.
    apr_status_t init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type);
    void child_init(apr_pool_t* p, server_rec* s);

    enum class Result { fresh, replayed, unavailable };

    // Records `key` until `expiry` and says whether it had been recorded before.
    // `unavailable`: the store could not be asked or written (the caller fails closed).
    Result check_and_store(request_rec* r, std::string_view key, apr_time_t expiry);

    const char* spec() const { return spec_; }

private:
    Result attempt(request_rec* r, std::string_view key, apr_time_t expiry, bool last);

    const ap_socache_provider_t* provider_ = nullptr;
    ap_socache_instance_t* instance_ = nullptr;
    const char* spec_ = nullptr;
    const module* owner_ = nullptr;  // logs under its name
    apr_global_mutex_t* mutex_ = nullptr;
    bool initialised_ = false;
    bool child_initialised_ = false;
};

}  // namespace cmi::httpd
