"""Evidence of origin (issue 15.3): the provider's own signature of every
validated upload is kept beside the log, named by its SHA-256 in the chained
begin record, and `cmi-audit evidence TXID LOG... --out DIR` gives it back in
files that openssl (python3-cryptography, xmlsec1) checks with nothing of this
project in the loop — after a rotation and compression too."""
import base64
import gzip
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cmi_e2e.audit import cmi_audit, records_of
from cmi_e2e.content import cms_sign, write_cgi, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem
from test_content_manifest import cms_b64, item, manifest, xmlsec1_sign

CONFIG = """
<Location /dav/ev-cms/>
    CMIContentValidation Required
    CMIContentFormats cms
    CMIContentTrustAnchors "{ca}"
    CMIAudit On
    CMIAuditOperation ContentUpload
</Location>
<Location /dav/ev-hs/>
    CMIContentValidation Required
    CMIContentFormats http-signature
    CMIContentSignerKeys "{keys}"
    CMIAudit On
    CMIAuditOperation ContentUpload
</Location>
<Location /dav/ev-plain/>
    CMIAudit On
</Location>
ScriptAlias /ev-ingest/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /ev-ingest/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIAudit On
    CMIAuditOperation ContentUpload
</Location>
"""

INGEST_CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
"""

PASSWORD = "Ev1dence-Pa55w0rd"


@pytest.fixture(scope="module")
def server(httpd, tmp_path_factory):
    root = httpd.root
    keys_dir = root / "conf" / "evidence-keys"
    keys_dir.mkdir(exist_ok=True)
    keys = {alg: new_key(alg) for alg in ("ed25519", "ecdsa-p256-sha256")}
    for alg, key in keys.items():
        (keys_dir / f"ev-{alg}.pem").write_bytes(public_pem(key))
    for sub in ("ev-cms", "ev-hs", "ev-plain"):
        www_owned_dir(httpd.dav_dir / sub)
    staging = www_owned_dir(httpd.dav_dir / "ev-staging")
    cgi = root / "cgi-bin-evidence"
    write_cgi(cgi / "ingest.sh", INGEST_CGI)
    logdir = root / "logs" / "evidence"  # its own directory: its own cmi-evidence beside it
    logdir.mkdir(exist_ok=True)
    log = logdir / "cmi-audit.log"
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=keys_dir, cgi=cgi, staging=staging),
                    server_snippet=f'CMIAuditLog "{log}"\n')
    httpd.ev_log, httpd.ev_keys, httpd.ev_staging = log, keys, staging
    httpd.ev_store = logdir / "cmi-evidence"
    return httpd


def begin_of(server, r) -> dict:
    return records_of(server.ev_log, r.headers["CMI-Transaction-ID"])[0]


def evidence(server, txid, out: Path, *logs, extra=()):
    res = cmi_audit(server.build_dir, "evidence", txid, *(logs or [server.ev_log]), "--out", out, *extra)
    return res


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def cms_upload(server, tmp_path, name, body):
    sig = cms_sign(body, server.pki.client, tmp_path)
    r = requests.put(server.url(f"/dav/ev-cms/{name}"), data=body, headers={"CMI-Content-Signature": sig},
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 201, r.text
    return r, sig


def hs_upload(server, name, body, alg):
    url = server.url(f"/dav/ev-hs/{name}")
    # Ed25519 without the alg parameter (the key says it), ECDSA with it.
    h = sign_request("PUT", url, body, server.ev_keys[alg], f"ev-{alg}", None if alg == "ed25519" else alg)
    r = requests.put(url, data=body, headers=h, verify=str(server.pki.ca_cert), timeout=30)
    return r, h


# --- CMS ------------------------------------------------------------------------------------

def test_cms_upload_evidence_verifies_with_openssl_alone(server, tmp_path):
    body = os.urandom(70_000)
    r, sig = cms_upload(server, tmp_path, "signed.bin", body)
    txid = r.headers["CMI-Transaction-ID"]
    begin = begin_of(server, r)
    der = base64.b64decode(sig)
    assert begin["evidence"] == [{"kind": "cms", "name": None, "sha256": hashlib.sha256(der).hexdigest(),
                                  "bytes": len(der)}]
    kept = server.ev_store / begin["evidence"][0]["sha256"][:2] / begin["evidence"][0]["sha256"]
    assert kept.read_bytes() == der  # the provider's SignedData as sent, certificates and all

    out = tmp_path / "out"
    res = evidence(server, txid, out)
    assert res.returncode == 0, res.stdout + res.stderr
    p7s = out / f"{txid}.p7s"
    assert p7s.read_bytes() == der
    original = tmp_path / "original.bin"
    original.write_bytes(body)
    check = run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s), "-content",
                 str(original), "-CAfile", str(server.pki.ca_cert), "-purpose", "any", "-out", "/dev/null"])
    assert check.returncode == 0 and "Verification successful" in check.stderr, check.stderr
    assert f"openssl cms -verify -binary -inform DER -in {p7s}" in res.stdout
    # The signature is over this content and no other.
    original.write_bytes(body[:-1] + bytes([body[-1] ^ 1]))
    assert run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s), "-content",
                str(original), "-CAfile", str(server.pki.ca_cert), "-purpose", "any",
                "-out", "/dev/null"]).returncode != 0


def test_altered_or_missing_evidence_is_reported(server, tmp_path):
    r, _ = cms_upload(server, tmp_path, "tampered.bin", os.urandom(1000))
    txid = r.headers["CMI-Transaction-ID"]
    sha = begin_of(server, r)["evidence"][0]["sha256"]
    kept = server.ev_store / sha[:2] / sha
    good = kept.read_bytes()
    try:
        kept.chmod(0o640)
        kept.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # an insider swaps the signature
        res = evidence(server, txid, tmp_path / "a")
        assert res.returncode == 1 and "was altered" in res.stdout, res.stdout
        out = cmi_audit(server.build_dir, "verify", "--evidence", server.ev_log)
        assert out.returncode == 1 and "was altered" in out.stdout, out.stdout
        kept.unlink()
        res = evidence(server, txid, tmp_path / "b")
        assert res.returncode == 1 and "is missing" in res.stdout, res.stdout
        out = cmi_audit(server.build_dir, "verify", "--evidence", server.ev_log)
        seq = begin_of(server, r)["seq"]
        assert out.returncode == 1 and f"seq {seq}: evidence file" in out.stdout and "is missing" in out.stdout
    finally:
        kept.write_bytes(good)
    out = cmi_audit(server.build_dir, "verify", "--evidence", server.ev_log)
    assert out.returncode == 0 and " evidence files as recorded" in out.stdout, out.stdout


def test_a_client_txid_naming_several_operations_is_refused(server, tmp_path):
    """`cmi-audit evidence` also takes a CMI-Client-Transaction-ID, which clients
    choose: a provider who sends another's (here first) must not have its own
    signature handed out as the evidence of the other's upload."""
    cid = "order-" + os.urandom(6).hex()
    ids, ders = [], []
    for n in range(2):
        body = os.urandom(500)
        sig = cms_sign(body, server.pki.client, tmp_path)
        r = requests.put(server.url(f"/dav/ev-cms/cid-{n}.bin"), data=body, verify=str(server.pki.ca_cert),
                         headers={"CMI-Content-Signature": sig, "CMI-Client-Transaction-ID": cid}, timeout=30)
        assert r.status_code == 201, r.text
        ids.append(r.headers["CMI-Transaction-ID"])
        ders.append(base64.b64decode(sig))
        records_of(server.ev_log, ids[-1])
    res = evidence(server, cid, tmp_path / "any")
    assert res.returncode == 1, res.stdout
    assert "2 operations carry" in res.stdout and ids[0] in res.stdout and ids[1] in res.stdout, res.stdout
    assert not (tmp_path / "any").exists()
    res = evidence(server, ids[1], tmp_path / "second")  # by its txid: exactly that upload
    assert res.returncode == 0, res.stdout
    assert (tmp_path / "second" / f"{ids[1]}.p7s").read_bytes() == ders[1]


def test_the_chain_covers_the_evidence_hash(server, tmp_path):
    r, _ = cms_upload(server, tmp_path, "chained.bin", os.urandom(1000))
    txid = r.headers["CMI-Transaction-ID"]
    sha = begin_of(server, r)["evidence"][0]["sha256"]  # (waits for the end record after it)
    lines = server.ev_log.read_bytes().splitlines(keepends=True)
    at = next(i for i, l in enumerate(lines) if txid.encode() in l and b'"ev":"begin"' in l)
    forged = tmp_path / "forged.log"
    # Pointing the record at other evidence changes the begin line: the chain breaks after it.
    lines[at] = lines[at].replace(sha.encode(), hashlib.sha256(b"other").hexdigest().encode())
    forged.write_bytes(b"".join(lines))
    res = evidence(server, txid, tmp_path / "out", forged, extra=("--store", str(server.ev_store)))
    assert res.returncode == 1 and "chain broken" in res.stdout, res.stdout


def test_uploads_without_a_signature_name_no_evidence(server, tmp_path):
    r = requests.put(server.url("/dav/ev-plain/unsigned.bin"), data=b"plain", verify=str(server.pki.ca_cert),
                     timeout=30)
    assert r.status_code == 201
    assert begin_of(server, r)["evidence"] is None
    res = evidence(server, r.headers["CMI-Transaction-ID"], tmp_path / "out")
    assert res.returncode == 1 and "names no evidence of origin" in res.stdout


# --- RFC 9421 -------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ed25519", "ecdsa-p256-sha256"])
def test_http_signature_evidence_verifies_with_python_cryptography(server, tmp_path, alg):
    body = os.urandom(5000)
    r, h = hs_upload(server, f"hs-{alg}.bin", body, alg)
    assert r.status_code == 201, r.text
    txid = r.headers["CMI-Transaction-ID"]
    kinds = [e["kind"] for e in begin_of(server, r)["evidence"]]
    assert kinds == ["http-signature-base", "http-signature", "http-signature-key"]
    out = tmp_path / "out"
    res = evidence(server, txid, out)
    assert res.returncode == 0, res.stdout + res.stderr
    base = (out / f"{txid}.base").read_bytes()
    sig = (out / f"{txid}.sig").read_bytes()
    assert (out / f"{txid}.keyid").read_text() == f"ev-{alg}\n"
    assert sig == base64.b64decode(re.search(r"=:([^:]+):", h["Signature"]).group(1))
    assert f'"content-digest": {h["Content-Digest"]}'.encode() in base  # binds the body
    key = serialization.load_pem_public_key((out / f"{txid}.pub.pem").read_bytes())
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_entry = begin_of(server, r)["evidence"][2]
    assert key_entry["sha256"] == hashlib.sha256(spki).hexdigest() and key_entry["name"] == f"ev-{alg}"
    assert spki == server.ev_keys[alg].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if alg == "ed25519":
        key.verify(sig, base)  # raises if it does not verify
    else:
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, base, ec.ECDSA(hashes.SHA256()))
    # The openssl command the tool prints works as printed.
    cmd = re.search(r"check: (openssl (pkeyutl|dgst) [^\n(]+)", res.stdout).group(1).strip()
    check = run(["bash", "-c", cmd])
    assert check.returncode == 0 and "Verified" in check.stdout + check.stderr, cmd + check.stdout + check.stderr


def test_credentials_in_a_signed_base_are_never_kept(server, tmp_path):
    """The provider signed over its Authorization header: the evidence keeps the
    value's SHA-256 only, never the credential."""
    body = b"signed with the credential covered"
    basic = "Basic " + base64.b64encode(f"provider-a:{PASSWORD}".encode()).decode()
    url = server.url("/dav/ev-hs/with-auth.bin")
    h = sign_request("PUT", url + "?token=s3cr3t-query", body, server.ev_keys["ed25519"], "ev-ed25519", None,
                     components=("@method", "@target-uri", "content-digest", "authorization"),
                     headers={"Authorization": basic})
    r = requests.put(url + "?token=s3cr3t-query", data=body, headers=h, verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 201, r.text
    txid = r.headers["CMI-Transaction-ID"]
    res = evidence(server, txid, tmp_path / "out")
    assert res.returncode == 0 and "NOTE: the base covered a credential" in res.stdout, res.stdout
    base = (tmp_path / "out" / f"{txid}.base").read_text()
    want = "sha-256=:" + base64.b64encode(hashlib.sha256(basic.encode()).digest()).decode() + ":"
    assert f'"authorization": [redacted: {want}]' in base, base
    assert "?[redacted: sha-256=:" in base and "s3cr3t-query" not in base
    secret = base64.b64encode(f"provider-a:{PASSWORD}".encode())
    for f in list(server.ev_store.rglob("*")) + [server.ev_log]:
        if f.is_file():
            data = f.read_bytes()
            assert secret not in data and PASSWORD.encode() not in data and b"s3cr3t-query" not in data, f


# --- manifests ------------------------------------------------------------------------------

def stage(server, rel, data):
    path = server.ev_staging / rel
    www_owned_dir(path.parent)
    path.write_bytes(data)
    return path


def post_manifest(server, body):
    return requests.post(server.url("/ev-ingest/ingest.sh"), data=body.encode(),
                         headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=60)


def test_manifest_item_signatures_verify_with_openssl(server, tmp_path):
    song, cover = os.urandom(40_000), os.urandom(3000)
    song_path, cover_path = stage(server, "p/song.mp3", song), stage(server, "p/cover.jpg", cover)
    body = manifest(item("song/1", "p/song.mp3", song, cms_b64(song, server.pki.client, tmp_path)),
                    item("cover-1", "p/cover.jpg", cover, cms_b64(cover, server.pki.client, tmp_path)))
    r = post_manifest(server, body)
    assert r.status_code == 200 and "validation=valid" in r.text, r.text
    txid = r.headers["CMI-Transaction-ID"]
    assert [e["kind"] for e in begin_of(server, r)["evidence"]] == ["manifest-items"]
    out = tmp_path / "out"
    res = evidence(server, txid, out)
    assert res.returncode == 0, res.stdout + res.stderr
    for name, staged in ((f"{txid}-song_1.p7s", song_path), (f"{txid}-cover-1.p7s", cover_path)):
        check = run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(out / name), "-content",
                     str(staged), "-CAfile", str(server.pki.ca_cert), "-purpose", "any", "-out", "/dev/null"])
        assert check.returncode == 0, (name, check.stderr)
    assert "item 'song/1' (location p/song.mp3)" in res.stdout
    # Each item's signature against the other item's content fails.
    assert run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(out / f"{txid}-cover-1.p7s"),
                "-content", str(song_path), "-CAfile", str(server.pki.ca_cert), "-purpose", "any",
                "-out", "/dev/null"]).returncode != 0


def test_xmldsig_manifest_is_kept_as_received_and_verifies(server, tmp_path):
    data = os.urandom(8000)
    stage(server, "p/track.bin", data)
    signed = xmlsec1_sign(manifest(item("t-1", "p/track.bin", data)), server.pki.client_b, tmp_path)
    r = post_manifest(server, signed)
    assert r.status_code == 200 and "validation=valid" in r.text, r.text
    txid = r.headers["CMI-Transaction-ID"]
    out = tmp_path / "out"
    res = evidence(server, txid, out)
    assert res.returncode == 0, res.stdout + res.stderr
    kept = out / f"{txid}.manifest.xml"
    assert kept.read_bytes() == signed.encode()
    check = run(["xmlsec1", "--verify", "--trusted-pem", str(server.pki.ca_cert), str(kept)])
    assert check.returncode == 0, check.stderr
    assert f"xmlsec1 --verify --trusted-pem ca.pem {kept}" in res.stdout


# --- rotation, and the store failing ----------------------------------------------------------

def test_evidence_after_rotation_and_compression(server, tmp_path):
    body = os.urandom(2000)
    r, sig = cms_upload(server, tmp_path, "rotated.bin", body)
    txid = r.headers["CMI-Transaction-ID"]
    records_of(server.ev_log, txid)
    # A rotation as logrotate does it: mv, graceful restart, then compress.
    moved, rotated = server.ev_log.with_name("cmi-audit.log.1"), server.ev_log.with_name("cmi-audit.log.1.gz")
    os.rename(server.ev_log, moved)
    server.signal_restart(graceful=True)
    r2, _ = cms_upload(server, tmp_path, "after.bin", b"after the rotation")
    with open(moved, "rb") as src, gzip.open(rotated, "wb") as dst:
        shutil.copyfileobj(src, dst)
    moved.unlink()
    records_of(server.ev_log, r2.headers["CMI-Transaction-ID"])
    try:
        out = tmp_path / "out"
        res = run(["bash", "-c", f'"{server.build_dir}/tools/cmi-audit/cmi-audit" evidence {txid} '
                                 f'"{server.ev_log.parent}"/cmi-audit.log* --out "{out}"'])
        assert res.returncode == 0, res.stdout + res.stderr
        original = tmp_path / "original.bin"
        original.write_bytes(body)
        check = run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(out / f"{txid}.p7s"),
                     "-content", str(original), "-CAfile", str(server.pki.ca_cert), "-purpose", "any",
                     "-out", "/dev/null"])
        assert check.returncode == 0, check.stderr
    finally:
        rotated.unlink()  # the next test's log starts from the current file


def test_an_evidence_store_the_children_cannot_write_fails_closed(httpd, tmp_path):
    store = httpd.root / "var" / "ev-readonly"
    store.mkdir(parents=True, exist_ok=True)
    store.chmod(0o555)
    log = httpd.root / "logs" / "evidence-readonly.log"
    www_owned_dir(httpd.dav_dir / "ev-cms")
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=httpd.root, cgi=httpd.root, staging=httpd.root),
                    server_snippet=f'CMIAuditLog "{log}"\nCMIAuditEvidenceStore "{store}"\n')
    httpd.expect_error(r"audit log .*: cannot make the begin record .* cannot keep the evidence of origin: cannot create")
    httpd.expect_error(r"audit log .*: end record NOT recorded \(its begin record is missing\)")
    body = b"refused without evidence"
    sig = cms_sign(body, httpd.pki.client, tmp_path)
    offset = httpd.log_size()
    r = requests.put(httpd.url("/dav/ev-cms/no-evidence.bin"), data=body, headers={"CMI-Content-Signature": sig},
                     verify=str(httpd.pki.ca_cert), timeout=30)
    assert_problem(r, 503, "audit-unavailable")
    assert not (httpd.dav_dir / "ev-cms" / "no-evidence.bin").exists()
    # The end record's line is logged after the response went out: wait for it,
    # or it lands in the next test's error-log check.
    assert httpd.wait_for_log("end record NOT recorded (its begin record is missing)", offset)


def test_store_under_a_log_directory_the_children_cannot_enter(httpd, tmp_path):
    """As on Debian, where /var/log/apache2 is root:adm 0750: the children reach
    the store through the descriptor the root parent opened."""
    logdir = httpd.root / "logs" / "evidence-private"
    logdir.mkdir(exist_ok=True)
    logdir.chmod(0o700)
    log = logdir / "cmi-audit.log"
    www_owned_dir(httpd.dav_dir / "ev-cms")
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=httpd.root, cgi=httpd.root, staging=httpd.root),
                    server_snippet=f'CMIAuditLog "{log}"\n')
    body = os.urandom(3000)
    sig = cms_sign(body, httpd.pki.client, tmp_path)
    r = requests.put(httpd.url("/dav/ev-cms/private.bin"), data=body, headers={"CMI-Content-Signature": sig},
                     verify=str(httpd.pki.ca_cert), timeout=30)
    assert r.status_code == 201, r.text
    txid = r.headers["CMI-Transaction-ID"]
    begin = records_of(log, txid)[0]
    sha = begin["evidence"][0]["sha256"]
    assert (logdir / "cmi-evidence" / sha[:2] / sha).read_bytes() == base64.b64decode(sig)
    res = cmi_audit(httpd.build_dir, "evidence", txid, log, "--out", tmp_path / "out")
    assert res.returncode == 0, res.stdout
