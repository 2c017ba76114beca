"""Reading mod_cmi_audit logs and running the cmi-audit tool."""
import hashlib
import json
import subprocess
import time
from pathlib import Path


def read_lines(path: Path) -> list[bytes]:
    return Path(path).read_bytes().splitlines(keepends=True)


def read_records(path: Path) -> list[dict]:
    """Whole records only: a last line without its newline is still being
    written by a child (the log is read while httpd runs)."""
    return [json.loads(line) for line in read_lines(path) if line.endswith(b"\n")]


def records_of(path: Path, txid: str, count: int = 2, timeout: float = 10) -> list[dict]:
    """The records of one operation. The end record is written after the response
    has been sent, so wait (up to `timeout`) until `count` of them are there."""
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in read_records(path) if r["txid"] == txid]
        if len(recs) >= count or time.monotonic() > deadline:
            return recs
        time.sleep(0.02)


def wait_for_lines(path: Path, count: int, timeout: float = 20) -> list[bytes]:
    """Waits until the log has at least `count` complete lines."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_lines(path) if Path(path).exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def cmi_audit(build_dir: Path, *args: str) -> subprocess.CompletedProcess:
    tool = Path(build_dir) / "tools" / "cmi-audit" / "cmi-audit"
    return subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True, timeout=120)


AUDITED_LOCATION = """
<Location /audit>
    CMIAudit On
</Location>
"""


def operation_locations(dav_extra: str = "") -> str:
    """/audit audited as the operation Report, /dav as ContentUpload (with `dav_extra`
    lines in its section)."""
    return ("<Location /audit>\n    CMIAudit On\n    CMIAuditOperation Report\n</Location>\n"
            "<Location /dav>\n    CMIAudit On\n    CMIAuditOperation ContentUpload\n" + dav_extra + "</Location>\n")


def audited_page(httpd) -> None:
    """/audit/hello.txt in the document root (AUDITED_LOCATION's page)."""
    (httpd.docroot / "audit").mkdir(exist_ok=True)
    (httpd.docroot / "audit" / "hello.txt").write_text("hello audit\n")


def signed_log_in_own_dir(httpd, tmp_path_factory, name: str, checkpoint: str = "4 60"):
    """httpd with /audit audited into logs/<dir>/cmi-audit.log (a directory of its
    own, so a `cmi-audit.log*` glob sees only this log's files) and an Ed25519
    signing key. Returns (log, key, pub, scratch dir)."""
    from test_audit_signing import make_key
    d = tmp_path_factory.mktemp(name)
    key, pub = make_key(d, "ed25519")
    logdir = Path(httpd.root) / "logs" / d.name
    logdir.mkdir()
    audited_page(httpd)
    log = logdir / "cmi-audit.log"
    httpd.configure(AUDITED_LOCATION, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"\n'
                                                     f'CMIAuditCheckpoint {checkpoint}')
    return log, key, pub, d


def audited_gets(httpd, log: Path, n: int):
    """n GETs of /audit/hello.txt, each waited for until both its records are in `log`;
    their transaction ids. (Connection: close: a stop right after them finds no
    keep-alive connection half-way into the event MPM's pollset, AH03093 at shutdown.)"""
    import requests
    ids = []
    for _ in range(n):
        r = requests.get(httpd.url("/audit/hello.txt"), verify=str(httpd.pki.ca_cert), timeout=30,
                         headers={"Connection": "close"})
        assert r.status_code == 200
        ids.append(r.headers["CMI-Transaction-ID"])
        assert len(records_of(log, ids[-1])) == 2
    return ids
