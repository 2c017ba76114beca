"""mod_cmi_audit: one chain across graceful restarts, full stop/start and rotations."""
import hashlib
import json
import os
import subprocess
import time

import pytest

from cmi_e2e.audit import (AUDITED_LOCATION, audited_gets, audited_page, cmi_audit, line_hash, read_lines,
                           read_records)


@pytest.fixture
def server(httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp("continuity")
    audited_page(httpd)
    log = httpd.root / "logs" / f"audit-{d.name}.log"
    httpd.configure(AUDITED_LOCATION, server_snippet=f'CMIAuditLog "{log}"')
    httpd.audit_log = log
    yield httpd
    for p in (log, log.with_name(log.name + ".1"), log.with_name(log.name + ".head")):
        if p.exists():
            p.unlink()


def logged_get(server, n=1):
    return audited_gets(server, server.audit_log, n)


def verify(server, *files):
    out = cmi_audit(server.build_dir, "verify", *files)
    assert out.returncode == 0, out.stdout + out.stderr


def graceful(server):
    offset = server.log_size()
    out = subprocess.run([server.httpd_bin, "-d", str(server.root), "-f", str(server.conf_file), "-k", "graceful"],
                         capture_output=True, text=True, timeout=60, env=server.environment())
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 20
    while "resuming normal operations" not in server.log_since(offset) and time.monotonic() < deadline:
        time.sleep(0.05)


def assert_continues(old_lines, first_new):
    last = old_lines[-1]
    assert first_new["seq"] == json.loads(last)["seq"] + 1
    assert first_new["prev"] == line_hash(last)


def test_graceful_restart_continues_the_chain(server):
    logged_get(server, 3)
    before = read_lines(server.audit_log)
    graceful(server)
    logged_get(server, 3)
    after = read_records(server.audit_log)
    assert_continues(before, after[len(before)])
    assert [x["seq"] for x in after] == list(range(1, len(after) + 1))
    verify(server, server.audit_log)


def test_full_stop_and_start_continue_the_same_file(server):
    logged_get(server, 2)
    before = read_lines(server.audit_log)
    server.stop()
    server.start()
    logged_get(server, 2)
    after = read_records(server.audit_log)
    assert_continues(before, after[len(before)])
    verify(server, server.audit_log)


def test_rotation_while_stopped_continues_from_the_saved_head(server):
    logged_get(server, 2)
    server.stop()
    lines = read_lines(server.audit_log)
    head = server.audit_log.with_name(server.audit_log.name + ".head")
    assert head.read_text() == f"cmi-audit head v1\n{json.loads(lines[-1])['seq']}\n{line_hash(lines[-1])}\n"
    rotated = server.audit_log.with_name(server.audit_log.name + ".1")
    os.rename(server.audit_log, rotated)
    server.start()
    logged_get(server, 2)
    new = read_records(server.audit_log)
    assert_continues(lines, new[0])  # the first record of the new file names the old head
    verify(server, rotated, server.audit_log)
    # A line removed at the junction breaks it.
    cut = rotated.with_name("cut.log")
    cut.write_bytes(b"".join(lines[:-1]))
    out = cmi_audit(server.build_dir, "verify", cut, server.audit_log)
    cut.unlink()
    assert out.returncode == 1 and f"seq {new[0]['seq'] - 1}" in out.stdout


def test_rotation_with_graceful_restart(server):
    logged_get(server, 2)
    lines = read_lines(server.audit_log)
    rotated = server.audit_log.with_name(server.audit_log.name + ".1")
    os.rename(server.audit_log, rotated)
    graceful(server)
    logged_get(server, 2)
    assert_continues(lines, read_records(server.audit_log)[0])
    verify(server, rotated, server.audit_log)


def test_torn_last_line_at_start_up_is_recovered_explicitly(server):
    logged_get(server, 2)
    server.stop()
    whole = read_lines(server.audit_log)
    torn = b'{"v":1,"seq":99,"node":"torn by a cra'
    with open(server.audit_log, "ab") as f:
        f.write(torn)
    server.start()
    logged_get(server, 1)
    recs = read_records(server.audit_log)
    rec = recs[len(whole)]
    assert rec["ev"] == "recovered" and rec["prev"] == line_hash(whole[-1])
    assert rec["recovered"]["bytes"] == len(torn)
    assert rec["recovered"]["sha256"] == hashlib.sha256(torn).hexdigest()
    verify(server, server.audit_log)


def test_head_file_save_follows_no_planted_symlink(server):
    """A compromised child that can write in the log directory plants
    <log>.head.tmp -> a file of root's; the root parent saving the head must not
    truncate or write that file (issue 21 item 6)."""
    victim = server.root / "conf" / "victim.conf"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    planted = server.audit_log.with_name(server.audit_log.name + ".head.tmp")
    planted.symlink_to(victim)
    logged_get(server, 2)
    lines = read_lines(server.audit_log)
    server.stop()  # the parent saves the head at shutdown
    assert victim.read_text() == "precious\n"
    head = server.audit_log.with_name(server.audit_log.name + ".head")
    assert not head.is_symlink()
    assert head.read_text() == f"cmi-audit head v1\n{json.loads(lines[-1])['seq']}\n{line_hash(lines[-1])}\n"
    planted.unlink()
    server.start()
