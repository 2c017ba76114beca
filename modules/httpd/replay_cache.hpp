// A replay cache: remembers keys (Digest nonce-counts, SAML assertion ids,
// RFC 9421 nonces) until they expire, so a captured request cannot be sent again.
//
// Two kinds of store (CMIAuthReplayCache / CMIContentReplayCache):
// - `shmcb`, `shmcb:/path(bytes)`: local to this server — a libcmi/replay_table
//   in a file every process maps (libcmi/replay_table_file): every generation
//   of children uses the same table, and it outlives graceful and plain
//   restarts, stops and crashes of httpd for as long as the file does. A table
//   that had to replace a damaged file refuses items made before it
//   (`before_start`). A full table refuses (`full`), it never evicts.
//   (mod_socache_shmcb itself is not used: it is made empty at every restart.)
// - `redis:host:port`, `memcache:host:port`: mod_socache providers shared by a
//   cluster; they keep their entries themselves. Keys are SHA-256 with a fixed
//   salt, so every node computes the same ids.
//
// Either way each entry can be charged to an owner (a user, a signer), who
// holds at most a bounded share of the store (`over_share`): one identity
// cannot fill it for everybody. For a shared store the share is counted per node.
//
// Life cycle (httpd's): parse() in the directive handler (or in post_config),
// init() in post_config, child_init() in child_init.
#pragma once
#include "httpd/barrier.hpp"
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"

#include <ap_socache.h>
#include <apr_global_mutex.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace cmi::replay {
class Table;
}

namespace cmi::httpd {

// What an entry is charged to and how old its item can be (ReplayCache::Use).
struct ReplayUse {
    std::string_view owner;         // whom the entry is charged to; "" none
    apr_time_t made_after = 0;      // the item cannot be older (its stated creation minus the clock skew); 0 unknown
    apr_time_t* free_at = nullptr;  // out, with over_share: when the owner's next entry expires
};

class ReplayCache {
public:
    // "shmcb", "shmcb:/path", "shmcb:/path(bytes)", "redis:host:port", "memcache:host:port".
    // Throws std::invalid_argument with a message naming the fix.
    static ReplayCache* parse(apr_pool_t* pconf, apr_pool_t* ptemp, const char* spec, const module& owner);

    // Registers the global mutex type (once per mutex_type, from pre_config);
    // used only by a shared provider that is not safe across processes.
    static void register_mutex(apr_pool_t* pconf, const char* mutex_type);

    // Attaches (or, at the first start, makes) the store. `cname` names the
    // owner of a local store ("cmi-auth", "cmi-content") and its default file.
    // Idempotent within one configuration cycle.
    apr_status_t init(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type);
    // init(), or false after a line naming `directive` (post_config then stops httpd).
    bool init_logged(apr_pool_t* pconf, server_rec* s, const char* cname, const char* mutex_type,
                     const char* directive);
    void child_init(apr_pool_t* p, server_rec* s);

    // Entries one owner may hold at once; 0 (the default): 1/8 of a local
    // store's entries, 10000 per node for a shared one. Call before init().
    void set_quota(unsigned entries) { quota_ = entries; }

    using Use = ReplayUse;

    enum class Result {
        fresh,          // recorded now
        replayed,       // recorded before and not expired
        unavailable,    // the store could not be asked or written: fail closed
        full,           // a local store with no room without evicting a live entry: fail closed
        over_share,     // the owner holds its share: refuse this owner (retry after *free_at)
        before_start,   // made before what the local store remembers (a first start, a crash): refuse
        behind_window,  // check_and_count: a count too far below the highest seen: refuse
    };

    // Records `key` until `expiry` and says whether it had been recorded before.
    Result check_and_store(request_rec* r, std::string_view key, apr_time_t expiry, const Use& use = {});
    // Records `count` for `key` (a Digest nonce and its nonce-count): each count
    // once. A local store keeps one entry per key with a window of the last 64
    // counts; a shared store one entry per count.
    Result check_and_count(request_rec* r, std::string_view key, std::uint32_t count, apr_time_t expiry,
                           const Use& use = {});

    // Whether `key` is recorded, recording nothing: `replayed` (it is), `fresh`
    // (it is not) or `unavailable`. (mod_cmi_content: is a signature bound to this target?)
    Result lookup(request_rec* r, std::string_view key);

    const char* spec() const { return spec_; }
    // True for a store of this server only (shmcb).
    bool local() const { return local_; }
    // 0 for a shared store; for a local one, random per table (kept over
    // restarts and clean stops): Digest nonces carry it.
    std::uint32_t generation() const;
    // Entries a local store holds, or 0 for a shared one.
    unsigned capacity() const;
    unsigned quota() const;

private:
    Result shared_store(request_rec* r, std::string_view key, apr_time_t expiry, const Use& use);
    Result counted(request_rec* r, Result res, const Use& use) const;
    void store_failed(request_rec* r, apr_status_t rv, const char* what, bool last) const;
    apr_status_t retrieve(request_rec* r, const std::array<unsigned char, 32>& id) const;  // a shared store
    apr_status_t init_local(apr_pool_t* pconf, server_rec* s, const char* cname);

    const char* spec_ = nullptr;
    const module* owner_ = nullptr;  // logs under its name
    bool local_ = true;
    // local
    const char* path_ = nullptr;  // the file the table is kept in
    apr_size_t bytes_ = 0;
    // shared
    const ap_socache_provider_t* provider_ = nullptr;
    ap_socache_instance_t* instance_ = nullptr;
    apr_global_mutex_t* mutex_ = nullptr;
    // the table in shared memory: entries (local) or shares only (shared)
    void* table_ = nullptr;
    unsigned quota_ = 0;
    bool initialised_ = false;
    bool child_initialised_ = false;
};

// The replay caches of module `M`, whose server configuration keeps a
// ReplayCache* at `Field`; the mutex type `MutexType` (a constant array).
template <module& M, auto Field>
ReplayCache*& replay_cache_of(server_rec* s) {
    using C = typename member_class<decltype(Field)>::type;
    return static_cast<C*>(ap_get_module_config(s->module_config, &M))->*Field;
}

template <module& M, auto Field, const char* MutexType>
int replay_pre_config(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) noexcept {
    return server_barrier(nullptr, M, "pre_config", [pconf] {
        ReplayCache::register_mutex(pconf, MutexType);
        return OK;
    });
}

template <module& M, auto Field, const char* MutexType>
void replay_child_init(apr_pool_t* p, server_rec* main) noexcept {
    server_barrier(main, M, "child_init", [=] {
        for (server_rec* s = main; s; s = s->next)
            if (ReplayCache* c = replay_cache_of<M, Field>(s)) c->child_init(p, s);
    });
}

// register_hooks: the caches' pre_config (mutex type) and child_init (attach).
template <module& M, auto Field, const char* MutexType>
void register_replay_cache_hooks() {
    ap_hook_pre_config(replay_pre_config<M, Field, MutexType>, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(replay_child_init<M, Field, MutexType>, nullptr, nullptr, APR_HOOK_MIDDLE);
}

// post_config: each server's cache (its own, else `fallback`) prepared (e.g.
// its quota set) and initialised; HTTP_INTERNAL_SERVER_ERROR after a line naming
// `directive` when one cannot be. A server without a cache fails its requests closed.
template <module& M, auto Field, const char* MutexType>
int init_replay_caches(apr_pool_t* pconf, server_rec* main, ReplayCache* fallback, const char* cname,
                       const char* directive, void (*prepare)(server_rec*, ReplayCache&) = nullptr) {
    for (server_rec* s = main; s; s = s->next) {
        ReplayCache*& c = replay_cache_of<M, Field>(s);
        if (!c) c = fallback;
        if (!c) continue;
        if (prepare) prepare(s, *c);
        if (!c->init_logged(pconf, s, cname, MutexType, directive)) return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

// The handler of a module's CMI…ReplayCache directive (server contexts only):
// the spec, parsed, in the ReplayCache* at `Field` of module `M`'s server configuration.
template <module& M, auto Field>
const char* set_replay_cache(cmd_parms* cmd, void*, const char* arg) noexcept {
    return directive_barrier(cmd, [&]() -> const char* {
        if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) return err;
        replay_cache_of<M, Field>(cmd->server) = ReplayCache::parse(cmd->pool, cmd->temp_pool, arg, M);
        return nullptr;
    });
}

}  // namespace cmi::httpd
