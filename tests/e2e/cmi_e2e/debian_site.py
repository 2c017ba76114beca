"""A private Debian apache2 with libapache2-mod-cmi "installed", for running the docs as written.

Everything lives under one private root: every system path the docs name (/etc/apache2,
/var/lib/cmi, /var/log/apache2, /usr/lib/cgi-bin, /usr/share/doc/libapache2-mod-cmi)
is ROOT + that path, and `relocate()` rewrites commands and files accordingly. The real
Debian tools run against it: a2enmod/a2ensite/a2enconf and apache2ctl honour
APACHE_CONFDIR. httpd listens on 127.0.0.1 ports; a `curl` shim connects the documented
host names (cmc.example.com:443/:80, localhost:80) to them, keeping the Host header and
SNI. `systemctl`, `apt-get` and the mod_cmi tools are shims or links into the build tree.
"""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cmi_e2e.httpd import ERROR_LEVELS, SANITIZER, wait_for_port
from cmi_e2e.ports import free_ports

PKG = "libapache2-mod-cmi"
# What `apt-get install apache2` enables on Debian 12.
DEBIAN_MODS = ["mpm_event", "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_core",
               "authz_host", "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime", "negotiation",
               "reqtimeout", "setenvif", "status"]
DEBIAN_CONFS = ["charset", "localized-error-pages", "other-vhosts-access-log", "security", "serve-cgi-bin"]
# System paths the docs use; each lives under the private root here.
RELOCATED = ["/usr/share/doc/" + PKG, "/etc/apache2", "/etc/logrotate.d", "/var/lib/cmi", "/var/log/apache2",
             "/usr/lib/cgi-bin"]
SERVER_NAME = "cmc.example.com"


class DebianSite:
    def __init__(self, source_dir: Path, build_dir: Path):
        if os.geteuid() != 0:
            raise RuntimeError("the Debian recipe runs as root (install -o www-data, a2enmod, apache2ctl)")
        self.source = Path(source_dir)
        self.build = Path(build_dir)
        self.root = Path(tempfile.mkdtemp(prefix="cmi-site-"))
        self.root.chmod(0o755)
        self.http_port, self.https_port = free_ports(2)
        self.confdir = self.root / "etc/apache2"
        self.log_dir = self.root / "var/log/apache2"
        self.run_dir = self.root / "run/apache2"
        self.bin = self.root / "shims"
        self.error_log = self.log_dir / "error.log"
        self.expected_errors = []
        # (the lock directory is made by apache2ctl, owned by www-data, as on Debian)
        for d in (self.log_dir, self.run_dir, self.root / "run/lock", self.root / "var/lib/apache2", self.bin,
                  self.root / "var/www/html", self.root / "admin", self.root / "provider"):
            d.mkdir(parents=True, exist_ok=True)
        self._install_apache2()
        self._install_package()
        self._shims()

    # --- paths ------------------------------------------------------------------
    def relocate(self, text: str) -> str:
        for p in RELOCATED:
            text = text.replace(p, f"{self.root}{p}")
        return text

    def path(self, system_path: str) -> Path:
        """The private copy of a system path."""
        return Path(self.relocate(system_path))

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        env.update(PATH=f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin", APACHE_CONFDIR=str(self.confdir),
                   APACHE_STATE_DIRECTORY=str(self.root / "var/lib/apache2"), LANG="C")
        env.update(extra)
        return env

    # --- apache2 as Debian installs it ---------------------------------------------
    def _install_apache2(self):
        ignore = shutil.ignore_patterns("*-enabled", "cmi_*", "cmc*")
        shutil.copytree("/etc/apache2", self.confdir, ignore=ignore, symlinks=True)
        for d in ("mods", "conf", "sites"):
            (self.confdir / f"{d}-enabled").mkdir()
        httpd = self.bin / "apache2"
        (self.confdir / "envvars").write_text(f"""# private Debian envvars (tests/e2e/cmi_e2e/debian_site.py)
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE={self.run_dir}/apache2.pid
export APACHE_RUN_DIR={self.run_dir}
export APACHE_LOCK_DIR={self.root}/run/lock/apache2
export APACHE_LOG_DIR={self.log_dir}
export APACHE_HTTPD={httpd}
export LANG=C
""")
        (self.confdir / "ports.conf").write_text(f"""# private ports; the curl shim connects cmc.example.com:80/443 here
Listen 127.0.0.1:{self.http_port}
<IfModule ssl_module>
    Listen 127.0.0.1:{self.https_port}
</IfModule>
Define CMI_HTTPS_PORT {self.https_port}
""")
        site = self.confdir / "sites-available/000-default.conf"
        site.write_text(site.read_text().replace("*:80", f"*:{self.http_port}")
                        .replace("/var/www/html", str(self.root / "var/www/html")))
        rule = Path("/etc/logrotate.d/apache2")  # apache2's own rule (/var/log/apache2/*.log)
        if rule.exists():
            self.path(str(rule)).parent.mkdir(parents=True, exist_ok=True)
            self.path(str(rule)).write_text(self.relocate(rule.read_text()))
        preload = os.environ.get("CMI_HTTPD_PRELOAD", "")
        env = ""
        if preload:  # a sanitizer build: the runtimes preloaded, as the e2e harness does
            env = (f"export LD_PRELOAD='{preload}'\n"
                   "export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}\n"
                   "export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}\n")
        httpd.write_text(f"#!/bin/sh\n{env}exec {os.environ.get('CMI_HTTPD', '/usr/sbin/apache2')} \"$@\"\n")
        httpd.chmod(0o755)
        self.admin("a2enmod -q " + " ".join(DEBIAN_MODS) + " && a2enconf -q " + " ".join(DEBIAN_CONFS)
                   + " && a2ensite -q 000-default")

    def _install_package(self):
        """What the .deb installs (debian/*), relocated; the modules from the build tree."""
        deb = self.source / "debian"
        mods = self.confdir / "mods-available"
        for line in (deb / f"{PKG}.apache2").read_text().split("\n"):
            if line.startswith("mod "):
                src = self.source / line.split()[1]
                text = self.relocate(src.read_text())
                for m in ("tls", "auth", "audit", "content"):
                    text = text.replace(f"/usr/lib/apache2/modules/mod_cmi_{m}.so",
                                        str(self.build / f"modules/mod_cmi_{m}/.libs/mod_cmi_{m}.so"))
                (mods / src.name).write_text(text)
        dirs = deb / f"{PKG}.dirs"
        for d in dirs.read_text().split() if dirs.exists() else []:
            self.path("/" + d).mkdir(parents=True, exist_ok=True)
        log_dir = self.path("/var/log/apache2/cmi")  # as debian/*.postinst leaves it
        shutil.chown(log_dir, "root", "adm")
        log_dir.chmod(0o750)
        examples = self.path(f"/usr/share/doc/{PKG}/examples")
        examples.mkdir(parents=True, exist_ok=True)
        for line in (deb / f"{PKG}.examples").read_text().split():
            src = self.source / line
            dest = examples / src.name
            dest.write_text(self.relocate(src.read_text()))
            shutil.copymode(src, dest)
        for rule in deb.glob(f"{PKG}*.logrotate"):
            name = rule.name[len(PKG) + 1:-len(".logrotate")] or PKG
            dest = self.path("/etc/logrotate.d") / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(self.relocate(rule.read_text()))

    def _shims(self):
        tools = {"cmi-sign": self.build / "tools/cmi-sign", "cmi-audit": self.build / "tools/cmi-audit/cmi-audit",
                 "cmi-htdigest": self.source / "tools/cmi-htdigest"}
        for name, target in tools.items():
            (self.bin / name).symlink_to(target)
        connect = " ".join(f"--connect-to {host}:{port}:127.0.0.1:{to}" for host, port, to in (
            (SERVER_NAME, 443, self.https_port), (SERVER_NAME, 80, self.http_port), ("localhost", 80, self.http_port)))
        self._script("curl", f"""# The documented host names, connected to this site's private ports.
# CMI_DOCTEST_CURL_FAIL=1: an HTTP error fails the command (a step meant to succeed).
exec /usr/bin/curl {connect} ${{CMI_DOCTEST_CURL_FAIL:+--fail-with-body}} "$@"
""")
        self._more_shims()
        self._script("apt-get", f"""# The package is already in the private root (tests/e2e/cmi_e2e/debian_site.py).
case "$*" in
    "install ./{PKG}_"*.deb) exit 0 ;;
esac
echo "apt-get shim: '$*' is not part of the recipe" >&2; exit 1
""")
        self._script("systemctl", f"""# systemd's verbs for apache2 (apache2.service), done with apache2ctl; waits for
# the new generation. restart is stop + start, as systemd does it (not apache2ctl's SIGHUP).
log={self.error_log}
pidfile={self.run_dir}/apache2.pid
before=$(stat -c %s "$log" 2>/dev/null || echo 0)
stop() {{
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    apache2ctl stop || return 1
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    echo "systemctl shim: apache2 did not stop" >&2; return 1
}}
case "$1" in
    reload) apache2ctl graceful ;;
    restart) stop && APACHE_STARTED_BY_SYSTEMD=true apache2ctl start ;;
    start) APACHE_STARTED_BY_SYSTEMD=true apache2ctl start ;;
    *) echo "systemctl shim: '$*' is not supported" >&2; exit 1 ;;
esac
rc=$?
[ "$rc" = 0 ] || exit "$rc"
for _ in $(seq 300); do
    tail -c +$((before + 1)) "$log" 2>/dev/null | grep -q "resuming normal operations" && exit 0
    sleep 0.05
done
echo "systemctl shim: apache2 did not come back" >&2; exit 1
""")

    def _more_shims(self):
        self._script("invoke-rc.d", """# Debian's invoke-rc.d for apache2 (logrotate's postrotate), via the systemctl shim.
[ "$1" = apache2 ] || { echo "invoke-rc.d shim: '$*' is not supported" >&2; exit 1; }
exec systemctl "$2" apache2
""")
        self._script("logger", f"""# syslog, into a file of the private root
cat >> {self.root}/var/log/syslog
""")

    def _script(self, name: str, body: str):
        path = self.bin / name
        path.write_text("#!/bin/bash\n" + body)
        path.chmod(0o755)

    # --- running things -----------------------------------------------------------
    def admin(self, script: str, cwd: Path = None, stdin: str = None, **env) -> subprocess.CompletedProcess:
        """Runs a shell script as the administrator would, paths relocated; fails on the first error."""
        out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", self.relocate(script)], cwd=cwd or self.root / "admin",
                             env=self.env(**env), input=stdin, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise AssertionError(f"exit {out.returncode}:\n{script}\n--- stdout\n{out.stdout[-3000:]}\n"
                                 f"--- stderr\n{out.stderr[-3000:]}\n" + self.tail_log())
        return out

    def run(self, script: str, cwd: Path = None, strict: bool = False, **env) -> subprocess.CompletedProcess:
        """Runs a command, whatever its exit status (strict: stop at the first failing command)."""
        shell = ["bash", "-e", "-o", "pipefail"] if strict else ["bash", "-o", "pipefail"]
        return subprocess.run([*shell, "-c", self.relocate(script)], cwd=cwd or self.root / "admin",
                              env=self.env(**env), capture_output=True, text=True, timeout=300)

    def start(self):
        """apache2 running with the stock configuration, as after `apt-get install apache2`."""
        self.admin("systemctl start apache2")
        pid = int((self.run_dir / "apache2.pid").read_text())
        self.pid = pid
        if not wait_for_port(self.http_port, _Pid(pid)):
            raise AssertionError("apache2 did not start:\n" + self.tail_log())

    def stop(self):
        pidfile = self.run_dir / "apache2.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text())
        subprocess.run(["apache2ctl", "stop"], env=self.env(), capture_output=True, timeout=60)
        for _ in range(300):
            if not _alive(pid):
                return
            time.sleep(0.05)
        os.kill(pid, 9)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        self.stop()
        if os.environ.get("CMI_KEEP_E2E_ROOT") is None:
            shutil.rmtree(self.root, ignore_errors=True)

    def tail_log(self, lines: int = 30) -> str:
        if not self.error_log.exists():
            return ""
        return "--- error.log\n" + "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])

    def unexpected_errors(self) -> list[str]:
        text = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        return [line for line in text.splitlines()
                if (ERROR_LEVELS.search(line) or SANITIZER.search(line))
                and not any(p.search(line) for p in self.expected_errors)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class _Pid:
    """What wait_for_port needs of a process: poll() is None while it runs."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self):
        return None if _alive(self.pid) else 1


def deployed_site(source_dir: Path, build_dir: Path) -> DebianSite:
    """A private site set up by docs/deployment.md's single-node recipe, run as written:
    apache2 started as after `apt-get install apache2`, then the deploy-install and
    deploy-provider blocks. site.outputs holds what each block printed."""
    from cmi_e2e import docs, recipe_inputs
    site = DebianSite(source_dir, build_dir)
    try:
        site.providers = recipe_inputs.make(site.root / "admin", site.root / "provider", SERVER_NAME)
        site.start()
        doc = Path(source_dir) / "docs" / "deployment.md"
        # the administrator's curl trusts the CMC's CA (a public CA would be in the system store)
        ca = dict(CURL_CA_BUNDLE=str(site.root / "provider" / "cmc-ca.pem"))
        site.admin_env = ca
        site.outputs = {
            "deploy-install": site.admin(docs.sh_block(doc, "deploy-install"), **ca),
            "deploy-provider": site.admin(docs.sh_block(doc, "deploy-provider"),
                                          stdin=recipe_inputs.DIGEST_PASSWORD + "\n", **ca),
        }
        return site
    except BaseException:
        site.cleanup()
        raise
