// The logger process: the one writer of the audit log, a child of the httpd
// parent as mod_cgid's daemon is. Started in post_config (after the start-up
// checks), restarted by the parent if it dies (apr "other child"), stopped
// by a pconf cleanup before the next generation: on a restart it finishes
// its batch and leaves the rest of the ring to its successor; when httpd
// stops it writes and syncs everything left first.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <apr_thread_proc.h>

namespace cmi::audit {

class AuditLog;

class LoggerProcess {
public:
    LoggerProcess(AuditLog& log, apr_pool_t* pconf) : log_(log), pconf_(pconf) {}
    // Forks the logger; throws std::runtime_error if it cannot.
    void start();
    // Asks it to stop and waits for it (SIGKILL after a while).
    void stop(bool draining);
    pid_t pid() const { return proc_.pid; }

private:
    static void maintenance(int reason, void* data, int status);
    [[noreturn]] void run_child();

    AuditLog& log_;
    apr_pool_t* pconf_;
    apr_proc_t proc_{};
    bool registered_ = false;
};

}  // namespace cmi::audit
