"""mod_cmi_audit: signed CMI-Receipt headers (CMIAuditReceipts On)."""
import base64
import hashlib
import json
import re
import subprocess

import pytest
import requests

from cmi_e2e.audit import audited_page, cmi_audit, read_lines, records_of
from test_audit_signing import make_key, rechain

LOCATIONS = """
<Location /dav>
    CMIAudit On
    CMIAuditReceipts On
    CMIAuditOperation ContentUpload
</Location>
<Location /audit>
    CMIAudit On
</Location>
"""

RECEIPT = re.compile(r'^txid="([0-9a-f-]{36})", seq=([1-9][0-9]*), begin="([0-9a-f]{64})", '
                     r'hash=:([A-Za-z0-9+/=]+):, sig=:([A-Za-z0-9+/=]+):, keyid="([0-9a-f]{64})"$')
TXID, SEQ, BEGIN, HASH, SIG, KEYID = range(1, 7)


@pytest.fixture(params=["ed25519", "p256"])
def server(request, httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"receipt-{request.param}")
    key, pub = make_key(d, request.param)
    log = httpd.root / "logs" / f"audit-receipts-{d.name}.log"
    audited_page(httpd)
    httpd.configure(LOCATIONS, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"')
    httpd.audit_log, httpd.audit_pub, httpd.key_alg = log, pub, request.param
    return httpd


def put(server, name, body):
    name = f"{server.key_alg}-{name}"
    r = requests.put(server.url(f"/dav/{name}"), data=body, verify=str(server.pki.ca_cert), timeout=30)
    records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    return r


def test_put_gets_a_receipt_that_verifies(server):
    body = b"content item " * 1000
    r = put(server, "receipt.bin", body)
    assert r.status_code == 201
    value = r.headers["CMI-Receipt"]
    m = RECEIPT.match(value)
    assert m and m.group(TXID) == r.headers["CMI-Transaction-ID"]
    begin, end = records_of(server.audit_log, m.group(TXID))
    assert end["receipt"] == value
    # The receipt names the begin record's place: its seq and the SHA-256 of its line.
    assert int(m.group(SEQ)) == begin["seq"]
    line = next(l for l in read_lines(server.audit_log) if l.startswith(b'{"v":1,"seq":%d,' % begin["seq"]))
    assert hashlib.sha256(line).hexdigest() == m.group(BEGIN)
    # The hash is over the canonical facts (docs/audit-log.md).
    facts = {"txid": m.group(TXID), "time": begin["time"], "user": None, "method": "PUT",
             "uri": f"/dav/{server.key_alg}-receipt.bin",
             "digest": "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":",
             "status": 201}
    canonical = json.dumps(facts, separators=(",", ":")).encode()
    assert base64.b64decode(m.group(HASH)) == hashlib.sha256(canonical).digest()
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, value, server.audit_log)
    assert out.returncode == 0, out.stdout + out.stderr


def test_changed_receipt_is_rejected(server):
    r = put(server, "receipt2.bin", b"abc")
    value = r.headers["CMI-Receipt"]
    m = RECEIPT.match(value)
    hash_bytes = bytearray(base64.b64decode(m.group(HASH)))
    hash_bytes[0] ^= 1
    forged = value.replace(m.group(HASH), base64.b64encode(bytes(hash_bytes)).decode())
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, forged, server.audit_log)
    assert out.returncode == 1 and "signature does not verify" in out.stdout
    sig = bytearray(base64.b64decode(m.group(SIG)))
    sig[len(sig) // 2] ^= 1
    forged = value.replace(m.group(SIG), base64.b64encode(bytes(sig)).decode())
    assert cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, forged,
                     server.audit_log).returncode == 1
    # The place in the chain is signed too: another seq or begin hash is a forgery.
    for group, other in ((SEQ, str(int(m.group(SEQ)) + 1)), (BEGIN, "0" * 64)):
        forged = value.replace(f"{'seq=' if group == SEQ else 'begin='}" + ("" if group == SEQ else '"') + m.group(group),
                               f"{'seq=' if group == SEQ else 'begin='}" + ("" if group == SEQ else '"') + other)
        assert forged != value
        out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, forged, server.audit_log)
        assert out.returncode == 1 and "signature does not verify" in out.stdout, out.stdout


def test_receipt_of_other_log_is_rejected(server, tmp_path):
    r = put(server, "receipt3.bin", b"abc")
    other = tmp_path / "other.log"
    lines = [l for l in server.audit_log.read_bytes().splitlines(keepends=True)
             if r.headers["CMI-Transaction-ID"].encode() not in l]
    other.write_bytes(b"".join(lines[:2]))
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, r.headers["CMI-Receipt"], other)
    assert out.returncode == 1


def test_receipt_verifies_with_openssl(server, tmp_path):
    r = put(server, "receipt4.bin", b"recipe")
    m = RECEIPT.match(r.headers["CMI-Receipt"])
    # The key signs "cmi-audit receipt v1\n<txid>\n<seq>\n<begin>\n<hash>\n" (docs/audit-log.md).
    msg = f"cmi-audit receipt v1\n{m.group(TXID)}\n{m.group(SEQ)}\n{m.group(BEGIN)}\n{m.group(HASH)}\n"
    (tmp_path / "msg").write_text(msg)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(m.group(SIG)))
    if server.key_alg == "ed25519":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(server.audit_pub), "-rawin",
               "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig.bin")]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-verify", str(server.audit_pub), "-signature",
               str(tmp_path / "sig.bin"), str(tmp_path / "msg")]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_overwrite_204_also_gets_a_receipt(server):
    put(server, "twice.bin", b"one")
    r = put(server, "twice.bin", b"two")
    assert r.status_code == 204
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, r.headers["CMI-Receipt"],
                    server.audit_log)
    assert out.returncode == 0, out.stdout


def test_no_receipt_where_not_enabled(server):
    r = requests.get(server.url("/audit/hello.txt"), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200 and "CMI-Receipt" not in r.headers
    end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])[1]
    assert end["receipt"] is None


def test_begin_line_altered_and_rechained_fails_the_receipt(server, tmp_path):
    """An insider changes the begin line of an operation the client holds a
    receipt for (here: where the request came from) and recomputes every later
    prev, with no checkpoint after it: the chain alone verifies, the receipt
    does not."""
    put(server, "earlier.bin", b"an earlier operation")  # (the first record of a log is checkpointed)
    r = put(server, "rechained.bin", b"what the provider sent")
    value = r.headers["CMI-Receipt"]
    txid = r.headers["CMI-Transaction-ID"]
    put(server, "later.bin", b"a later operation")  # lines after it to re-chain
    lines = read_lines(server.audit_log)
    at = next(i for i, l in enumerate(lines) if txid.encode() in l and b'"ev":"begin"' in l)
    assert b'"ev":"checkpoint"' not in b"".join(lines[at:])  # nothing signed after it
    altered = list(lines)
    altered[at] = lines[at].replace(b'"peer":"127.0.0.1"', b'"peer":"203.0.113.66"')
    assert altered[at] != lines[at]
    forged = tmp_path / "forged.log"
    forged.write_bytes(b"".join(rechain(altered, at)))
    assert cmi_audit(server.build_dir, "verify", forged).returncode == 0  # the chain alone cannot tell
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, value, forged)
    assert out.returncode == 1, out.stdout
    assert f"the record seq {json.loads(lines[at])['seq']}" in out.stdout and "is not the begin line" in out.stdout
    # The untouched log: the same receipt verifies.
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, value, server.audit_log)
    assert out.returncode == 0 and "is the line it was issued for" in out.stdout, out.stdout
