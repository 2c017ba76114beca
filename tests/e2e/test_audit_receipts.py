"""mod_cmi_audit: signed CMI-Receipt headers (CMIAuditReceipts On)."""
import base64
import hashlib
import json
import re
import subprocess

import pytest
import requests

from cmi_e2e.audit import cmi_audit, records_of
from test_audit_signing import make_key

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

RECEIPT = re.compile(r'^txid="([0-9a-f-]{36})", hash=:([A-Za-z0-9+/=]+):, sig=:([A-Za-z0-9+/=]+):, keyid="([0-9a-f]{64})"$')


@pytest.fixture(params=["ed25519", "p256"])
def server(request, httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"receipt-{request.param}")
    key, pub = make_key(d, request.param)
    log = httpd.root / "logs" / f"audit-receipts-{d.name}.log"
    (httpd.docroot / "audit").mkdir(exist_ok=True)
    (httpd.docroot / "audit" / "hello.txt").write_text("hello audit\n")
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
    assert m and m.group(1) == r.headers["CMI-Transaction-ID"]
    begin, end = records_of(server.audit_log, m.group(1))
    assert end["receipt"] == value
    # The hash is over the canonical facts (docs/audit-log.md).
    facts = {"txid": m.group(1), "time": begin["time"], "user": None, "method": "PUT",
             "uri": f"/dav/{server.key_alg}-receipt.bin",
             "digest": "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":",
             "status": 201}
    canonical = json.dumps(facts, separators=(",", ":")).encode()
    assert base64.b64decode(m.group(2)) == hashlib.sha256(canonical).digest()
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, value, server.audit_log)
    assert out.returncode == 0, out.stdout + out.stderr


def test_changed_receipt_is_rejected(server):
    r = put(server, "receipt2.bin", b"abc")
    value = r.headers["CMI-Receipt"]
    m = RECEIPT.match(value)
    hash_bytes = bytearray(base64.b64decode(m.group(2)))
    hash_bytes[0] ^= 1
    forged = value.replace(m.group(2), base64.b64encode(bytes(hash_bytes)).decode())
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, forged, server.audit_log)
    assert out.returncode == 1 and "signature does not verify" in out.stdout
    sig = bytearray(base64.b64decode(m.group(3)))
    sig[len(sig) // 2] ^= 1
    forged = value.replace(m.group(3), base64.b64encode(bytes(sig)).decode())
    assert cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, forged,
                     server.audit_log).returncode == 1


def test_receipt_of_other_log_is_rejected(server, tmp_path):
    r = put(server, "receipt3.bin", b"abc")
    other = tmp_path / "other.log"
    lines = [l for l in server.audit_log.read_bytes().splitlines(keepends=True)
             if r.headers["CMI-Transaction-ID"].encode() not in l]
    other.write_bytes(b"".join(lines[:2]))
    out = cmi_audit(server.build_dir, "receipt", "--key", server.audit_pub, r.headers["CMI-Receipt"], other)
    assert out.returncode == 1


def test_receipt_verifies_with_openssl_recipe(server, tmp_path):
    r = put(server, "receipt4.bin", b"recipe")
    m = RECEIPT.match(r.headers["CMI-Receipt"])
    (tmp_path / "hash.bin").write_bytes(base64.b64decode(m.group(2)))
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(m.group(3)))
    if server.key_alg == "ed25519":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(server.audit_pub), "-rawin",
               "-in", str(tmp_path / "hash.bin"), "-sigfile", str(tmp_path / "sig.bin")]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-verify", str(server.audit_pub), "-signature",
               str(tmp_path / "sig.bin"), str(tmp_path / "hash.bin")]
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
