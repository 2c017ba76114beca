"""mod_cmi_audit: signed checkpoints over the chain head (CMIAuditSigningKey)."""
import hashlib
import json
import subprocess

import pytest
import requests

from cmi_e2e.audit import audited_page, cmi_audit, read_lines, records_of

LOCATIONS = """
<Location /audit>
    CMIAudit On
</Location>
"""


def make_key(directory, alg):
    key, pub = directory / f"{alg}.key", directory / f"{alg}.pub.pem"
    if alg == "ed25519":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    key.chmod(0o600)
    return key, pub


@pytest.fixture(params=["ed25519", "p256"])
def signed(request, httpd, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"keys-{request.param}")
    key, pub = make_key(d, request.param)
    _, other_pub = make_key(tmp_path_factory.mktemp("other"), request.param)
    log = httpd.root / "logs" / f"audit-signed-{d.name}.log"  # a fresh log per key
    audited_page(httpd)
    httpd.configure(LOCATIONS, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"\n'
                                              f'CMIAuditCheckpoint 5 60')
    for _ in range(8):
        r = requests.get(httpd.url("/audit/hello.txt"), verify=str(httpd.pki.ca_cert), timeout=30)
        records_of(log, r.headers["CMI-Transaction-ID"])
    return httpd, log, pub, other_pub


def rechain(lines, start):
    """An attacker who rewrites every prev after line `start` keeps the chain intact."""
    out = list(lines[:start + 1])
    for line in lines[start + 1:]:
        rec = json.loads(line)
        rec["prev"] = hashlib.sha256(out[-1]).hexdigest()
        out.append((json.dumps(rec, separators=(",", ":")) + "\n").encode())
    return out


def test_checkpoints_are_written_and_verify(signed):
    httpd, log, pub, _ = signed
    recs = [json.loads(l) for l in read_lines(log)]
    cps = [r for r in recs if r["ev"] == "checkpoint"]
    assert len(cps) >= 2
    assert all(c["checkpoint"]["sig"] and len(c["checkpoint"]["keyid"]) == 64 for c in cps)
    out = cmi_audit(httpd.build_dir, "verify", "--key", pub, log)
    assert out.returncode == 0, out.stdout
    assert "checkpoints verified" in out.stdout


def test_other_key_fails(signed):
    httpd, log, _, other_pub = signed
    out = cmi_audit(httpd.build_dir, "verify", "--key", other_pub, log)
    assert out.returncode == 1 and "another key" in out.stdout, out.stdout


def test_rewritten_chain_is_caught_by_checkpoint(signed, tmp_path):
    httpd, log, pub, _ = signed
    lines = read_lines(log)
    first_cp = next(i for i, l in enumerate(lines) if json.loads(l)["ev"] == "checkpoint")
    victim = first_cp + 1
    rec = json.loads(lines[victim])
    rec["uri"] = "/audit/forged"
    lines[victim] = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
    forged = tmp_path / "forged.log"
    forged.write_bytes(b"".join(rechain(lines, victim)))
    assert cmi_audit(httpd.build_dir, "verify", forged).returncode == 0  # the chain alone cannot tell
    out = cmi_audit(httpd.build_dir, "verify", "--key", pub, forged)
    assert out.returncode == 1 and "checkpoint signature does not verify" in out.stdout, out.stdout
    next_cp = next(json.loads(l)["seq"] for l in lines[victim:] if json.loads(l)["ev"] == "checkpoint")
    assert f"seq {next_cp}" in out.stdout


def test_dropped_checkpoint_signature_fails(signed, tmp_path):
    httpd, log, pub, _ = signed
    lines = read_lines(log)
    i = next(i for i, l in enumerate(lines) if json.loads(l)["ev"] == "checkpoint")
    rec = json.loads(lines[i])
    del rec["checkpoint"]["sig"]
    lines[i] = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
    bad = tmp_path / "nosig.log"
    bad.write_bytes(b"".join(rechain(lines, i)))
    out = cmi_audit(httpd.build_dir, "verify", "--key", pub, bad)
    assert out.returncode == 1 and f"seq {rec['seq']}" in out.stdout and "no signature" in out.stdout


def test_checkpoint_verifies_with_openssl_alone(signed, tmp_path):
    httpd, log, pub, _ = signed
    import base64
    cp = next(json.loads(l) for l in read_lines(log) if json.loads(l)["ev"] == "checkpoint")
    msg = tmp_path / "msg"
    msg.write_bytes(f"cmi-audit checkpoint v1\n{cp['seq']}\n{cp['prev']}\n".encode())
    sig = tmp_path / "sig"
    sig.write_bytes(base64.b64decode(cp["checkpoint"]["sig"]))
    if cp["checkpoint"]["alg"] == "ed25519":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in", str(msg),
               "-sigfile", str(sig)]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(msg)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("kind", ["rsa", "encrypted", "not-a-key"])
def test_unusable_signing_key_fails_configtest_naming_the_directive(httpd, tmp_path, kind):
    key = tmp_path / f"{kind}.pem"
    if kind == "rsa":
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(key)], check=True, capture_output=True)
    elif kind == "encrypted":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-aes-128-cbc", "-pass", "pass:x",
                        "-out", str(key)], check=True, capture_output=True)
    else:
        key.write_text("hello\n")
    httpd.configtest_refuses("CMIAuditSigningKey", str(key), "Ed25519 or ECDSA P-256",
                             server_snippet=f'CMIAuditLog "{httpd.root}/logs/audit-badkey.log"\n'
                                            f'CMIAuditSigningKey "{key}"\n')
