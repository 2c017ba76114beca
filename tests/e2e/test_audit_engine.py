"""mod_cmi_audit's engine: one unprivileged logger process writes the log for every
child; it is restarted when it dies and nothing queued is lost; while it cannot
write, requests wait CMIAuditTimeout and are then refused (fail closed), counted
on server-status."""
import os
import re
import signal
import threading
import time

import pytest
import requests

from cmi_e2e.audit import audited_page, cmi_audit, read_records, records_of
from cmi_e2e.httpd import child_processes
from cmi_e2e.problems import assert_problem

LOCATIONS = """
<Location /audit>
    CMIAudit On
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
"""
LINE = re.compile(r"^(cmi_audit\.[\w.-]+): (\d+)$", re.M)


def configure(httpd, log, extra=""):
    audited_page(httpd)
    httpd.configure(LOCATIONS, server_snippet=f'CMIAuditLog "{log}"\n{extra}')
    httpd.audit_log = log
    return httpd


@pytest.fixture
def server(httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp("engine")
    log = httpd.root / "logs" / f"audit-{d.name}.log"
    yield configure(httpd, log, "CMIAuditTimeout 1")
    httpd.stop()  # a fresh server for the next test (a logger may be stopped)
    for p in (log, log.with_name(log.name + ".head")):
        if p.exists():
            p.unlink()


def processes(parent):
    return [(c["pid"], c["Name"], int(c["Uid"].split()[0])) for c in child_processes(parent)]


def logger_pid(server, timeout=10, other_than=None):
    """The log writer's pid; with other_than, the one started after that one was killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid, name, _ in processes(server.proc.pid) if name == "cmi-audit-log" and pid != other_than]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no logger process")


def get(server, path="/audit/hello.txt", **kw):
    return requests.get(server.url(path), verify=str(server.pki.ca_cert), timeout=30, **kw)


def counters(server):
    r = requests.get(server.url("/server-status?auto", tls=False), timeout=30)
    return {k: int(v) for k, v in LINE.findall(r.text)}


def test_one_unprivileged_logger_and_children_without_the_log(server):
    get(server)
    pid = logger_pid(server)
    procs = processes(server.proc.pid)
    children = [p for p, name, _ in procs if name != "cmi-audit-log"]
    assert children
    if os.geteuid() == 0:  # it runs as the httpd user, like the children
        assert {uid for p, _, uid in procs} == {os.stat(server.dav_dir).st_uid}
    log = str(server.audit_log)
    # Only the logger holds the log open: a child can no longer write it.
    assert any(os.readlink(f"/proc/{pid}/fd/{fd}") == log for fd in os.listdir(f"/proc/{pid}/fd"))
    for child in children:
        assert all(os.readlink(f"/proc/{child}/fd/{fd}") != log for fd in os.listdir(f"/proc/{child}/fd"))


def load(server, threads, stop):
    answered, lock = [], threading.Lock()

    def worker():
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    r = s.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60)
                except requests.ConnectionError:
                    continue
                with lock:
                    answered.append((r.status_code, r.headers["CMI-Transaction-ID"]))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    return answered, ts


def test_logger_killed_under_load_loses_nothing(server):
    configure(server, server.audit_log)  # CMIAuditTimeout 5: the parent restarts it within about a second
    server.expect_error(r"cmi_audit:error.*the log writer \(pid \d+\) exited")
    stop = threading.Event()
    answered, threads = load(server, 8, stop)
    killed = None
    for _ in range(3):
        while len(answered) < 40:
            time.sleep(0.01)
        # The next one: requests may go on into the ring before the parent has
        # started a new writer (a slow, sanitized build), and the killed one
        # lingers as a zombie until then.
        killed = logger_pid(server, timeout=30, other_than=killed)
        os.kill(killed, signal.SIGKILL)
        n = len(answered)  # counted after the kill: the next 60 need the next writer
        while len(answered) < n + 60:
            time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert all(code == 200 for code, _ in answered)  # the restart is within CMIAuditTimeout
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        recs = read_records(server.audit_log)
        by = {}
        for x in recs:
            by.setdefault(x.get("txid"), []).append(x["ev"])
        if all(sorted(by.get(t, [])) == ["begin", "end"] for _, t in answered):
            break
        time.sleep(0.1)
    assert all(sorted(by.get(t, [])) == ["begin", "end"] for _, t in answered)
    seqs = [x["seq"] for x in recs]
    assert seqs == list(range(1, len(seqs) + 1))
    assert cmi_audit(server.build_dir, "verify", server.audit_log).returncode == 0
    assert counters(server).get("cmi_audit.writer_restarts") == 3


def test_children_recycled_gracefully_under_load_lose_nothing(server):
    """Children that exit on their own (MaxConnectionsPerChild) while others
    queue records: every operation has both records, nothing is counted lost,
    one chain (a writer that took a slot of an earlier lap for a new record
    reported "record(s) lost in the ring" with no child killed)."""
    configure(server, server.audit_log, "MaxConnectionsPerChild 8\nMaxKeepAliveRequests 4\nCMIAuditTimeout 5")
    first = {pid for pid, name, _ in processes(server.proc.pid) if name != "cmi-audit-log"}
    stop = threading.Event()
    answered, threads = load(server, 8, stop)
    seen = set(first)
    while len(answered) < 1500:
        seen |= {pid for pid, name, _ in processes(server.proc.pid) if name != "cmi-audit-log"}
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert len(seen - first) >= 3, "no child was recycled"
    assert all(code == 200 for code, _ in answered)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        by = {}
        for x in read_records(server.audit_log):
            by.setdefault(x.get("txid"), []).append(x["ev"])
        if all(sorted(by.get(t, [])) == ["begin", "end"] for _, t in answered):
            break
        time.sleep(0.1)
    assert all(sorted(by.get(t, [])) == ["begin", "end"] for _, t in answered)
    assert cmi_audit(server.build_dir, "verify", server.audit_log).returncode == 0
    assert "lost in the ring" not in server.log_since(0)


@pytest.mark.parametrize("sync", ["On", "Off"])
def test_stopped_logger_fails_closed_after_the_timeout(server, sync):
    configure(server, server.audit_log, f"CMIAuditTimeout 1\nCMIAuditSync {sync}")
    server.expect_error(r"cmi_audit:error.*(not made durable within CMIAuditTimeout|the log writer is not running"
                        r"|end record NOT recorded \(its begin record is missing\))")
    assert get(server).status_code == 200
    before = counters(server)
    pid = logger_pid(server)
    os.kill(pid, signal.SIGSTOP)
    try:
        if sync == "Off":
            # The begin record is queued (the handler runs); once the queue has
            # waited longer than CMIAuditTimeout, begins are refused.
            first = get(server)
            assert first.status_code == 200
            time.sleep(1.5)
        r = get(server)
        doc = assert_problem(r, 503, "audit-unavailable")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert get(server).status_code == 200  # the writer is back: so is the service
    d = {k: v - before.get(k, 0) for k, v in counters(server).items()}
    assert d.get("cmi_audit.refused.audit-unavailable") == 1, d
    recs = records_of(server.audit_log, doc["transaction_id"], timeout=5)
    if sync == "On":
        # Its begin was queued before the handler would have run: it is in the
        # chain, and its end says what the client got.
        assert [x["ev"] for x in recs] == ["begin", "end"] and recs[1]["status"] == 503
    else:
        # Refused before it was queued: nothing of it in the chain, and the one
        # queued while the writer was stopped is there in full.
        assert recs == []
        assert len(records_of(server.audit_log, first.headers["CMI-Transaction-ID"])) == 2
    assert cmi_audit(server.build_dir, "verify", server.audit_log).returncode == 0


def test_records_survive_a_child_killed_mid_request(server):
    """A begin record is in the shared ring before the handler runs: the child's
    death does not take it along."""
    cgi = server.root / "htdocs" / "audit" / "slow.cgi"
    cgi.write_text("#!/bin/sh\nsleep 30\necho 'Content-Type: text/plain'\necho\necho late\n")
    cgi.chmod(0o755)
    configure(server, server.audit_log, 'CMIAuditTimeout 1\n<Directory "%s/htdocs/audit">\n'
                                        '    Options +ExecCGI\n    AddHandler cgi-script .cgi\n</Directory>'
                                        % server.root)
    server.expect_error(r"(cgid:error|AH01215|AH00052|child pid \d+ exit signal Killed)")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", _try_get(server, "/audit/slow.cgi")))
    t.start()
    deadline = time.monotonic() + 10
    begin = None
    while time.monotonic() < deadline and begin is None:
        begin = next((x for x in read_records(server.audit_log) if x.get("uri") == "/audit/slow.cgi"), None)
        time.sleep(0.02)
    assert begin and begin["ev"] == "begin"
    for pid, name, _ in processes(server.proc.pid):
        threads = int(dict(l.split(":\t", 1) for l in open(f"/proc/{pid}/status").read().splitlines()
                           if ":\t" in l)["Threads"])
        if name != "cmi-audit-log" and threads > 1:  # the worker children (not cgid's daemon)
            os.kill(pid, signal.SIGKILL)
    t.join()
    get(server)
    assert cmi_audit(server.build_dir, "verify", server.audit_log).returncode == 0
    assert [x["ev"] for x in read_records(server.audit_log) if x.get("txid") == begin["txid"]] == ["begin"]


def _try_get(server, path):
    try:
        return get(server, path)
    except requests.RequestException as e:
        return e
