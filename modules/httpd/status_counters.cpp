#include "httpd/status_counters.hpp"

#include <apr_shm.h>

#include <cstring>
#include <new>
#include <string>

namespace cmi::httpd {
namespace {

// The pool-userdata key of a module's table; no allocation: find() runs for
// every counted event.
struct Key {
    explicit Key(const module& m) noexcept { apr_snprintf(text, sizeof text, "cmi-status-counters:%s", m.name); }
    char text[128];
};

}  // namespace

StatusCounters* StatusCounters::create(apr_pool_t* pconf, server_rec* s, const module& m,
                                       const char* const* names, std::size_t count) {
    const Key key(m);
    void* found = nullptr;
    apr_pool_userdata_get(&found, key.text, pconf);
    if (found) return static_cast<StatusCounters*>(found);

    apr_shm_t* shm = nullptr;
    const apr_size_t bytes = count * sizeof(std::uint64_t);
    // Anonymous: inherited by the children across fork, gone with the last of them.
    apr_status_t rv = apr_shm_create(&shm, bytes, nullptr, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(CMI_LOG_MARK(m), APLOG_WARNING, rv, s,
                     CMILOGNO(00003) "status counters: no shared memory (%" APR_SIZE_T_FMT " bytes); "
                                     "server-status will not show this module's counters",
                     bytes);
        return nullptr;
    }
    auto* values = static_cast<std::uint64_t*>(apr_shm_baseaddr_get(shm));
    std::memset(values, 0, bytes);
    auto* table = new (apr_palloc(pconf, sizeof(StatusCounters))) StatusCounters(names, count, values);
    // Trivially destructible: the pool frees the memory, the shm cleanup the segment.
    apr_pool_userdata_set(table, key.text, nullptr, pconf);
    return table;
}

StatusCounters* StatusCounters::find(const server_rec* s, const module& m) noexcept {
    if (!s || !s->process || !s->process->pconf) return nullptr;
    void* found = nullptr;
    apr_pool_userdata_get(&found, Key(m).text, s->process->pconf);
    return static_cast<StatusCounters*>(found);
}

std::uint64_t* StatusCounters::slot(std::string_view name) noexcept {
    std::uint64_t* other = nullptr;
    for (std::size_t i = 0; i < count_; ++i) {
        if (name == names_[i]) return &values_[i];
        if (std::string_view(names_[i]) == "other") other = &values_[i];
    }
    return other;
}

void StatusCounters::add(std::string_view name, std::uint64_t n) noexcept {
    if (std::uint64_t* v = slot(name)) __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

void StatusCounters::raise(std::string_view name, std::uint64_t v) noexcept {
    std::uint64_t* p = slot(name);
    if (!p) return;
    std::uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

std::uint64_t StatusCounters::value(std::size_t i) const noexcept {
    return __atomic_load_n(&values_[i], __ATOMIC_RELAXED);
}

void count(const request_rec* r, const module& m, std::string_view name, std::uint64_t n) noexcept {
    if (!r) return;
    if (StatusCounters* c = StatusCounters::find(r->server, m)) c->add(name, n);
}

}  // namespace cmi::httpd
