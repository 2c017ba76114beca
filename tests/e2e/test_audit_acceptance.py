"""mod_cmi_audit: the acceptance runs of issue 3 against a real httpd.

10,000 requests over 32 connections; wrk across a graceful restart; an audit
log on a tmpfs that fills up; a receipt checked with the OpenSSL recipe of
docs/audit-log.md; no secrets in records."""
import base64
import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from urllib3.util.retry import Retry

from cmi_e2e.audit import cmi_audit, operation_locations, read_records, records_of
from cmi_e2e.problems import assert_problem
from test_audit_signing import make_key, rechain

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

LOCATIONS = operation_locations("    CMIAuditReceipts On\n") + """
<Location /basic>
    CMIAudit On
    AuthType Basic
    AuthName "acceptance"
    AuthUserFile "{users}"
    Require valid-user
</Location>
"""


@pytest.fixture
def server(httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp("acceptance")
    key, pub = make_key(d, "ed25519")
    users = httpd.root / "conf" / "acceptance-users"  # readable by the children
    pw = subprocess.run(["openssl", "passwd", "-apr1", "Sup3r-S3cret-Pa55"], capture_output=True,
                        text=True, check=True).stdout.strip()
    users.write_text(f"alice:{pw}\n")
    users.chmod(0o644)
    for sub in ("audit", "basic"):
        (httpd.docroot / sub).mkdir(exist_ok=True)
        (httpd.docroot / sub / "hello.txt").write_text("hello audit\n")
    log = httpd.root / "logs" / f"audit-acceptance-{d.name}.log"
    httpd.configure(LOCATIONS.format(users=users),
                    server_snippet=f'CMIAuditLog "{log}"\nCMIAuditNode acceptance\nCMIAuditSigningKey "{key}"')
    httpd.audit_log, httpd.audit_pub = log, pub
    yield httpd
    if log.exists():
        log.unlink()


def verify(server, *files):
    out = cmi_audit(server.build_dir, "verify", "--key", server.audit_pub, *(files or [server.audit_log]))
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def settle(log: Path, timeout: float = 60) -> list[dict]:
    """The records once every begin has its end (end records follow the response)."""
    deadline = time.monotonic() + timeout
    while True:
        recs = read_records(log)
        begins = sum(1 for x in recs if x["ev"] == "begin")
        ends = sum(1 for x in recs if x["ev"] == "end")
        if begins == ends or time.monotonic() > deadline:
            return recs
        time.sleep(0.1)


def events_by_txid(recs):
    by = {}
    for x in recs:
        if x["ev"] in ("begin", "end"):
            by.setdefault(x["txid"], []).append(x["ev"])
    return by


def test_ten_thousand_requests_over_32_connections(server):
    total, conns = 10_000, 32
    ca = str(server.pki.ca_cert)
    url = server.url("/audit/hello.txt")

    def connection(n):
        ids = []
        with requests.Session() as s:  # one keep-alive connection
            # The event MPM may close an idle keep-alive connection (a child
            # reaped as load drops) just as the next GET goes out; a real
            # client retries an idempotent request on a fresh connection.
            s.mount("https://", requests.adapters.HTTPAdapter(max_retries=Retry(total=3, connect=3, read=3, status=0, allowed_methods={"GET"})))
            for _ in range(n):
                r = s.get(url, verify=ca, timeout=60)
                assert r.status_code == 200
                ids.append(r.headers["CMI-Transaction-ID"])
        return ids

    shares = [total // conns + (1 if i < total % conns else 0) for i in range(conns)]
    with ThreadPoolExecutor(max_workers=conns) as pool:
        ids = [t for part in pool.map(connection, shares) for t in part]
    assert len(ids) == total
    assert all(UUID7.match(t) for t in ids)
    assert len(set(ids)) == total
    recs = settle(server.audit_log)
    by = events_by_txid(recs)
    assert set(by) == set(ids)
    assert all(sorted(ev) == ["begin", "end"] for ev in by.values())
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(1, len(recs) + 1))
    assert any(x["ev"] == "checkpoint" for x in recs)  # 20,000 records: CMIAuditCheckpoint 1000
    verify(server)


def wrk_counts(text: str):
    answered = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return answered, int(m.group(1)) if m else 0


def test_wrk_with_graceful_restart_loses_no_record(server):
    offset = server.log_size()
    wrk = subprocess.Popen(["wrk", "-t2", "-c32", "-d20s", server.url("/audit/hello.txt", host="127.0.0.1")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(8)
        graceful = subprocess.run([server.httpd_bin, "-d", str(server.root), "-f", str(server.conf_file),
                                   "-k", "graceful"], capture_output=True, text=True, timeout=60,
                                  env=server.environment())
        assert graceful.returncode == 0, graceful.stdout + graceful.stderr
        out, _ = wrk.communicate(timeout=120)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    assert "SIGUSR1 received.  Doing graceful restart" in server.log_since(offset)
    answered, bad = wrk_counts(out)
    assert answered > 0 and bad == 0, out
    recs = settle(server.audit_log)
    ends = [x for x in recs if x["ev"] == "end"]
    begins = [x for x in recs if x["ev"] == "begin"]
    # Every answered request has its end record; requests still in flight
    # when wrk stopped counting were answered too (one per connection at most).
    assert answered <= len(ends) <= answered + 32, (answered, len(ends))
    assert len(begins) == len(ends)
    assert all(sorted(ev) == ["begin", "end"] for ev in events_by_txid(recs).values())
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(1, len(recs) + 1))  # no gap, no duplicate
    verify(server)
    server.restart()  # a fresh generation for the next test


@pytest.fixture
def full_fs(httpd):
    """A 256 KiB tmpfs for the audit log, unmounted afterwards."""
    mnt = httpd.root / "smallfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        httpd.stop()  # it holds the log open
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()


def test_filling_filesystem_fail_closed(httpd, full_fs):
    log = full_fs / "audit.log"
    httpd.configure("<Location /dav>\n    CMIAudit On\n</Location>", server_snippet=f'CMIAuditLog "{log}"')
    httpd.expect_error(r"cmi_audit:error.*(No space left on device|begin record is missing)")
    ca = str(httpd.pki.ca_cert)
    refused = []
    lock = threading.Lock()
    results = []

    def worker(w):
        i = 0
        with requests.Session() as s:
            while True:
                with lock:
                    if len(refused) >= 40:
                        return
                name = f"fill-{w}-{i}.bin"
                i += 1
                r = s.put(httpd.url(f"/dav/{name}"), data=b"payload " * 64, verify=ca, timeout=60)
                with lock:
                    results.append((name, r))
                    if r.status_code == 503:
                        refused.append(name)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, range(8)))
    time.sleep(1)  # the end records of the last answered requests
    recs = read_records(log)
    by = events_by_txid(recs)
    done = [(n, r) for n, r in results if r.status_code == 201]
    assert done and refused
    for name, r in results:
        txid = r.headers["CMI-Transaction-ID"]
        if r.status_code == 503:
            assert_problem(r, 503, "audit-unavailable")
            assert not (httpd.dav_dir / name).exists()  # the handler never ran
            assert txid not in by
        else:
            assert r.status_code == 201, r.status_code
            assert (httpd.dav_dir / name).exists()
            assert sorted(by.get(txid, [])) == ["begin", "end"], (txid, by.get(txid))
    out = cmi_audit(httpd.build_dir, "verify", log)
    assert out.returncode == 0, out.stdout


# The OpenSSL recipe of docs/audit-log.md, run as written.
def doc_recipe(name: str) -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit-log.md").read_text()
    m = re.search(r"```sh " + re.escape(name) + r"\n(.*?)```", doc, re.S)
    assert m, f"no ```sh {name} block in docs/audit-log.md"
    return m.group(1)


def run_recipe(workdir: Path, receipt: str, pub: Path, log: Path):
    (workdir / "pub.pem").write_bytes(pub.read_bytes())
    (workdir / "audit.log").write_bytes(log.read_bytes())
    return subprocess.run(["bash", "-e", "-c", doc_recipe("receipt-openssl")], cwd=workdir,
                          env={"PATH": os.environ["PATH"], "RECEIPT": receipt},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("alg", ["ed25519", "p256"])
def test_receipt_verifies_with_the_documented_openssl_recipe(httpd, tmp_path, alg):
    key, pub = make_key(tmp_path, alg)
    log = httpd.root / "logs" / f"audit-recipe-{alg}.log"
    httpd.configure(LOCATIONS.format(users="/dev/null"), server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"')
    r = requests.put(httpd.url(f"/dav/recipe-{alg}.bin"), data=b"recipe body", verify=str(httpd.pki.ca_cert),
                     timeout=30)
    assert r.status_code in (201, 204)
    receipt = r.headers["CMI-Receipt"]
    records_of(log, r.headers["CMI-Transaction-ID"])
    work = tmp_path / "ok"
    work.mkdir()
    out = run_recipe(work, receipt, pub, log)
    assert out.returncode == 0 and re.search(r"Verified (OK|Successfully)", out.stdout), out.stdout + out.stderr
    assert "facts as logged" in out.stdout, out.stdout
    assert cmi_audit(httpd.build_dir, "receipt", "--key", pub, receipt, log).returncode == 0
    # One changed byte of the hash: the same recipe rejects it.
    h = re.search(r"hash=:([^:]+):", receipt).group(1)
    changed = bytearray(base64.b64decode(h))
    changed[5] ^= 0x01
    forged = receipt.replace(h, base64.b64encode(bytes(changed)).decode())
    work = tmp_path / "forged"
    work.mkdir()
    assert run_recipe(work, forged, pub, log).returncode != 0
    # The begin line altered in the log (and every later prev recomputed): the recipe rejects it too.
    lines = log.read_bytes().splitlines(keepends=True)
    at = next(i for i, l in enumerate(lines) if r.headers["CMI-Transaction-ID"].encode() in l and b'"begin"' in l)
    lines[at] = lines[at].replace(b'"peer":"127.0.0.1"', b'"peer":"198.51.100.7"')
    altered = tmp_path / "altered.log"
    altered.write_bytes(b"".join(rechain(lines, at)))
    work = tmp_path / "altered"
    work.mkdir()
    out = run_recipe(work, receipt, pub, altered)
    assert out.returncode != 0 and "facts as logged" not in out.stdout, out.stdout
    log.unlink()


def test_no_secrets_in_records(server):
    server.expect_error(r"AH01617: user alice: authentication failure")  # the wrong password, below
    ca = str(server.pki.ca_cert)
    password = "Sup3r-S3cret-Pa55"
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    assertion = ('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_secretassertion42">'
                 '<saml:Subject>TopSecretSubject</saml:Subject></saml:Assertion>')
    assertion_b64 = base64.b64encode(assertion.encode()).decode()
    body = b"BODY-BYTES-never-in-the-log " * 50
    ids = []
    r = requests.get(server.url("/basic/hello.txt?token=QueryS3cretToken"), auth=("alice", password),
                     headers={"Cookie": "session=CookieS3cretValue"}, verify=ca, timeout=30)
    assert r.status_code == 200
    ids.append(r.headers["CMI-Transaction-ID"])
    r = requests.get(server.url("/basic/hello.txt"), auth=("alice", "Wr0ngPassw0rdSecret"), verify=ca, timeout=30)
    assert r.status_code == 401
    ids.append(r.headers["CMI-Transaction-ID"])
    r = requests.get(server.url("/audit/hello.txt"), headers={"Authorization": f"SAML {assertion_b64}",
                                                               "Cookie": "a=CookieS3cretValue"}, verify=ca, timeout=30)
    ids.append(r.headers["CMI-Transaction-ID"])
    r = requests.put(server.url("/dav/secret-body.bin"), data=body, verify=ca, timeout=30,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status_code in (201, 204)
    ids.append(r.headers["CMI-Transaction-ID"])
    for t in ids:
        assert len(records_of(server.audit_log, t)) == 2
    text = server.audit_log.read_text()
    for secret in (password, "Wr0ngPassw0rdSecret", basic, "CookieS3cretValue", assertion_b64[:40],
                   "_secretassertion42", "TopSecretSubject", "BODY-BYTES", "QueryS3cretToken"):
        assert secret not in text, secret
    first = records_of(server.audit_log, ids[0])
    assert first[0]["auth"]["user"] == "alice" and first[0]["uri"] == "/basic/hello.txt"
    put_end = records_of(server.audit_log, ids[3])[1]
    assert put_end["request"]["bytes"] == len(body)
    verify(server)
