// The logger process: the one writer of the audit log, a child of the httpd
// parent as mod_cgid's daemon is. Started in post_config (after the start-up
// checks), restarted by the parent if it dies (apr "other child"). When httpd
// stops, a pconf cleanup has it write and sync everything left, and waits
// for it. On a restart it keeps writing while the parent reads the new
// configuration (a Sync On request would otherwise wait through all of it),
// and the next generation's post_config stops it just before it checks the
// log and starts its own: it finishes its batch and leaves the rest of the
// ring to its successor.
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
    // A restart: the parent no longer watches it (the next generation stops it).
    pid_t detach();
    pid_t pid() const { return proc_.pid; }

private:
    static void maintenance(int reason, void* data, int status) noexcept;
    void on_event(int reason, int status);  // maintenance, behind the barrier
    [[noreturn]] void run_child();

    AuditLog& log_;
    apr_pool_t* pconf_;
    apr_proc_t proc_{};
    bool registered_ = false;
};

// Stops the writer process `pid` (a child of this process): SIGTERM when
// draining (write everything first), else SIGHUP; SIGKILL if it takes too long.
void stop_writer_process(pid_t pid, bool draining, server_rec* s, const char* path);

}  // namespace cmi::audit
