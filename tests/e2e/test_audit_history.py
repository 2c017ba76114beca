"""cmi-audit over a whole rotated history (issue 20.4): the documented
`cmi-audit verify --key pub.pem ${CMI_LOG}/cmi-audit.log*` picks up the
current file, rotated files, gzip-compressed ones and the chain head file —
and verifies in one call, as a shell expands the glob."""
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cmi_e2e.audit import audited_gets, read_lines, signed_log_in_own_dir

def tool(server) -> Path:
    return Path(server.build_dir) / "tools" / "cmi-audit" / "cmi-audit"


def shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def history(httpd, tmp_path_factory):
    log, _, pub, _ = signed_log_in_own_dir(httpd, tmp_path_factory, "history")
    yield httpd, log, pub
    httpd.stop()  # the head file belongs to this log: the next test starts afresh
    shutil.rmtree(log.parent, ignore_errors=True)


def rotate(server, log):
    """What logrotate does with `compress` + `delaycompress` and a graceful restart:
    .1 becomes .2.gz, the current file becomes .1."""
    one, two = log.with_name(log.name + ".1"), log.with_name(log.name + ".2.gz")
    if one.exists():
        assert not two.exists()
        with open(one, "rb") as src, gzip.open(two, "wb") as dst:
            shutil.copyfileobj(src, dst)
        one.unlink()
    os.rename(log, one)
    server.signal_restart(graceful=True)


def make_history(server, log):
    audited_gets(server, log, 5)
    rotate(server, log)
    audited_gets(server, log, 5)
    rotate(server, log)
    audited_gets(server, log, 5)
    server.stop()  # the parent writes <log>.head at shutdown


def test_documented_glob_verifies_rotated_compressed_and_current_files(history):
    server, log, pub = history
    make_history(server, log)
    names = sorted(p.name for p in log.parent.iterdir())
    # (cmi-evidence, the evidence store, is a name the glob does not catch)
    assert names == ["cmi-audit.log", "cmi-audit.log.1", "cmi-audit.log.2.gz", "cmi-audit.log.head",
                     "cmi-evidence"], names
    out = shell(f'"{tool(server)}" verify --key "{pub}" "{log.parent}"/cmi-audit.log*', log.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    recs = sum(len(read_lines(p)) for p in (log, log.with_name(log.name + ".1")))
    recs += len(gzip.decompress(log.with_name(log.name + ".2.gz").read_bytes()).splitlines())
    assert out.stdout.startswith(f"OK {recs} records, last seq {recs}, head "), out.stdout
    assert "checkpoints verified" in out.stdout
    assert "skipped" in out.stderr and "cmi-audit.log.head" in out.stderr
    # show reads the same files: an operation from inside the compressed file.
    first = json.loads(gzip.decompress(log.with_name(log.name + ".2.gz").read_bytes()).splitlines()[0])
    shown = shell(f'"{tool(server)}" show {first["txid"]} "{log.parent}"/cmi-audit.log*', log.parent)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 2, shown.stdout + shown.stderr


def test_a_record_changed_inside_the_compressed_file_is_found(history):
    server, log, pub = history
    make_history(server, log)
    gz = log.with_name(log.name + ".2.gz")
    lines = gzip.decompress(gz.read_bytes()).splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"method":"GET"', b'"method":"PUT"')
    gz.write_bytes(gzip.compress(b"".join(lines)))
    out = shell(f'"{tool(server)}" verify --key "{pub}" "{log.parent}"/cmi-audit.log*', log.parent)
    assert out.returncode == 1 and out.stdout.startswith(f"FAIL {gz}:4: seq 4: chain broken"), out.stdout


def test_a_truncated_compressed_file_is_a_read_error_not_a_gap(history):
    server, log, pub = history
    make_history(server, log)
    gz = log.with_name(log.name + ".2.gz")
    gz.write_bytes(gz.read_bytes()[:-40])  # a copy cut short
    out = shell(f'"{tool(server)}" verify --key "{pub}" "{log.parent}"/cmi-audit.log*', log.parent)
    assert out.returncode == 1, out.stdout
    assert out.stdout.startswith(f"FAIL {gz}:") and "gzip: the compressed file is truncated" in out.stdout, out.stdout


def test_other_compressions_are_named(history):
    server, log, pub = history
    audited_gets(server, log, 1)
    server.stop()
    xz = log.with_name(log.name + ".1.xz")
    subprocess.run(["xz", "-k", str(log)], check=True)
    os.rename(log.with_name(log.name + ".xz"), xz)
    out = shell(f'"{tool(server)}" verify "{log.parent}"/cmi-audit.log*', log.parent)
    assert out.returncode == 2 and f"{xz} is compressed with xz" in out.stderr, out.stderr


def test_the_newest_file_replaced_by_a_head_is_not_skipped(history):
    """The head file is left out of a glob by its first line: a log file whose
    content an insider replaced with a head's text must not be left out too
    (the rotated files alone would verify)."""
    server, log, pub = history
    make_history(server, log)
    log.write_bytes(log.with_name(log.name + ".head").read_bytes())
    out = shell(f'"{tool(server)}" verify --key "{pub}" "{log.parent}"/cmi-audit.log*', log.parent)
    assert out.returncode != 0 and not out.stdout.startswith("OK"), out.stdout + out.stderr
    assert f"{log} holds a chain head, not log records" in out.stderr, out.stderr


def test_the_chain_starting_after_seq_1_is_said(history):
    """The oldest files left out (or deleted): what remains verifies, and the OK
    line says where the chain starts."""
    server, log, pub = history
    make_history(server, log)
    first = json.loads(read_lines(log.with_name(log.name + ".1"))[0])["seq"]
    out = shell(f'"{tool(server)}" verify --key "{pub}" "{log.parent}"/cmi-audit.log.1 "{log}"', log.parent)
    assert out.returncode == 0 and f"the chain starts at seq {first}: records before it" in out.stdout, out.stdout
