#include "mod_cmi_audit/logger_process.hpp"

#include "httpd/status_counters.hpp"
#include "libcmi/futex.hpp"
#include "mod_cmi_audit/audit_config.hpp"
#include "mod_cmi_audit/audit_log.hpp"
#include "mod_cmi_audit/writer_events.hpp"

#include <ap_listen.h>
#include <ap_mpm.h>
#include <mpm_common.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cmi::audit {
namespace {

// The logger process's stop request (0 run, 1 stop after this batch, 2 write
// everything first) and the word its writer sleeps on, for the signal handler.
std::atomic<int> g_stop{0};
std::atomic<std::uint32_t>* g_wake = nullptr;

extern "C" void on_signal(int sig) {
    const int want = sig == SIGTERM || sig == SIGINT ? 2 : 1;
    int cur = g_stop.load();
    while (cur < want && !g_stop.compare_exchange_weak(cur, want)) {
    }
    if (g_wake) {
        g_wake->fetch_add(1);
        futex_wake(*g_wake, 1);
    }
}

void handle(int sig, void (*fn)(int)) {
    struct sigaction sa {};
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
}

// `id`: the message's CMILOGNO.
void log_error(server_rec* s, int level, const char* id, const std::string& text) {
    ap_log_error(APLOG_MARK, level, 0, s, "%s%s", id, text.c_str());
}

bool wait_gone(pid_t pid, apr_interval_time_t max) {
    for (apr_interval_time_t waited = 0;; waited += 5000) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (waited >= max) return false;
        apr_sleep(5000);
    }
}

}  // namespace

void LoggerProcess::start() {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("cannot start the audit log writer: ") + std::strerror(errno));
    if (pid == 0) run_child();
    proc_.pid = pid;
    proc_.in = proc_.out = proc_.err = nullptr;
    apr_proc_other_child_register(&proc_, maintenance, this, nullptr, pconf_);
    registered_ = true;
}

void stop_writer_process(pid_t pid, bool draining, server_rec* s, const char* path) {
    if (pid <= 0) return;
    if (kill(pid, draining ? SIGTERM : SIGHUP) != 0 && errno == ESRCH) {
        wait_gone(pid, 0);
        return;
    }
    // A stop writes what is left (a few ms; a full ring and a slow disk
    // longer); a restart only finishes the batch in hand.
    if (wait_gone(pid, draining ? apr_time_from_sec(10) : apr_time_from_sec(3))) return;
    log_error(s, APLOG_WARNING, CMILOGNO(40008),
              "audit log " + std::string(path) + ": the log writer (pid " + std::to_string(pid) +
                  ") did not stop; killed (records it had not written stay queued for the next writer)");
    kill(pid, SIGKILL);
    wait_gone(pid, apr_time_from_sec(5));
}

pid_t LoggerProcess::detach() {
    if (registered_) apr_proc_other_child_unregister(this);  // sets registered_ (UNREGISTER)
    registered_ = false;
    const pid_t pid = proc_.pid;
    proc_.pid = 0;
    return pid;
}

void LoggerProcess::stop(bool draining) {
    stop_writer_process(detach(), draining, log_.server(), log_.path());
}

void LoggerProcess::maintenance(int reason, void* data, int status) noexcept {
    auto* self = static_cast<LoggerProcess*>(data);
    httpd::server_barrier(self->log_.server(), cmi_audit_module, "log writer maintenance",
                          [=] { self->on_event(reason, status); });
}

void LoggerProcess::on_event(int reason, int status) {
    switch (reason) {
        case APR_OC_REASON_DEATH:
        case APR_OC_REASON_LOST: {
            if (registered_) apr_proc_other_child_unregister(this);  // never twice: apr would crash
            const pid_t old = proc_.pid;
            proc_.pid = 0;
            int mpm_state = AP_MPMQ_STOPPING;
            if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) != APR_SUCCESS || mpm_state == AP_MPMQ_STOPPING) return;
            if (auto* c = httpd::StatusCounters::find(log_.server(), cmi_audit_module)) c->add("writer_restarts");
            log_error(log_.server(), APLOG_ERR, CMILOGNO(40009),
                      "audit log " + std::string(log_.path()) + ": the log writer (pid " + std::to_string(old) +
                          ") exited (status " + std::to_string(status) +
                          "); restarting it (the records it had not written are still queued)");
            start();  // a failure is logged (the barrier)
            return;
        }
        case APR_OC_REASON_RESTART:  // httpd restarts or stops: the pconf cleanup stops it
            if (registered_) apr_proc_other_child_unregister(this);
            return;
        case APR_OC_REASON_UNREGISTER:  // pconf's cleanup of the registration (or our own unregister)
            registered_ = false;
            return;
        default:
            return;
    }
}

void LoggerProcess::run_child() {
    AuditLog& log = log_;
    server_rec* s = log.server();
    int code = 0;
    try {
        g_stop.store(0);
        g_wake = &log.ring_->control().writer_wake;
        handle(SIGTERM, on_signal);
        handle(SIGINT, on_signal);
        handle(SIGHUP, on_signal);
        handle(SIGUSR1, on_signal);
        handle(SIGWINCH, SIG_IGN);
        handle(SIGPIPE, SIG_IGN);
        handle(SIGCHLD, SIG_DFL);
        sigset_t all;
        sigemptyset(&all);
        for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&all, sig);
        pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
        prctl(PR_SET_NAME, "cmi-audit-log", 0, 0, 0);
        ap_close_listeners();
        apr_pool_t* pool = nullptr;
        apr_pool_create(&pool, nullptr);
        if (ap_run_drop_privileges(pool, s) != OK) throw std::runtime_error("cannot drop privileges");
        // After the privileges are dropped (that clears it): if the parent
        // dies, write what is queued and stop.
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
        if (getppid() != log.parent_pid_) g_stop.store(2);
        int rc = pthread_mutex_lock(&log.chain_->writer_lock);
        if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&log.chain_->writer_lock);  // a writer was killed
        if (rc != 0) throw std::runtime_error(std::string("cannot take the writer lock: ") + std::strerror(rc));
        ModuleEvents events(s, log.path());
        LogWriter writer(*log.ring_, *log.chain_, log.fd_, log.writer_config(), events);
        writer.check_file();
        writer.run(g_stop);
        pthread_mutex_unlock(&log.chain_->writer_lock);
    } catch (const std::exception& e) {
        log_error(s, APLOG_CRIT, CMILOGNO(40010),
                  "audit log " + std::string(log.path()) + ": the log writer failed: " + e.what());
        code = 1;
    } catch (...) {
        code = 1;
    }
    _exit(code);  // never the parent's exit handlers or pool cleanups
}

}  // namespace cmi::audit
