// The exception barrier: every extern "C" entry point (hook, filter, directive
// handler) runs its C++ body through one of these, so nothing thrown ever
// unwinds into httpd.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <exception>
#include <type_traits>

namespace cmi::httpd {

// Logs an exception that reached a request barrier, with the transaction id.
void log_escaped_exception(request_rec* r, const module& m, const char* where,
                           const char* what) noexcept;
// Logs an exception that reached a server barrier (`s` may be nullptr: pre_config).
void log_server_exception(const server_rec* s, const module& m, const char* where, int level,
                          const char* what) noexcept;

// Hooks: an exception becomes 500, logged with the transaction id.
template <class F>
int hook_barrier(request_rec* r, const module& m, const char* where, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        log_escaped_exception(r, m, where, e.what());
    } catch (...) {
        log_escaped_exception(r, m, where, "unknown exception");
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

// Filters: an exception becomes APR_EGENERAL.
template <class F>
apr_status_t filter_barrier(ap_filter_t* f, const module& m, const char* where, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        log_escaped_exception(f->r, m, where, e.what());
    } catch (...) {
        log_escaped_exception(f->r, m, where, "unknown exception");
    }
    return APR_EGENERAL;
}

// Server-level hooks (pre_config, post_config, check_config, child_init,
// monitor, and callbacks of the parent such as apr's other-child maintenance):
// an exception is logged against `s` and the hook returns `failed` (a void
// hook just returns). The default failure, HTTP_INTERNAL_SERVER_ERROR, stops
// httpd from starting — fail closed — and is logged at emerg; a void hook's
// (a child goes on without the part that failed) at crit; any other at error.
template <class F>
auto server_barrier(const server_rec* s, const module& m, const char* where, F&& body,
                    int failed = HTTP_INTERNAL_SERVER_ERROR) noexcept -> decltype(body()) {
    using R = decltype(body());
    const int level = std::is_void_v<R>                      ? APLOG_CRIT
                      : failed == HTTP_INTERNAL_SERVER_ERROR ? APLOG_EMERG
                                                             : APLOG_ERR;
    try {
        return body();
    } catch (const std::exception& e) {
        log_server_exception(s, m, where, level, e.what());
    } catch (...) {
        log_server_exception(s, m, where, level, "unknown exception");
    }
    if constexpr (!std::is_void_v<R>) return static_cast<R>(failed);
}

// Directive handlers: an exception becomes the configuration error message.
template <class F>
const char* directive_barrier(cmd_parms* cmd, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", e.what(), nullptr);
    } catch (...) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": internal error", nullptr);
    }
}

}  // namespace cmi::httpd
