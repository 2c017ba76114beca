"""mod_cmi_audit against an insider who can write the log (issue 15 item 1): a
running server never continues a chain it did not write, and a log rewritten
while httpd is stopped (its <log>.head rewritten to match) is reported at
start-up. Either way `cmi-audit verify --key` over what is on disk fails."""
import base64
import json
import os
import signal

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from cmi_e2e.audit import (AUDITED_LOCATION, audited_gets, audited_page, cmi_audit, line_hash, read_lines,
                           read_records, records_of)
from test_audit_signing import make_key


@pytest.fixture
def server(httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp("tamper")
    key, pub = make_key(d, "ed25519")
    audited_page(httpd)
    log = httpd.root / "logs" / f"audit-{d.name}.log"
    httpd.configure(AUDITED_LOCATION, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"\n'
                                              f'CMIAuditCheckpoint 5 60')
    httpd.audit_log, httpd.audit_pub = log, pub
    yield httpd
    for p in (log, log.with_name(log.name + ".head")):
        if p.exists():
            p.unlink()




def requests_logged(server, n):
    return audited_gets(server, server.audit_log, n)


def verify_key(server):
    return cmi_audit(server.build_dir, "verify", "--key", server.audit_pub, server.audit_log)


def forged_after(lines):
    """One forged record, correctly chained to the last of `lines`."""
    last = json.loads(lines[-1])
    forged = dict(json.loads(lines[-2] if json.loads(lines[-1])["ev"] == "checkpoint" else lines[-1]))
    forged.update(seq=last["seq"] + 1, ev="begin", method="DELETE", uri="/cmi/everything",
                  txid="01000000-0000-7000-8000-000000000000", prev=line_hash(lines[-1]))
    return (json.dumps(forged, separators=(",", ":")) + "\n").encode()


def discontinuities(server):
    return [r for r in read_records(server.audit_log) if r["ev"] == "discontinuity"]


# --- while httpd runs ---------------------------------------------------------------

def test_live_cut_back_and_forged_record_is_not_adopted(server):
    """The reproduction of issue 15: 25 requests, the file cut back in place to its
    first 12 lines (two signed checkpoints gone), one forged chained record, 8 more
    requests. The server must not reuse the seqs nor sign over the forgery."""
    server.expect_error(r"cmi_audit:alert.*the log was changed behind the server")
    offset = server.log_size()
    requests_logged(server, 25)
    before = read_lines(server.audit_log)
    head = json.loads(before[-1])
    kept = before[:12]
    assert sum(1 for l in before[12:] if json.loads(l)["ev"] == "checkpoint") >= 2
    forged = forged_after(kept)
    with open(server.audit_log, "r+b") as f:
        f.truncate(sum(len(l) for l in kept))
        f.seek(0, os.SEEK_END)
        f.write(forged)
    after_ids = requests_logged(server, 8)
    out = verify_key(server)
    assert out.returncode == 1, out.stdout  # never OK
    disc = discontinuities(server)
    assert len(disc) == 1
    d = disc[0]
    assert d["seq"] == head["seq"] + 1 and d["prev"] == line_hash(before[-1])  # the server's head, not the forgery's
    assert d["discontinuity"]["expected"] == {"seq": head["seq"], "hash": line_hash(before[-1])}
    assert d["discontinuity"]["found"]["seq"] == json.loads(forged)["seq"]
    assert d["discontinuity"]["found"]["hash"] == line_hash(forged)
    recs = read_records(server.audit_log)
    # Nothing after the forgery reuses a seq the server had written; the next records continue its head.
    new = [r for r in recs if r.get("txid") in set(after_ids)]
    assert min(r["seq"] for r in new) > head["seq"]
    # The checkpoint right after the discontinuity signs the server's chain, which breaks at the forgery.
    assert recs[recs.index(d) + 1]["ev"] == "checkpoint"
    log = server.log_since(offset)
    assert f"seq {head['seq']}" in log and "Not adopted" in log
    assert "discontinuity" in out.stdout or "missing" in out.stdout or "chain broken" in out.stdout


@pytest.mark.parametrize("how", ["emptied", "last line rewritten", "lines appended"])
def test_live_changes_are_recorded_never_adopted(server, how):
    server.expect_error(r"cmi_audit:alert.*the log was changed behind the server")
    requests_logged(server, 4)
    lines = read_lines(server.audit_log)
    if how == "emptied":  # logrotate's copytruncate, or an intruder
        os.truncate(server.audit_log, 0)
    elif how == "last line rewritten":  # same length: only the hash tells
        last = bytearray(lines[-1])
        at = last.index(b'Z"') - 1  # the last digit of the record's time
        last[at] = ord("1") if last[at] != ord("1") else ord("2")
        with open(server.audit_log, "r+b") as f:
            f.seek(sum(len(l) for l in lines[:-1]))
            f.write(last)
    else:
        with open(server.audit_log, "ab") as f:
            f.write(forged_after(lines))
    requests_logged(server, 2)
    assert len(discontinuities(server)) == 1
    out = verify_key(server)
    assert out.returncode == 1 and "discontinuity" in out.stdout, out.stdout


def test_torn_tail_after_the_head_is_still_recovered(server):
    """The one silent repair: bytes without a line feed after the server's last
    line (a write cut short) are cut off and recorded; nothing is lost."""
    requests_logged(server, 2)
    with open(server.audit_log, "ab") as f:
        f.write(b'{"v":1,"seq":77,"node":"half a rec')
    requests_logged(server, 1)
    assert not discontinuities(server)
    assert any(r["ev"] == "recovered" for r in read_records(server.audit_log))
    out = verify_key(server)
    assert out.returncode == 0, out.stdout


# --- while httpd is stopped -----------------------------------------------------------

def head_file(server):
    return server.audit_log.with_name(server.audit_log.name + ".head")


def test_saved_head_is_signed_and_says_stopped(server):
    requests_logged(server, 3)
    server.stop()
    text = head_file(server).read_text()
    lines = read_lines(server.audit_log)
    body, sig_line = text[: text.index("sig ")], text[text.index("sig "):]
    assert body == (f"cmi-audit head v2\nseq {json.loads(lines[-1])['seq']}\nhash {line_hash(lines[-1])}\n"
                    f"size {sum(len(l) for l in lines)}\nstate stopped\n")
    _, alg, keyid, sig = sig_line.split()
    assert alg == "ed25519"
    load_pem_public_key(server.audit_pub.read_bytes()).verify(base64.b64decode(sig), body.encode())
    server.start()
    requests_logged(server, 1)
    assert "state running" in head_file(server).read_text()  # a crash from now on is not a clean stop
    assert verify_key(server).returncode == 0


def test_clean_stop_and_start_is_not_reported(server):
    requests_logged(server, 3)
    server.stop()
    offset = server.log_size()
    server.start()
    requests_logged(server, 3)
    assert not discontinuities(server)
    assert "cmi_audit:" not in server.log_since(offset)
    assert verify_key(server).returncode == 0


@pytest.mark.parametrize("head", ["rewritten unsigned", "signature of the old head", "deleted"])
def test_log_rewritten_while_stopped_is_reported_at_start_up(server, head):
    """The intruder, with httpd stopped, cuts the log back, appends a forged chained
    record and rewrites <log>.head to match the forged log."""
    server.expect_error(r"cmi_audit:alert.*does not match")
    requests_logged(server, 10)
    server.stop()
    lines = read_lines(server.audit_log)
    kept = lines[:7]
    forged = forged_after(kept)
    server.audit_log.write_bytes(b"".join(kept) + forged)
    hf = head_file(server)
    old = hf.read_text()
    seq, h = json.loads(forged)["seq"], line_hash(forged)
    if head == "rewritten unsigned":
        hf.write_text(f"cmi-audit head v1\n{seq}\n{h}\n")
    elif head == "signature of the old head":
        sig = old[old.index("sig "):]
        hf.write_text(f"cmi-audit head v2\nseq {seq}\nhash {h}\nsize {len(b''.join(kept) + forged)}\n"
                      f"state stopped\n{sig}")
    else:
        hf.unlink()
    offset = server.log_size()
    server.start()
    requests_logged(server, 2)
    log = server.log_since(offset)
    assert "does not match" in log and f"seq {seq}" in log, log
    disc = discontinuities(server)
    assert len(disc) == 1
    assert disc[0]["discontinuity"]["found"] == {"seq": seq, "hash": h, "size": len(b"".join(kept) + forged)}
    out = verify_key(server)
    assert out.returncode == 1, out.stdout


def killed(server):
    """The whole process tree killed at once (no cleanup: a crash, the OOM killer)."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.proc = None
    server.running_config = None
    server.stderr_file.close()


def test_unclean_stop_continues_with_a_warning(server):
    """httpd killed outright: the head saved while running is behind the log.
    The records after it are continued (nothing else could have written them
    while httpd ran), with a warning, not a discontinuity."""
    server.expect_error(r"cmi_audit:warn.*did not stop cleanly")
    requests_logged(server, 3)
    killed(server)
    assert "state running" in head_file(server).read_text()
    offset = server.log_size()
    server.start()
    requests_logged(server, 2)
    assert "did not stop cleanly" in server.log_since(offset)
    assert not discontinuities(server)
    assert verify_key(server).returncode == 0


def test_records_forged_after_a_crash_are_never_vouched_for(server):
    """httpd killed, then a forged record chained to the last line while it is
    down: nothing tells it from the records the writer made just before the kill
    (the head file is saved every ~10 s), so the server continues the file — but
    it must not sign over the forgery as if it had written it. An `unconfirmed`
    record names every record after the last signed head, a checkpoint signs that
    statement, and verify reports the range."""
    server.expect_error(r"cmi_audit:warn.*(did not stop cleanly|torn record)")
    requests_logged(server, 3)
    killed(server)
    lines = read_lines(server.audit_log)
    forged = forged_after(lines)
    with open(server.audit_log, "ab") as f:
        f.write(forged + b'{"v":1,"seq":')  # and a torn write, as a kill mid-write leaves
    offset = server.log_size()
    server.start()
    requests_logged(server, 2)
    forged_seq = json.loads(forged)["seq"]
    recs = read_records(server.audit_log)
    marks = [r for r in recs if r["ev"] == "unconfirmed"]
    assert len(marks) == 1, marks
    u = marks[0]
    assert u["seq"] == forged_seq + 1 and u["prev"] == line_hash(forged)
    assert u["unconfirmed"]["through"] == forged_seq
    after = u["unconfirmed"]["after"]
    assert after < forged_seq
    # Confirmed means signed: the saved head, or a checkpoint, at `after`; none after it.
    cps = [r["seq"] for r in recs if r["ev"] == "checkpoint" and r["seq"] < u["seq"]]
    assert after == (cps[-1] if cps else 0) or f"seq {after}\n" in head_file(server).read_text()
    assert recs[recs.index(u) + 1]["ev"] == "checkpoint"  # the statement is signed at once
    assert recs[recs.index(u) + 2]["ev"] == "recovered"  # then the torn bytes, cut off
    assert f"seq {after + 1} to {forged_seq} are confirmed by no signature" in server.log_since(offset)
    out = verify_key(server)
    assert out.returncode == 0, out.stdout  # the log now tells the truth about those records
    assert f"seq {after + 1} to {forged_seq} are confirmed by no signature of the node" in out.stdout, out.stdout


def test_a_forged_unconfirmed_record_must_name_the_records_before_it(server, tmp_path):
    """An `unconfirmed` record is only read as what it says about the records just
    before it: one that names anything else fails verification."""
    requests_logged(server, 2)
    lines = read_lines(server.audit_log)
    last = json.loads(lines[-1])
    fake = {"v": 1, "seq": last["seq"] + 1, "node": "x", "ev": "unconfirmed",
            "unconfirmed": {"after": 0, "through": last["seq"] + 5}, "prev": line_hash(lines[-1])}
    copy = tmp_path / "copy.log"
    copy.write_bytes(b"".join(lines) + (json.dumps(fake, separators=(",", ":")) + "\n").encode())
    out = cmi_audit(server.build_dir, "verify", copy)
    assert out.returncode == 1 and "not the records just before it" in out.stdout, out.stdout


def test_log_deleted_while_httpd_runs_loses_no_record_after_it(server):
    """`rm` of the live log: the writer still holds the file, and whatever it wrote
    there would vanish when the file is closed. It writes nothing more to it
    (alert), operations are refused meanwhile (fail closed), and the graceful
    restart that opens a new file writes every queued record there, continuing
    the chain."""
    server.expect_error(r"cmi_audit:alert.*the log file was deleted \(or replaced, by a rename over it\) while httpd runs")
    server.expect_error(r"cmi_audit:error.*cannot make the begin record of GET /audit/hello.txt durable")
    requests_logged(server, 3)
    lines = read_lines(server.audit_log)
    offset = server.log_size()
    os.unlink(server.audit_log)
    r = requests.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=60,
                     headers={"Connection": "close"})
    assert r.status_code == 503 and "audit-unavailable" in r.text, (r.status_code, r.text)
    assert "the log file was deleted (or replaced, by a rename over it) while httpd runs" in server.log_since(offset)
    server.signal_restart(graceful=True)
    recs = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert [x["ev"] for x in recs] == ["begin", "end"] and recs[1]["status"] == 503, recs
    first = read_records(server.audit_log)[0]
    assert first["seq"] == json.loads(lines[-1])["seq"] + 1 and first["prev"] == line_hash(lines[-1])
    requests_logged(server, 3)  # and a checkpoint after them
    out = verify_key(server)
    assert out.returncode == 0 and f"the chain starts at seq {first['seq']}" in out.stdout, out.stdout


def test_log_renamed_away_and_replaced_is_named_at_once(server):
    """The live log moved aside (the writer goes on with it) and a forged copy put at
    its path: `verify` over the path alone sees only the forgery after its last
    checkpoint, so the parent says so at once (alert), and the graceful restart
    that opens the path does not adopt it."""
    server.expect_error(r"cmi_audit:alert.*(the path names another file|does not continue the chain)")
    requests_logged(server, 6)
    lines = read_lines(server.audit_log)
    aside = server.audit_log.with_name(server.audit_log.name + ".aside")
    offset = server.log_size()
    os.rename(server.audit_log, aside)
    kept = lines[:7]
    server.audit_log.write_bytes(b"".join(kept) + forged_after(kept))
    assert server.wait_for_log("the path names another file", offset, 10), server.log_since(offset)
    ids = audited_gets(server, aside, 2)  # the genuine records go on, to the renamed file
    server.signal_restart(graceful=True)
    assert len(discontinuities(server)) == 1
    assert verify_key(server).returncode == 1
    out = cmi_audit(server.build_dir, "verify", "--key", server.audit_pub, aside)
    assert out.returncode == 0 and ids, out.stdout
    aside.unlink()
