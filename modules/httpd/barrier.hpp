// The exception barrier: every extern "C" entry point (hook, filter, directive
// handler) runs its C++ body through one of these, so nothing thrown ever
// unwinds into httpd.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <exception>

namespace cmi::httpd {

// Logs an exception that reached a barrier, with the transaction id.
void log_escaped_exception(request_rec* r, const module& m, const char* where,
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
