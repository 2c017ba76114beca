"""The Debian package: lintian-clean, installs into the system apache2, the four modules
enable with a2enmod, the shipped example configuration serves one request per module as
documented, and purging leaves no module file behind."""
import glob
import gzip
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SOURCE_DIR, run

sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))
from cmi_e2e.ports import free_ports  # noqa: E402

PKG = "libapache2-mod-cmi"
MODULES = ["cmi_tls", "cmi_auth", "cmi_audit", "cmi_content"]
STOCK = ["mpm_event", "authz_core", "authz_host", "authz_user", "authn_core", "authn_file", "mime", "alias", "dir",
         "ssl", "socache_shmcb", "dav", "dav_fs", "cgid", "status", "env"]
# a2enmod's dependencies (# Depends: in the .load files)
DEPENDS = {"cmi_tls": {"ssl"}, "cmi_auth": {"ssl", "socache_shmcb", "authn_core", "authn_file"},
           "cmi_audit": set(), "cmi_content": {"socache_shmcb"}}
LEFTOVERS = ["/usr/lib/apache2/modules/mod_cmi_*", "/etc/apache2/mods-available/cmi_*",
             "/etc/apache2/mods-enabled/cmi_*", "/usr/bin/cmi-*", f"/usr/share/doc/{PKG}",
             "/usr/share/man/man1/cmi-*"]

state = {}


def purge():
    subprocess.run(["apt-get", "purge", "-y", PKG], capture_output=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def enabled_modules() -> set:
    return {Path(p).stem for p in glob.glob("/etc/apache2/mods-enabled/*.load")}


@pytest.fixture(scope="module", autouse=True)
def cleanup():
    before = enabled_modules()
    yield
    # what a2enmod enabled as our dependencies goes back to how it was
    added = sorted(enabled_modules() - before - set(MODULES))
    if added:
        subprocess.run(["a2dismod", "-q", "-f", *added], capture_output=True)
    proc = state.get("httpd")
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    purge()
    if state.get("root"):
        shutil.rmtree(state["root"], ignore_errors=True)


def test_lintian_reports_no_errors(deb):
    out = subprocess.run(["lintian", "--fail-on", "error", str(deb)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not [l for l in out.stdout.splitlines() if l.startswith("E:")], out.stdout


def test_apt_get_install_and_a2enmod(deb):
    purge()  # a leftover of an interrupted run
    run(["apt-get", "install", "-y", "--no-install-recommends", f"./{deb.name}"], cwd=deb.parent,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    files = run(["dpkg", "-L", PKG]).stdout.split()
    for m in MODULES:
        assert f"/usr/lib/apache2/modules/mod_{m}.so" in files
        assert f"/etc/apache2/mods-available/{m}.load" in files
        assert f"/etc/apache2/mods-available/{m}.conf" in files
        assert not os.path.exists(f"/etc/apache2/mods-enabled/{m}.load"), "installed enabled (--noenable)"
    for tool in ("cmi-sign", "cmi-audit", "cmi-htdigest"):
        assert f"/usr/bin/{tool}" in files
        assert f"/usr/share/man/man1/{tool}.1.gz" in files
    assert f"/usr/share/doc/{PKG}/directives.md.gz" in files or f"/usr/share/doc/{PKG}/directives.md" in files
    assert f"/usr/share/doc/{PKG}/performance.md.gz" in files, "performance.md is shipped"
    # the example and the reference ingest as the recipe copies them: uncompressed, executable
    assert f"/usr/share/doc/{PKG}/examples/cmc-example.conf" in files
    ingest = f"/usr/share/doc/{PKG}/examples/cmi-ingest"
    assert ingest in files and os.access(ingest, os.X_OK)
    # the audit log's own directory and the rule that keeps it
    assert "/etc/logrotate.d/cmi-audit" in files
    st = os.stat("/var/log/apache2/cmi")
    assert (oct(st.st_mode & 0o777), st.st_uid) == ("0o750", 0)
    # the default spool and snapshot directories: the httpd user's only
    for d in ("/var/lib/cmi/spool", "/var/lib/cmi/snapshots"):
        st = os.stat(d)
        assert (oct(st.st_mode & 0o777), st.st_uid) == ("0o700", pwd.getpwnam("www-data").pw_uid), d
    # a2enmod's dependency lines, before the first directive
    for m, deps in DEPENDS.items():
        head = Path(f"/etc/apache2/mods-available/{m}.load").read_text().split("LoadModule")[0]
        found = {d for line in head.splitlines() if line.startswith("# Depends:") for d in line.split()[2:]}
        assert found == deps, (m, found)
        for line in Path(f"/etc/apache2/mods-available/{m}.conf").read_text().splitlines():
            assert not line.startswith("<IfModule"), f"{m}.conf: no <IfModule> around policy"
    # what the docs link to: the manifest schema and example, beside them
    assert any(f.startswith(f"/usr/share/doc/{PKG}/schema/cmi-manifest-1.xsd") for f in files), files
    assert any(f.startswith(f"/usr/share/doc/{PKG}/examples/manifest.xml") for f in files), files
    run(["a2enmod", *MODULES])
    for m in MODULES:
        assert os.path.islink(f"/etc/apache2/mods-enabled/{m}.load")
        for d in DEPENDS[m]:
            assert os.path.islink(f"/etc/apache2/mods-enabled/{d}.load"), f"a2enmod {m} enables {d}"


def test_logrotate_rule_keeps_the_audit_log_and_apache2s_rule_does_not_take_it():
    rule = Path("/etc/logrotate.d/cmi-audit").read_text()
    log = "/var/log/apache2/cmi/cmi-audit.log"
    assert rule.split("{")[0].split()[-1] == log
    assert re.search(r"^\s*rotate -1$", rule, re.M) and re.search(r"^\s*delaycompress$", rule, re.M)
    assert "invoke-rc.d apache2 reload" in rule and "copytruncate\n" not in rule.replace("nocopytruncate", "")
    # the example logs there by default
    assert f"Define CMI_LOG {log.rsplit('/', 1)[0]}" in example_conf().read_text()
    # logrotate as cron runs it (debug: nothing is done): our rule takes the file, apache2's does not
    created = not os.path.exists(log)
    Path(log).touch()
    try:
        out = subprocess.run(["logrotate", "-d", "/etc/logrotate.conf"], capture_output=True, text=True)
    finally:
        if created:
            os.unlink(log)
    text = out.stdout + out.stderr
    assert not re.search(r"^error:.*(cmi|duplicate)", text, re.M), text
    blocks = {b.splitlines()[0].split()[0]: b for b in text.split("rotating pattern: ")[1:]}
    assert f"considering log {log}" in blocks[log]
    assert f"considering log {log}" not in blocks.get("/var/log/apache2/*.log", ""), blocks.keys()


def test_apache2ctl_configtest():
    out = run(["apache2ctl", "configtest"])
    assert "Syntax OK" in out.stdout + out.stderr


def example_conf() -> Path:
    for p in glob.glob(f"/usr/share/doc/{PKG}/examples/cmc-example.conf*"):
        return Path(p)
    pytest.fail("the example configuration is not installed")


def pki(etc: Path):
    def ossl(*a):
        run(["openssl", *a])
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", etc / "ca.key", "-out", etc / "ca.pem", "-days", "2",
         "-subj", "/CN=install test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, cn, ext in (("server", "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth"),
                          ("client", "provider-a", "extendedKeyUsage=clientAuth,emailProtection")):
        ossl("req", *ec, "-keyout", etc / f"{name}.key", "-out", etc / f"{name}.csr", "-subj", f"/CN={cn}")
        (etc / f"{name}.ext").write_text("basicConstraints=CA:FALSE\n" + ext + "\n")
        ossl("x509", "-req", "-in", etc / f"{name}.csr", "-CA", etc / "ca.pem", "-CAkey", etc / "ca.key",
             "-CAcreateserial", "-out", etc / f"{name}.pem", "-days", "2", "-extfile", etc / f"{name}.ext")
    shutil.copy(etc / "ca.pem", etc / "client-ca.pem")
    shutil.copy(etc / "ca.pem", etc / "content-ca.pem")
    ossl("genpkey", "-algorithm", "ed25519", "-out", etc / "audit-key.pem")
    ossl("pkey", "-in", etc / "audit-key.pem", "-pubout", "-out", etc / "audit-pub.pem")
    (etc / "signer-keys").mkdir()
    subprocess.run(["/usr/bin/cmi-htdigest", "-c", str(etc / "digest-users"), "CMC", "provider-b"],
                   input=b"digest secret", check=True)


def test_example_config_serves_one_request_per_module():
    # Not under pytest's 0700 tmp: the children (www-data) read and write here.
    root = Path(tempfile.mkdtemp(prefix="cmi-install-"))
    state["root"] = root
    etc, var, log, cgi, run_dir = (root / d for d in ("etc", "var", "log", "cgi", "run"))
    for d in (etc, var / "upload" / "provider-a", var / "staging" / "provider-a", var / "snapshots",
              var / "ingested", log, cgi, run_dir):
        d.mkdir(parents=True)
    for d in (root, etc, var, cgi, run_dir, log):
        d.chmod(0o755)
    pki(etc)
    for f in ("digest-users", "content-ca.pem", "client-ca.pem"):
        (etc / f).chmod(0o644)
    (var / "dav").mkdir()
    for d in ("dav", "upload/provider-a", "staging/provider-a", "snapshots", "ingested"):
        shutil.chown(var / d, "www-data", "www-data")
    shutil.copy(f"/usr/share/doc/{PKG}/examples/cmi-ingest", cgi / "ingest")
    conf_src = example_conf()
    text = gzip.open(conf_src, "rt").read() if conf_src.suffix == ".gz" else conf_src.read_text()
    (root / "cmc.conf").write_text(text)
    https, http = free_ports(2)
    loads = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in STOCK)
    (root / "httpd.conf").write_text(f"""
ServerRoot "{root}"
DefaultRuntimeDir "{run_dir}"
PidFile "{run_dir}/httpd.pid"
{loads}
# the four modules as a2enmod enabled them
IncludeOptional /etc/apache2/mods-enabled/cmi_*.load
IncludeOptional /etc/apache2/mods-enabled/cmi_*.conf
User www-data
Group www-data
ServerName localhost
# the listeners (Debian's ports.conf has them on a real system)
Listen 127.0.0.1:{https}
Listen 127.0.0.1:{http}
ErrorLog "{log}/error.log"
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot "{root}/htdocs"
ScriptSock "{run_dir}/cgid.sock"
DavLockDB "{var}/dav/lock"
SSLSessionCache "shmcb:{run_dir}/ssl_scache(512000)"
<Directory />
    Require all denied
</Directory>
Include "{root}/cmc.conf"
""")
    (root / "htdocs").mkdir()
    defines = []
    for k, v in (("CMI_SERVER_NAME", "localhost"), ("CMI_HTTPS_PORT", https), ("CMI_ETC", etc),
                 ("CMI_VAR", var), ("CMI_LOG", log), ("CMI_CGI", cgi)):
        defines += ["-C", f"Define {k} {v}"]
    cmd = ["/usr/sbin/apache2", *defines, "-d", str(root), "-f", str(root / "httpd.conf")]
    run([*cmd, "-t"])
    # Fails closed: the same site without mod_cmi_auth (a forgotten a2enmod) does not start.
    without = root / "without-auth.conf"
    without.write_text((root / "httpd.conf").read_text().replace(
        "IncludeOptional /etc/apache2/mods-enabled/cmi_*.load",
        "\n".join(f"Include /etc/apache2/mods-enabled/{m}.load" for m in MODULES if m != "cmi_auth")))
    out = subprocess.run(["/usr/sbin/apache2", *defines, "-d", str(root), "-f", str(without), "-t"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "Invalid command 'CMIAuth" in out.stderr, out.stderr
    proc = subprocess.Popen([*cmd, "-DFOREGROUND"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(log / "stderr.log", "wb"))
    state["httpd"] = proc
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", https), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, "".join(p.read_text() for p in (log / "stderr.log", log / "error.log")
                                                if p.exists())
            time.sleep(0.05)

    def curl(*args):
        out = run(["curl", "-sS", "-o", str(root / "body"), "-D", "-", "--cacert", str(etc / "ca.pem"), *args])
        lines = out.stdout.splitlines()
        lines = lines[max(i for i, l in enumerate(lines) if l.startswith("HTTP/")):]  # after 100 Continue
        status = int(lines[0].split()[1])
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        return status, headers, (root / "body").read_bytes()

    # mod_cmi_tls: plain HTTP to a CMI location is refused before authentication.
    status, headers, body = curl(f"http://127.0.0.1:{http}/cmi/upload/a.txt")
    assert status == 403 and json.loads(body)["type"] == "tag:mod-cmi,2026:tls-required", body
    assert "www-authenticate" not in headers

    base = f"https://localhost:{https}/cmi/upload/provider-a"
    # mod_cmi_auth: over TLS without credentials, 401 with a Digest challenge.
    status, headers, body = curl(f"{base}/a.txt")
    assert status == 401 and json.loads(body)["type"] == "tag:mod-cmi,2026:authentication-required", body
    assert headers["www-authenticate"].startswith("Digest ")

    client = ["--cert", str(etc / "client.pem"), "--key", str(etc / "client.key")]
    payload = root / "song.txt"
    payload.write_text("a song\n")
    # mod_cmi_content: an unsigned upload is refused.
    status, headers, body = curl(*client, "-T", str(payload), f"{base}/song.txt")
    assert status == 400 and json.loads(body)["type"] == "tag:mod-cmi,2026:signature-required", body
    assert not (var / "upload" / "provider-a" / "song.txt").exists()
    # ... a signed one (cmi-sign from the package) is stored.
    sig = run(["/usr/bin/cmi-sign", "cms", "--cert", etc / "client.pem", "--key", etc / "client.key",
               payload]).stdout.strip()
    status, headers, body = curl(*client, "-H", sig, "-T", str(payload), f"{base}/song.txt")
    assert status == 201, body
    assert (var / "upload" / "provider-a" / "song.txt").read_text() == "a song\n"

    # mod_cmi_audit: a transaction id and a signed receipt; the log verifies with cmi-audit.
    assert headers.get("cmi-transaction-id")
    assert headers.get("cmi-receipt", "").startswith("txid=")
    audit_log = log / "cmi-audit.log"
    def ended():  # the end record is written after the response, in log_transaction
        return any(r.get("txid") == headers["cmi-transaction-id"] and r.get("ev") == "end"
                   for r in map(json.loads, audit_log.read_text().splitlines()))
    for _ in range(200):
        if ended():
            break
        time.sleep(0.05)
    assert ended(), audit_log.read_text()
    run(["/usr/bin/cmi-audit", "verify", audit_log])
    run(["/usr/bin/cmi-audit", "receipt", "--key", etc / "audit-pub.pem", headers["cmi-receipt"], audit_log])

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    errors = [l for l in (log / "error.log").read_text().splitlines() if ":error]" in l or ":emerg]" in l]
    assert errors == [], errors


def test_purge_leaves_no_module_files():
    run(["apt-get", "purge", "-y", PKG], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    left = [p for pattern in LEFTOVERS for p in glob.glob(pattern)]
    assert left == [], left
    assert subprocess.run(["dpkg", "-s", PKG], capture_output=True).returncode != 0
