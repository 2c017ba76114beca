// Counters for mod_status: per module, a fixed table of named 64-bit counters
// in anonymous shared memory. The parent makes the table in post_config; every
// child, forked after it, adds to the same numbers with atomic operations.
// The table belongs to pconf, so the counters count since the last (graceful)
// restart, and nothing survives a configuration cycle.
#pragma once
#include "httpd/barrier.hpp"
#include "httpd/httpd_includes.hpp"

#include <mod_status.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cmi::httpd {

class StatusCounters {
public:
    // post_config: the table of module `m`, made once per configuration cycle.
    // `names` must outlive the module (static constant data).
    static StatusCounters* create(apr_pool_t* pconf, server_rec* s, const module& m,
                                  const char* const* names, std::size_t count);
    // The table of `m`, or nullptr (none made: the check-only start-up pass,
    // or the module's post_config failed).
    static StatusCounters* find(const server_rec* s, const module& m) noexcept;

    // Adds `n` to the counter `name`; a name not in the table goes to "other"
    // if the table has one, else nowhere.
    void add(std::string_view name, std::uint64_t n = 1) noexcept;
    // Raises the counter `name` to `v` if it is lower.
    void raise(std::string_view name, std::uint64_t v) noexcept;

    std::size_t size() const noexcept { return count_; }
    const char* name(std::size_t i) const noexcept { return names_[i]; }
    std::uint64_t value(std::size_t i) const noexcept;

private:
    StatusCounters(const char* const* names, std::size_t count, std::uint64_t* values)
        : names_(names), count_(count), values_(values) {}
    std::uint64_t* slot(std::string_view name) noexcept;

    const char* const* names_;
    std::size_t count_;
    std::uint64_t* values_;  // in the shared memory segment
};

// find + add from a request; never throws, does nothing without a table.
void count(const request_rec* r, const module& m, std::string_view name, std::uint64_t n = 1) noexcept;

// Writes the table of `m` for mod_status: an HTML table, or with
// AP_STATUS_SHORT (`?auto`) one `prefix.counter: value` line per counter.
void report_status(request_rec* r, int flags, const module& m, const char* prefix, const char* title);

// A module's section of server-status: its counters, made in post_config and
// shown by mod_status's status_hook. `before_report`, if set, runs first.
struct StatusTable {
    const module* m;
    const char* prefix;  // of the counter names on the page: "cmi_tls"
    const char* title;
    const char* const* names;
    std::size_t count;
    void (*before_report)(request_rec* r) = nullptr;
    // If set, counts at log_transaction time what the module's notes say of
    // the request httpd received (never of its subrequests).
    void (*count_at_log)(request_rec* r) = nullptr;
};

constexpr bool is_set(void (*f)(request_rec*)) { return f != nullptr; }

template <const StatusTable& T>
int status_hook_of(request_rec* r, int flags) noexcept {
    return hook_barrier(r, *T.m, "status_hook", [r, flags] {
        if constexpr (is_set(T.before_report)) T.before_report(r);
        report_status(r, flags, *T.m, T.prefix, T.title);
        return OK;
    });
}

// No table is no reason to stop httpd: a failure is logged, start-up goes on.
template <const StatusTable& T>
int status_post_config_of(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) noexcept {
    return server_barrier(
        s, *T.m, "post_config",
        [pconf, s] {
            StatusCounters::create(pconf, s, *T.m, T.names, T.count);
            return OK;
        },
        OK);
}

template <const StatusTable& T>
int status_log_of(request_rec* r) noexcept {
    return hook_barrier(r, *T.m, "log_transaction", [r] {
        if (!r->main) T.count_at_log(r);
        return DECLINED;
    });
}

// register_hooks: the table `T` (a constant of the module) on server-status.
template <const StatusTable& T>
void register_status_table() {
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook_of<T>, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(status_post_config_of<T>, nullptr, nullptr, APR_HOOK_MIDDLE);
    if constexpr (is_set(T.count_at_log)) ap_hook_log_transaction(status_log_of<T>, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace cmi::httpd
