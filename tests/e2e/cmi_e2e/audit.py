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
