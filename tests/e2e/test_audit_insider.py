"""What an insider can and cannot do to the log (issue 15.4, docs/audit-log.md
"What an insider can and cannot do"), and how checkpoints shipped off the host
close the rest: `cmi-audit verify --shipped FILE` finds a log rewritten before
a shipped line — even by someone who stole the signing key and re-signed every
checkpoint — cut back past it, or with a file left out."""
import base64
import hashlib
import json
import os
import shutil

import pytest
from cryptography.hazmat.primitives import serialization

from cmi_e2e.audit import audited_gets, cmi_audit, read_lines, signed_log_in_own_dir

@pytest.fixture
def node(httpd, tmp_path_factory):
    log, key, pub, d = signed_log_in_own_dir(httpd, tmp_path_factory, "insider")
    audited_gets(httpd, log, 8)
    yield httpd, log, key, pub, d
    shutil.rmtree(log.parent, ignore_errors=True)


def ship_checkpoints(log, dest):
    """What the collector keeps: every checkpoint line as it was written."""
    dest.write_bytes(b"".join(l for l in read_lines(log) if b'"ev":"checkpoint"' in l))
    return dest


def resign(lines, start, key_path):
    """An insider who holds the signing key: rewrites from `start` on, re-chains
    and re-signs every checkpoint — the log verifies with the key."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    out = list(lines[:start])
    for line in lines[start:]:
        rec = json.loads(line)
        rec["prev"] = hashlib.sha256(out[-1]).hexdigest() if out else "0" * 64
        if rec["ev"] == "checkpoint":
            msg = f"cmi-audit checkpoint v1\n{rec['seq']}\n{rec['prev']}\n".encode()
            rec["checkpoint"]["sig"] = base64.b64encode(key.sign(msg)).decode()
        out.append((json.dumps(rec, separators=(",", ":")) + "\n").encode())
    return out


def verify(server, *args):
    return cmi_audit(server.build_dir, "verify", *map(str, args))


def test_shipped_checkpoints_verify_against_the_untouched_log(node):
    server, log, _, pub, d = node
    shipped = ship_checkpoints(log, d / "shipped.jsonl")
    assert len(read_lines(shipped)) >= 2
    out = verify(server, "--key", pub, "--shipped", shipped, log)
    assert out.returncode == 0, out.stdout
    assert f"{len(read_lines(shipped))} shipped lines found as shipped" in out.stdout


def test_a_rewrite_with_the_stolen_key_passes_the_key_but_not_the_shipped_checkpoints(node):
    server, log, key, pub, d = node
    shipped = ship_checkpoints(log, d / "shipped.jsonl")
    lines = read_lines(log)
    at = next(i for i, l in enumerate(lines) if b'"ev":"begin"' in l)
    rec = json.loads(lines[at])
    rec["uri"] = "/audit/something-else.txt"  # what the insider wants the log to say
    lines[at] = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
    forged = d / "forged.log"
    forged.write_bytes(b"".join(resign(lines, at, key)))
    assert verify(server, "--key", pub, forged).returncode == 0  # the key alone cannot tell
    out = verify(server, "--key", pub, "--shipped", shipped, forged)
    assert out.returncode == 1 and "not the line shipped off the host" in out.stdout, out.stdout


def test_a_log_cut_back_past_a_shipped_checkpoint_fails(node):
    server, log, _, pub, d = node
    shipped = ship_checkpoints(log, d / "shipped.jsonl")
    lines = read_lines(log)
    last_cp = max(i for i, l in enumerate(lines) if b'"ev":"checkpoint"' in l)
    cut = d / "cut.log"
    cut.write_bytes(b"".join(lines[:last_cp]))  # everything from the last checkpoint on removed
    assert verify(server, "--key", pub, cut).returncode == 0  # an earlier checkpoint still verifies
    out = verify(server, "--key", pub, "--shipped", shipped, cut)
    seq = json.loads(lines[last_cp])["seq"]
    assert out.returncode == 1 and f"seq {seq} was shipped off the host" in out.stdout, out.stdout
    assert "records removed from the end" in out.stdout


def test_a_deleted_newest_file_is_found_by_the_shipped_checkpoints(node):
    server, log, _, pub, d = node
    rotated = log.with_name(log.name + ".1")
    os.rename(log, rotated)
    server.signal_restart(graceful=True)
    audited_gets(server, log, 8)
    shipped = d / "shipped.jsonl"
    shipped.write_bytes(b"".join(l for f in (rotated, log) for l in read_lines(f) if b'"ev":"checkpoint"' in l))
    assert verify(server, "--key", pub, "--shipped", shipped, rotated, log).returncode == 0
    # The insider deletes the newest file: what is left verifies on its own ...
    assert verify(server, "--key", pub, rotated).returncode == 0
    # ... but not against what was shipped.
    out = verify(server, "--key", pub, "--shipped", shipped, rotated)
    assert out.returncode == 1 and "was shipped off the host" in out.stdout, out.stdout


def test_records_after_the_last_checkpoint_are_reported_as_not_covered(node):
    """What the key cannot vouch for, verify says: the records after the last checkpoint."""
    server, log, _, pub, _ = node
    lines = read_lines(log)
    last_cp = max(i for i, l in enumerate(lines) if b'"ev":"checkpoint"' in l)
    out = verify(server, "--key", pub, log)
    assert out.returncode == 0
    assert f"{len(lines) - 1 - last_cp} records after it not covered" in out.stdout, out.stdout


def test_a_checkpoint_shipped_twice_differently_shows_the_rewrite(node):
    """The shipper re-sent the file after the insider's rewrite: the collector
    holds two different lines for one seq."""
    server, log, key, pub, d = node
    lines = read_lines(log)
    first_cp = min(i for i, l in enumerate(lines) if b'"ev":"checkpoint"' in l)
    rewritten = resign(lines, first_cp - 1, key)
    rewritten[first_cp - 1] = rewritten[first_cp - 1].replace(b'"method":"GET"', b'"method":"PUT"')
    rewritten = resign(rewritten, first_cp - 1, key)
    shipped = d / "shipped.jsonl"
    shipped.write_bytes(lines[first_cp] + rewritten[first_cp])
    assert lines[first_cp] != rewritten[first_cp]
    out = verify(server, "--key", pub, "--shipped", shipped, log)
    assert out.returncode == 1 and "was shipped twice, as two different lines" in out.stdout, out.stdout
