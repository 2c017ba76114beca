"""mod_cmi_audit (CMI §6.3): the hash-chained operation log, written by a real httpd."""
import base64
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cmi_e2e.audit import audited_page, cmi_audit, operation_locations, line_hash, read_lines, read_records, records_of, wait_for_lines
from cmi_e2e.httpd import child_processes
from cmi_e2e.problems import assert_problem

SERVER = """
CMIAuditLog "{log}"
CMIAuditNode e2e-node
"""

LOCATIONS = operation_locations() + """
<Location /audit-tls>
    CMIAudit On
    CMIRequireTLS On
</Location>
"""


@pytest.fixture
def server(httpd):
    audited_page(httpd)
    (httpd.docroot / "audit-tls").mkdir(exist_ok=True)
    (httpd.docroot / "audit-tls" / "x.txt").write_text("x\n")
    httpd.audit_log = httpd.root / "logs" / "audit.log"
    httpd.configure(LOCATIONS, server_snippet=SERVER.format(log=httpd.audit_log))
    return httpd


def get(server, path, tls=True, **kw):
    return requests.get(server.url(path, tls=tls), verify=str(server.pki.ca_cert),
                        allow_redirects=False, timeout=30, **kw)


def get_logged(server, path, **kw):
    """A GET whose two records are in the log when it returns (the end record
    is written after the response has been sent)."""
    r = get(server, path, **kw)
    if "CMI-Transaction-ID" in r.headers:
        records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    return r


def verify(server, *files):
    return cmi_audit(server.build_dir, "verify", *(files or [server.audit_log]))


def test_get_has_begin_and_end(server):
    r = get_logged(server, "/audit/hello.txt", headers={"CMI-Client-Transaction-ID": "client-7"})
    assert r.status_code == 200
    txid = r.headers["CMI-Transaction-ID"]
    recs = records_of(server.audit_log, txid)
    assert [x["ev"] for x in recs] == ["begin", "end"]
    begin, end = recs
    assert end["seq"] == begin["seq"] + 1 or end["seq"] > begin["seq"]
    for x in recs:
        assert x["v"] == 1 and x["node"] == "e2e-node" and x["op"] == "Report"
        assert x["client_txid"] == "client-7"
        assert x["method"] == "GET" and x["uri"] == "/audit/hello.txt"
        assert x["peer"] == "127.0.0.1"
        assert x["tls"]["protocol"] in ("TLSv1.2", "TLSv1.3") and x["tls"]["cipher"]
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", x["time"])
    assert begin["status"] is None and begin["request"] is None
    assert end["status"] == 200 and end["response_bytes"] == len("hello audit\n")
    assert end["duration_us"] >= 0
    assert verify(server).returncode == 0


def test_chain_is_sha256_of_previous_line(server):
    get_logged(server, "/audit/hello.txt")
    lines = read_lines(server.audit_log)
    assert len(lines) >= 2
    for before, line in zip(lines, lines[1:]):
        import json
        assert json.loads(line)["prev"] == line_hash(before)
        assert json.loads(line)["seq"] == json.loads(before)["seq"] + 1


def test_put_records_body_size_and_digest(server):
    body = bytes(range(256)) * 400
    r = requests.put(server.url("/dav/audited-put.bin"), data=body,
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code in (201, 204)
    end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])[-1]
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert end["op"] == "ContentUpload" and end["method"] == "PUT"
    assert end["request"] == {"bytes": len(body), "digest": f"sha-256=:{digest}:"}
    assert end["status"] == r.status_code


def test_chunked_put_digest(server):
    body = b"chunk-" * 10000
    r = requests.put(server.url("/dav/chunked.bin"), data=iter([body[:30000], body[30000:]]),
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code in (201, 204)
    end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])[-1]
    assert end["request"]["bytes"] == len(body)
    assert end["request"]["digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def test_refused_request_is_recorded(server):
    r = get_logged(server, "/audit-tls/x.txt", tls=False)
    assert_problem(r, 403, "tls-required")
    recs = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert [x["ev"] for x in recs] == ["begin", "end"]
    assert recs[1]["status"] == 403 and recs[0]["tls"] is None


def test_not_audited_location_writes_nothing(server):
    (server.docroot / "plain.txt").write_text("plain\n")
    before = len(read_lines(server.audit_log)) if server.audit_log.exists() else 0
    r = get(server, "/plain.txt")
    assert r.status_code == 200 and "CMI-Transaction-ID" not in r.headers
    assert len(read_lines(server.audit_log)) == before


def test_no_secrets_in_records(server):
    r = get_logged(server, "/audit/hello.txt", headers={"Authorization": "Basic c2VjcmV0OnBhc3N3b3Jk",
                                                 "Cookie": "session=topsecretcookie"})
    text = server.audit_log.read_text()
    assert r.status_code == 200
    assert "c2VjcmV0OnBhc3N3b3Jk" not in text and "topsecretcookie" not in text


def test_hostile_uri_stays_one_line(server):
    r = get_logged(server, "/audit/%22%0a%7B%22seq%22:1%7D%e2%80%ae%ff?q=%00\"x")
    assert r.status_code == 404
    recs = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert [x["ev"] for x in recs] == ["begin", "end"]
    raw = server.audit_log.read_bytes()
    assert all(32 <= b < 127 or b == 10 for b in raw)
    assert verify(server).returncode == 0


def test_concurrent_requests_one_chain(server):
    def one(i):
        r = requests.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
        assert r.status_code == 200
        return r.headers["CMI-Transaction-ID"]

    start = len(read_lines(server.audit_log)) if server.audit_log.exists() else 0
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(one, range(200)))
    assert len(set(ids)) == 200
    wait_for_lines(server.audit_log, start + 400)
    recs = read_records(server.audit_log)
    by_tx = {}
    for x in recs:
        by_tx.setdefault(x["txid"], []).append(x["ev"])
    for t in ids:
        assert sorted(by_tx[t]) == ["begin", "end"], (t, by_tx[t])
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    out = verify(server)
    assert out.returncode == 0, out.stdout + out.stderr


def test_chain_continues_across_restart(server):
    get_logged(server, "/audit/hello.txt")
    last = read_records(server.audit_log)[-1]
    server.restart()
    r = get_logged(server, "/audit/hello.txt")
    begin = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])[0]
    assert begin["seq"] == last["seq"] + 1
    assert begin["prev"] == line_hash(read_lines(server.audit_log)[last["seq"] - read_records(server.audit_log)[0]["seq"]])
    assert verify(server).returncode == 0


def test_torn_last_line_is_recovered(server):
    get_logged(server, "/audit/hello.txt")
    server.stop()
    with open(server.audit_log, "ab") as f:
        f.write(b'{"v":1,"seq":999999,"node":"torn')
    server.start()
    # httpd listens before its post_config (where recovery happens) has run.
    deadline = time.monotonic() + 10
    while not server.audit_log.read_bytes().endswith(b"\n") and time.monotonic() < deadline:
        time.sleep(0.02)
    get_logged(server, "/audit/hello.txt")
    recs = read_records(server.audit_log)
    rec = [x for x in recs if x["ev"] == "recovered"][-1]
    assert rec["recovered"]["bytes"] == len(b'{"v":1,"seq":999999,"node":"torn')
    assert rec["recovered"]["sha256"] == hashlib.sha256(b'{"v":1,"seq":999999,"node":"torn').hexdigest()
    get_logged(server, "/audit/hello.txt")
    out = verify(server)
    assert out.returncode == 0, out.stdout


# --- tampering is detected -----------------------------------------------------

@pytest.fixture
def copy_of_log(server, tmp_path):
    for _ in range(5):
        get_logged(server, "/audit/hello.txt")
    lines = read_lines(server.audit_log)
    first_seq = read_records(server.audit_log)[0]["seq"]
    return tmp_path, lines, first_seq


def write(path, lines):
    path.write_bytes(b"".join(lines))
    return path


def test_verify_passes_on_untouched_copy(server, copy_of_log):
    tmp, lines, _ = copy_of_log
    out = verify(server, write(tmp / "ok.log", lines))
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout


def test_changed_byte_fails(server, copy_of_log):
    tmp, lines, first = copy_of_log
    i = len(lines) - 4
    seq = first + i
    lines[i] = lines[i].replace(b'"GET"', b'"PUT"')
    out = verify(server, write(tmp / "t.log", lines))
    assert out.returncode == 1
    assert f"seq {seq}" in out.stdout, out.stdout


def test_deleted_line_fails(server, copy_of_log):
    tmp, lines, first = copy_of_log
    i = len(lines) - 3
    del lines[i]
    out = verify(server, write(tmp / "d.log", lines))
    assert out.returncode == 1 and f"seq {first + i}" in out.stdout, out.stdout


def test_swapped_lines_fail(server, copy_of_log):
    tmp, lines, first = copy_of_log
    i = len(lines) - 4
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    out = verify(server, write(tmp / "s.log", lines))
    assert out.returncode == 1 and f"seq {first + i}" in out.stdout, out.stdout


def test_truncated_file_fails(server, copy_of_log):
    tmp, lines, first = copy_of_log
    data = b"".join(lines)[:-10]
    (tmp / "tr.log").write_bytes(data)
    out = verify(server, tmp / "tr.log")
    assert out.returncode == 1 and "torn" in out.stdout, out.stdout


def test_rotation_verifies_across_files(server, copy_of_log):
    tmp, lines, _ = copy_of_log
    a, b = write(tmp / "a.log", lines[:4]), write(tmp / "b.log", lines[4:])
    assert verify(server, a, b).returncode == 0
    assert verify(server, b, a).returncode == 0  # merged by seq
    assert verify(server, b).returncode == 0  # continues a log not given
    assert verify(server, a, write(tmp / "c.log", lines[5:])).returncode == 1  # a line missing between


def test_show_prints_one_operation(server):
    r = get_logged(server, "/audit/hello.txt")
    txid = r.headers["CMI-Transaction-ID"]
    out = cmi_audit(server.build_dir, "show", txid, server.audit_log)
    assert out.returncode == 0
    assert len(out.stdout.splitlines()) == 2 and all(txid in l for l in out.stdout.splitlines())
    assert cmi_audit(server.build_dir, "show", "nope", server.audit_log).returncode == 1


def test_chain_survives_graceful_restart_under_load(server):
    import os
    import signal
    import threading

    start = len(read_lines(server.audit_log)) if server.audit_log.exists() else 0
    offset = server.log_size()
    session_ids = []
    lock = threading.Lock()

    errors = []

    def worker(n):
        s = requests.Session()  # keep-alive: old children keep serving during the restart
        for _ in range(n):
            try:
                r = s.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
            except requests.ConnectionError:
                # An old child closed an idle keep-alive connection (ordinary
                # graceful-restart behaviour): the request was never read. Retry.
                s.close()
                s = requests.Session()
                r = s.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
            with lock:
                if r.status_code != 200:
                    errors.append(r.status_code)
                session_ids.append(r.headers["CMI-Transaction-ID"])
        s.close()

    threads = [threading.Thread(target=worker, args=(60,)) for _ in range(8)]
    for t in threads:
        t.start()
    while len(session_ids) < 100:
        time.sleep(0.01)
    os.kill(server.proc.pid, signal.SIGUSR1)  # apache2 -k graceful
    for t in threads:
        t.join()
    assert not errors
    assert "SIGUSR1 received.  Doing graceful restart" in server.log_since(offset)
    assert len(session_ids) == 480
    wait_for_lines(server.audit_log, start + 2 * 480)
    recs = read_records(server.audit_log)[start:]
    ends = [x for x in recs if x["ev"] == "end"]
    assert sorted(x["txid"] for x in ends) == sorted(session_ids)  # answered == end records
    assert len([x for x in recs if x["ev"] == "begin"]) == 480
    out = verify(server)
    assert out.returncode == 0, out.stdout
    server.restart()  # leave a fresh generation for the next test


def test_sync_off_still_chains(httpd):
    log = httpd.root / "logs" / "audit-nosync.log"
    httpd.configure(LOCATIONS, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSync Off')
    httpd.audit_log = log
    ids = [get_logged(httpd, "/audit/hello.txt").headers["CMI-Transaction-ID"] for _ in range(5)]
    assert all(len(records_of(log, t)) == 2 for t in ids)
    assert cmi_audit(httpd.build_dir, "verify", log).returncode == 0


def test_client_certificate_facts(server):
    cred = server.pki.client
    r = requests.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert),
                     cert=(str(cred.cert), str(cred.key)), timeout=30)
    assert r.status_code == 200
    begin = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])[0]
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    cert = x509.load_pem_x509_certificate(cred.cert.read_bytes())
    assert begin["tls"]["client_cert_sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    assert "CN=provider-a" in begin["tls"]["client_dn"]


CERT_LOCATION = """
<Location /audit/cert>
    SSLVerifyClient require
    SSLVerifyDepth 3
</Location>
"""


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_tls_facts_follow_a_certificate_asked_for_mid_connection(httpd, version):
    """The TLS facts are kept per connection; a location that requires a client
    certificate makes mod_ssl ask for one on the open connection (TLS 1.3
    post-handshake authentication, TLS 1.2 renegotiation). The records of that
    request, and of the next ones on the connection, must name the certificate,
    never the facts kept from before it."""
    import http.client
    import ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    audited_page(httpd)
    (httpd.docroot / "audit" / "cert").mkdir(exist_ok=True)
    (httpd.docroot / "audit" / "cert" / "hello.txt").write_text("hello cert\n")
    httpd.audit_log = httpd.root / "logs" / "audit.log"
    httpd.configure(LOCATIONS + CERT_LOCATION, server_snippet=SERVER.format(log=httpd.audit_log),
                    vhost_snippet="    SSLVerifyClient none\n")
    cred = httpd.pki.client
    ctx = ssl.create_default_context(cafile=str(httpd.pki.ca_cert))
    ctx.load_cert_chain(str(cred.cert), str(cred.key))
    ctx.post_handshake_auth = True
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    conn = http.client.HTTPSConnection("localhost", httpd.https_port, context=ctx, timeout=30)
    ids, sock = [], None
    for path in ("/audit/hello.txt", "/audit/cert/hello.txt", "/audit/hello.txt"):
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (path, resp.status)
        assert sock is None or conn.sock is sock, "not one connection"
        sock = conn.sock
        ids.append(resp.headers["CMI-Transaction-ID"])
    conn.close()
    fp = x509.load_pem_x509_certificate(cred.cert.read_bytes()).fingerprint(hashes.SHA256()).hex()
    facts = [[rec["tls"] for rec in records_of(httpd.audit_log, txid)] for txid in ids]
    assert all(len(f) == 2 for f in facts)
    assert all(t["client_cert_sha256"] is None and t["client_dn"] is None for t in facts[0]), facts[0]
    for later in facts[1:]:
        assert all(t["client_cert_sha256"] == fp and "CN=provider-a" in t["client_dn"] for t in later), later
    assert all(t["protocol"] == version.replace("_", ".") for f in facts for t in f)
    assert verify(httpd).returncode == 0


def test_rotation_with_graceful_restart_under_load(server):
    import os
    import signal
    import threading

    get_logged(server, "/audit/hello.txt")
    answered, errors = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        s = requests.Session()
        while not stop.is_set():
            try:
                r = s.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
            except requests.ConnectionError:
                s.close()
                s = requests.Session()
                continue
            with lock:
                answered.append(r.headers["CMI-Transaction-ID"])
                if r.status_code != 200:
                    errors.append(r.status_code)
        s.close()

    rotated = server.audit_log.with_name("audit.log.1")
    offset = server.log_size()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    while len(answered) < 80:
        time.sleep(0.01)
    os.rename(server.audit_log, rotated)
    os.kill(server.proc.pid, signal.SIGUSR1)  # what logrotate's postrotate does
    deadline = time.monotonic() + 20
    while not (server.audit_log.exists() and len(read_lines(server.audit_log)) > 40) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert not errors and "SIGUSR1 received" in server.log_since(offset)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recs = read_records(rotated) + read_records(server.audit_log)
        ends = {x["txid"] for x in recs if x["ev"] == "end"}
        if all(t in ends for t in answered):
            break
        time.sleep(0.05)
    assert all(t in ends for t in answered)
    new_first = read_records(server.audit_log)[0]
    assert new_first["seq"] > 1 and new_first["prev"] != "0" * 64
    out = verify(server, rotated, server.audit_log)
    assert out.returncode == 0, out.stdout
    assert verify(server, server.audit_log).returncode == 0
    os.unlink(rotated)
    server.restart()


def test_torn_line_while_running_is_recovered(server):
    get_logged(server, "/audit/hello.txt")
    # What a child killed in the middle of write() leaves behind.
    with open(server.audit_log, "ab") as f:
        f.write(b'{"v":1,"seq":12345,"node":"half a rec')
    r = get_logged(server, "/audit/hello.txt")
    recs = read_records(server.audit_log)
    rec = [x for x in recs if x["ev"] == "recovered"][-1]
    assert rec["recovered"]["bytes"] == len(b'{"v":1,"seq":12345,"node":"half a rec')
    assert [x["ev"] for x in records_of(server.audit_log, r.headers["CMI-Transaction-ID"])] == ["begin", "end"]
    assert verify(server).returncode == 0


def worker_pids(parent):
    return [c["pid"] for c in child_processes(parent) if int(c.get("Threads", "1")) > 1]


def test_sigkill_of_a_child_under_load(server):
    import os
    import signal
    import threading

    start = len(read_lines(server.audit_log)) if server.audit_log.exists() else 0
    answered, stop = [], threading.Event()
    lock = threading.Lock()

    def worker():
        while not stop.is_set():
            try:
                r = requests.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
            except requests.ConnectionError:
                continue  # its child was killed: not answered
            with lock:
                answered.append(r.headers["CMI-Transaction-ID"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    while len(answered) < 60:
        time.sleep(0.01)
    victims = worker_pids(server.proc.pid)
    assert victims
    os.kill(victims[0], signal.SIGKILL)
    time.sleep(0.5)
    n = len(answered)
    while len(answered) < n + 60:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    # Every answered request has its begin record (queued before its handler
    # ran). Its end record is made after the response has gone out: the killed
    # child may have died between the two, so only the requests answered after
    # it was gone (by the children that live) must have theirs.
    before_kill, after_kill = answered[:n], answered[n:]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recs = read_records(server.audit_log)[start:]
        begins = {x["txid"] for x in recs if x["ev"] == "begin"}
        ends = {x["txid"] for x in recs if x["ev"] == "end"}
        if all(t in begins for t in answered) and all(t in ends for t in after_kill):
            break
        time.sleep(0.05)
    assert all(t in begins for t in answered)
    assert all(t in ends for t in after_kill)
    assert len([t for t in before_kill if t not in ends]) <= 64  # at most the victim's threads
    seqs = [x["seq"] for x in read_records(server.audit_log)]
    assert len(seqs) == len(set(seqs))
    out = verify(server)
    assert out.returncode == 0, out.stdout
    server.restart()
    get_logged(server, "/audit/hello.txt")
    assert verify(server).returncode == 0
