"""Starts the distribution's httpd from a private configuration on 127.0.0.1."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from cmi_e2e.config import harness_config
from cmi_e2e.ports import free_port, free_ports  # noqa: F401 (free_port: for the importers of this module)

STOCK_MODULES = [
    "mpm_event", "authz_core", "authz_host", "authn_core", "mime", "dir", "alias",
    "headers", "env", "setenvif", "ssl", "socache_shmcb", "dav", "dav_fs", "cgid",
    "auth_basic", "authn_file", "authz_user", "access_compat", "http2",
    "socache_redis", "socache_memcache", "status",
]
OUR_MODULES = ["tls", "auth", "audit", "content"]

# Error-log levels a test fails on unless it said it expects them.
SANITIZER = re.compile(r"(AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|runtime error:)")
ERROR_LEVELS = re.compile(r"\] \[[a-z0-9_]+:(error|crit|alert|emerg)\] ")
# httpd's own, not ours: the event MPM logs this when a keep-alive connection
# is closed under it by a graceful restart or stop (a race inside the MPM).
HTTPD_BENIGN = [re.compile(r"AH03093: process_socket: apr_pollset_add failure for keep alive")]


def child_processes(parent: int) -> list[dict]:
    """The processes whose parent is `parent`: /proc/<pid>/status as a dict (plus "pid")."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            status = open(f"/proc/{p}/status").read()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(parent):
            out.append({**{k: v.strip() for k, v in fields.items()}, "pid": int(p)})
    return out


def terminate(proc: subprocess.Popen, timeout: float, kill=None) -> None:
    """SIGTERM, and after `timeout` seconds `kill()` (default: SIGKILL to proc) if it has not exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        (kill or proc.kill)()
        proc.wait(timeout=10)


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Httpd:
    """One httpd: a plain listener and a TLS listener, config snippets per test module."""

    def __init__(self, pki, build_dir: Path, httpd_bin: str):
        self.pki = pki
        self.build_dir = Path(build_dir)
        self.httpd_bin = httpd_bin
        self.config = harness_config(self.build_dir)
        self.stock_dir = self.config.httpd_modules
        self.root = Path(tempfile.mkdtemp(prefix="cmi-e2e-"))
        self.root.chmod(0o755)  # the children (the httpd user) serve files from here
        for d in ("conf", "logs", "run", "htdocs", "dav", "var"):
            (self.root / d).mkdir()
        self.docroot = self.root / "htdocs"
        self.dav_dir = self.root / "dav"
        self.user = self.group = None
        if os.geteuid() == 0:
            self.user, self.group = self.config.httpd_user, self.config.httpd_group
            if not self.user:
                raise RuntimeError("run as root, the e2e httpd needs a user: reconfigure --with-httpd-user=USER")
            for d in ("dav", "var"):
                shutil.chown(self.root / d, self.user, self.group)
        # Decoupled Upload snapshots go to this server's own directory: the compiled-in
        # default (LOCALSTATEDIR/lib/cmi/snapshots) is one path for every build on the
        # machine. Beside the root, not in it: tests use the root as a staging root.
        # None: the default (test_snapshot_default.py).
        self.own_snapshot_dir = Path(tempfile.mkdtemp(prefix="cmi-e2e-snapshots-"))
        self.snapshot_dir = self.own_snapshot_dir
        if self.user:
            shutil.chown(self.snapshot_dir, self.user, self.group)
        self.http_port, self.https_port = free_ports(2)
        self.error_log = self.root / "logs" / "error.log"
        self.conf_file = self.root / "conf" / "httpd.conf"
        self.proc = None
        self.running_config = None
        self.server_snippet = ""
        self.snippet = ""
        self.vhost_snippet = ""
        self.expected_errors: list[re.Pattern] = []
        self._stderr_seen = 0

    # --- configuration ---------------------------------------------------------
    def source_tool(self, name: str) -> Path:
        """A script from tools/ in the source tree."""
        return Path(os.environ.get("CMI_SOURCE_DIR", Path(__file__).resolve().parents[3])) / "tools" / name

    def our_module(self, name: str) -> Path:
        return self.build_dir / "modules" / f"mod_cmi_{name}" / ".libs" / f"mod_cmi_{name}.so"

    def config_text(self, server_snippet=None, snippet=None, vhost_snippet=None) -> str:
        server_snippet = self.server_snippet if server_snippet is None else server_snippet
        snippet = self.snippet if snippet is None else snippet
        vhost_snippet = self.vhost_snippet if vhost_snippet is None else vhost_snippet
        loads = [f'LoadModule {m}_module "{self.stock_dir}/mod_{m}.so"' for m in STOCK_MODULES]
        loads += [f'LoadModule cmi_{m}_module "{self.our_module(m)}"'
                  for m in OUR_MODULES if self.our_module(m).exists()]
        user = f"User {self.user}\nGroup {self.group}\n" if self.user else ""
        snapshots = (f'CMIStagingSnapshotDir "{self.snapshot_dir}"'
                     if self.snapshot_dir and self.our_module("content").exists() else "")
        r, pki = self.root, self.pki
        return f"""# written by the mod_cmi e2e harness
ServerRoot "{r}"
DefaultRuntimeDir "{r}/run"
PidFile "{r}/run/httpd.pid"
{chr(10).join(loads)}
{user}
ServerName localhost
Listen 127.0.0.1:{self.http_port}
Listen 127.0.0.1:{self.https_port}
ErrorLog "{self.error_log}"
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog "{r}/logs/access.log" common
TypesConfig "{self.config.mime_types}"
DocumentRoot "{self.docroot}"
EnableMMAP Off
ScriptSock "{r}/run/cgid.sock"
DavLockDB "{r}/var/davlock"
{snapshots}
SSLSessionCache "shmcb:{r}/run/ssl_scache(512000)"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{r}/htdocs">
    Require all granted
</Directory>
Alias /dav/ "{self.dav_dir}/"
<Directory "{self.dav_dir}">
    Dav On
    Require all granted
</Directory>

<VirtualHost 127.0.0.1:{self.https_port}>
    SSLEngine on
    Protocols h2 http/1.1
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    SSLCertificateFile "{pki.server.cert}"
    SSLCertificateKeyFile "{pki.server.key}"
    SSLCACertificateFile "{pki.ca_cert}"
    # Ask for a client certificate at the handshake, enforce it per location.
    SSLVerifyClient optional
    SSLVerifyDepth 3
{vhost_snippet}
</VirtualHost>

# --- server-level snippet ---
{server_snippet}

# --- locations ---
{snippet}
"""

    def configure(self, snippet="", server_snippet="", vhost_snippet=""):
        """Use this configuration, restarting httpd only if it changed."""
        self.snippet, self.server_snippet, self.vhost_snippet = snippet, server_snippet, vhost_snippet
        if self.proc is None or self.running_config != self.config_text():
            self.restart()

    def configtest(self, snippet="", server_snippet="") -> subprocess.CompletedProcess:
        """`httpd -t` on a configuration, without touching the running server."""
        path = self.root / "conf" / "configtest.conf"
        path.write_text(self.config_text(server_snippet=server_snippet, snippet=snippet))
        return subprocess.run([self.httpd_bin, "-t", "-d", str(self.root), "-f", str(path)],
                              capture_output=True, text=True, timeout=60, env=self.environment())

    def sibling(self) -> "Httpd":
        """Another httpd of the same build, with its own root and ports."""
        return Httpd(self.pki, self.build_dir, self.httpd_bin)

    def configtest_refuses(self, *fragments, snippet="", server_snippet="") -> str:
        """`httpd -t` fails on the configuration, naming each of `fragments`; its output."""
        result = self.configtest(snippet=snippet, server_snippet=server_snippet)
        out = result.stdout + result.stderr
        assert result.returncode != 0, out
        for f in fragments:
            assert f in out, (f, out)
        return out

    # --- process -------------------------------------------------------------
    def start(self):
        text = self.config_text()
        self.conf_file.write_text(text)
        offset = self.log_size()
        self.stderr_file = open(self.root / "logs" / "stderr.log", "ab")
        self.proc = subprocess.Popen(
            [self.httpd_bin, "-d", str(self.root), "-f", str(self.conf_file), "-DFOREGROUND"],
            stdout=self.stderr_file, stderr=self.stderr_file, start_new_session=True,
            env=self.environment())
        ok = wait_for_port(self.http_port, self.proc) and wait_for_port(self.https_port, self.proc)
        # The listeners accept before the MPM has set its signal handlers: a
        # SIGUSR1/SIGHUP sent then would kill httpd. AH00489 comes after them.
        ok = ok and self.wait_for_log("resuming normal operations", offset)
        if not ok:
            self.stop()
            raise RuntimeError("httpd did not start:\n" + self.tail_logs())
        self.running_config = text

    def environment(self) -> dict:
        """httpd's environment; with a sanitizer build, the ASan/UBSan runtimes preloaded."""
        env = dict(os.environ)
        preload = os.environ.get("CMI_HTTPD_PRELOAD", "")
        if preload:
            env["LD_PRELOAD"] = preload
            # httpd frees its pools at exit, not every malloc: leaks are checked by valgrind runs.
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        return env

    stop_timeout = 15  # seconds for a clean stop before SIGKILL

    def stop(self):
        if self.proc is None:
            return
        terminate(self.proc, self.stop_timeout, kill=lambda: os.killpg(self.proc.pid, signal.SIGKILL))
        self.proc = None
        self.running_config = None
        self.stderr_file.close()

    def restart(self):
        self.stop()
        self.start()

    def crash_restart(self):
        """Kills the whole process tree at once (SIGKILL: no cleanup runs, as in a
        crash or an OOM kill), then starts httpd again from the same root."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None
        self.running_config = None
        self.stderr_file.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the children may still hold the listeners for a moment
            try:
                for port in (self.http_port, self.https_port):
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        self.start()

    def forget_replay_tables(self):
        """Stops httpd and removes the default local replay tables, so that the
        next start makes new, empty ones (a test that damaged them cleans up)."""
        self.stop()
        for name in ("cmi-auth-replay.cache", "cmi-content-replay.cache"):
            for suffix in ("", ".kept"):  # as at a first start: no table was ever kept there
                (self.root / "run" / (name + suffix)).unlink(missing_ok=True)

    def signal_restart(self, graceful: bool = True, timeout: float = 30):
        """A graceful (SIGUSR1) or plain (SIGHUP) restart of the running httpd, as
        `apachectl graceful|restart` does; returns once the new generation has
        read its configuration and both listeners accept connections again."""
        offset = self.log_size()
        self.proc.send_signal(signal.SIGUSR1 if graceful else signal.SIGHUP)
        deadline = time.monotonic() + timeout
        # mpm notice AH00489 ("... configured -- resuming normal operations")
        # is written whatever the LogLevel once the restart is done.
        if not self.wait_for_log("resuming normal operations", offset, timeout):
            raise RuntimeError("httpd did not come back from the restart:\n" + self.tail_logs())
        for port in (self.http_port, self.https_port):
            if not wait_for_port(port, self.proc, max(1.0, deadline - time.monotonic())):
                raise RuntimeError("httpd does not accept connections after the restart:\n" + self.tail_logs())

    def cleanup(self):
        self.stop()
        if os.environ.get("CMI_KEEP_E2E_ROOT") is None:
            shutil.rmtree(self.root, ignore_errors=True)
            shutil.rmtree(self.own_snapshot_dir, ignore_errors=True)

    # --- logs ----------------------------------------------------------------
    def tail_logs(self, lines=30) -> str:
        out = []
        for name in ("stderr.log", "error.log"):
            p = self.root / "logs" / name
            if p.exists():
                out.append(f"--- {name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def log_size(self) -> int:
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def log_since(self, offset: int) -> str:
        if not self.error_log.exists():
            return ""
        with open(self.error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def wait_for_log(self, text: str, offset: int, timeout: float = 20) -> bool:
        """Waits until `text` is in the error log after `offset` (False if httpd exits or time runs out)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_since(offset):
            if (self.proc is not None and self.proc.poll() is not None) or time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def expect_error(self, pattern: str):
        """This test expects error-log lines matching `pattern` (a regex)."""
        self.expected_errors.append(re.compile(pattern))

    def unexpected_errors(self, offset: int) -> list[str]:
        lines = [line for line in self.log_since(offset).splitlines()
                 if ERROR_LEVELS.search(line)
                 and not any(p.search(line) for p in [*self.expected_errors, *HTTPD_BENIGN])]
        return lines + self.sanitizer_reports()

    def sanitizer_reports(self) -> list[str]:
        """ASan/UBSan findings httpd printed to stderr since the last look."""
        path = self.root / "logs" / "stderr.log"
        if not path.exists():
            return []
        with open(path, "rb") as f:
            f.seek(self._stderr_seen)
            text = f.read().decode(errors="replace")
            self._stderr_seen = f.tell()
        return [line for line in text.splitlines() if SANITIZER.search(line)]

    # --- URLs ----------------------------------------------------------------
    def url(self, path: str, tls: bool = True, host: str = "localhost") -> str:
        if tls:
            return f"https://{host}:{self.https_port}{path}"
        return f"http://{host}:{self.http_port}{path}"
