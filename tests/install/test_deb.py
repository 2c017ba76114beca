"""The Debian package: lintian-clean, installs into the system apache2, the four modules
enable with a2enmod, the shipped example configuration serves one request per module as
documented, and purging leaves no module file behind."""
import glob
import gzip
import json
import os
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
         "ssl", "socache_shmcb", "dav", "dav_fs", "cgid", "status"]
LEFTOVERS = ["/usr/lib/apache2/modules/mod_cmi_*", "/etc/apache2/mods-available/cmi_*",
             "/etc/apache2/mods-enabled/cmi_*", "/usr/bin/cmi-*", f"/usr/share/doc/{PKG}",
             "/usr/share/man/man1/cmi-*"]

state = {}


def purge():
    subprocess.run(["apt-get", "purge", "-y", PKG], capture_output=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


@pytest.fixture(scope="module", autouse=True)
def cleanup():
    yield
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
    # what the docs link to: the manifest schema and example, beside them
    assert any(f.startswith(f"/usr/share/doc/{PKG}/schema/cmi-manifest-1.xsd") for f in files), files
    assert any(f.startswith(f"/usr/share/doc/{PKG}/examples/manifest.xml") for f in files), files
    run(["a2enmod", *MODULES])
    for m in MODULES:
        assert os.path.islink(f"/etc/apache2/mods-enabled/{m}.load")


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
                          ("client", "provider-a", "extendedKeyUsage=clientAuth")):
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
    for d in (etc, var / "staging" / "provider-a", var / "spool", log, cgi, run_dir):
        d.mkdir(parents=True)
    for d in (root, etc, var, cgi, run_dir, log):
        d.chmod(0o755)
    pki(etc)
    for f in ("digest-users", "content-ca.pem", "client-ca.pem"):
        (etc / f).chmod(0o644)
    shutil.chown(var / "staging", "www-data", "www-data")
    (var / "dav").mkdir()
    shutil.chown(var / "dav", "www-data", "www-data")
    shutil.chown(var / "staging" / "provider-a", "www-data", "www-data")
    shutil.chown(var / "spool", "www-data", "www-data")
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
                 ("CMI_VAR", var), ("CMI_LOG", log), ("CMI_CGI", cgi),
                 ("CMI_LISTEN_HTTPS", f"127.0.0.1:{https}"), ("CMI_LISTEN_HTTP", f"127.0.0.1:{http}")):
        defines += ["-C", f"Define {k} {v}"]
    cmd = ["/usr/sbin/apache2", *defines, "-d", str(root), "-f", str(root / "httpd.conf")]
    run([*cmd, "-t"])
    proc = subprocess.Popen([*cmd, "-DFOREGROUND"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(log / "stderr.log", "wb"))
    state["httpd"] = proc
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", https), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, (log / "stderr.log").read_text() + (log / "error.log").read_text()
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

    base = f"https://localhost:{https}/cmi/upload"
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
    assert not (var / "staging" / "song.txt").exists()
    # ... a signed one (cmi-sign from the package) is stored.
    sig = run(["/usr/bin/cmi-sign", "cms", "--cert", etc / "client.pem", "--key", etc / "client.key",
               payload]).stdout.strip()
    status, headers, body = curl(*client, "-H", sig, "-T", str(payload), f"{base}/song.txt")
    assert status == 201, body
    assert (var / "staging" / "song.txt").read_text() == "a song\n"

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
