"""Issue 17 item 5: a captured signed upload cannot be replayed to another target.

A CMS signature covers only the content: each accepted one is remembered (by what it
signs, not by its encoding) in the content replay cache; the same signature again on the
same target is an idempotent retry, on any other target it is `409 signature-reused`.
A signingTime must lie within CMIContentSignatureMaxAge. An RFC 9421 signature must
cover its target (@target-uri, or @path — with @authority where several hosts are served)."""
import base64
import datetime
import os
import subprocess

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from cmi_e2e.clients import curl
from cmi_e2e.cms_build import CmsSigner, other_ecdsa_s, without_leading_signature_byte
from cmi_e2e.content import cmi_sign, cms_sign, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

CONFIG = """
<Location /dav/rt/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
</Location>
<Location /dav/rt/short/>
    CMIContentSignatureMaxAge 120
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    keys = httpd.root / "conf" / "rt-keys"
    keys.mkdir(exist_ok=True)
    httpd.rt_key = new_key("ed25519")
    (keys / "rt.pem").write_bytes(public_pem(httpd.rt_key))
    httpd.rt_keys = keys
    httpd.rt = www_owned_dir(httpd.dav_dir / "rt")
    www_owned_dir(httpd.rt / "short")
    httpd.rt_config = CONFIG.format(ca=httpd.pki.ca_cert, keys=keys)
    httpd.configure(httpd.rt_config)
    return httpd


def put(server, path, body, headers, url=None, proto="--http1.1", *extra):
    h = []
    for k, v in headers.items():
        h += ["-H", f"{k}: {v}"]
    return curl(url or server.url(path), "-X", "PUT", proto, *h, *extra, ca=server.pki.ca_cert, data=body,
                early_answer_ok=True)


def cms(server, tmp_path, body):
    return {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp_path)}


# --- CMS: replay to another target ----------------------------------------------------

@pytest.mark.parametrize("proto", ["--http1.1", "--http2"])
def test_captured_cms_upload_replayed_to_another_path_is_refused(server, tmp_path, proto):
    body = os.urandom(20_000)
    h = cms(server, tmp_path, body)
    name = proto.strip("-").replace(".", "")
    assert put(server, f"/dav/rt/a-{name}.bin", body, h, proto=proto).status == 201
    r = put(server, f"/dav/rt/b-{name}.bin", body, h, proto=proto)
    doc = assert_problem(r, 409, "signature-reused")
    assert f"/dav/rt/a-{name}.bin" not in doc["detail"]  # where it went first is not told
    assert not (server.rt / f"b-{name}.bin").exists()


def test_retry_on_the_same_target_is_accepted(server, tmp_path):
    body = os.urandom(5000)
    h = cms(server, tmp_path, body)
    assert put(server, "/dav/rt/retry.bin", body, h).status == 201
    assert put(server, "/dav/rt/retry.bin", body, h).status == 204
    # The same target spelled otherwise: dot segments, host name case.
    assert put(server, "/dav/rt/./x/../retry.bin", body, h, None, "--http1.1", "--path-as-is").status == 204
    host = f"LOCALHOST:{server.https_port}"
    assert put(server, "/dav/rt/retry.bin", body, {**h, "Host": host}).status == 204
    assert (server.rt / "retry.bin").read_bytes() == body


@pytest.mark.parametrize("variant", ["query", "method", "host"])
def test_another_query_method_or_host_is_another_target(server, tmp_path, variant):
    body = os.urandom(3000)
    h = cms(server, tmp_path, body)
    path = f"/dav/rt/variant-{variant}.bin"
    assert put(server, path, body, h).status == 201
    if variant == "query":
        r = put(server, path + "?to=elsewhere", body, h)
    elif variant == "method":
        r = requests.post(server.url(path), data=body, headers=h, verify=str(server.pki.ca_cert), timeout=30)
    else:
        r = put(server, path, body, {**h, "Host": f"127.0.0.1:{server.https_port}"})
    assert_problem(r, 409, "signature-reused")


def test_a_failed_upload_binds_its_signature_to_its_target(server, tmp_path):
    # The headers were accepted, so the signature is recorded for that target even
    # though the body then failed: it can be retried there, not used elsewhere.
    server.expect_error(r"dav:error.*reading the request body")
    body = os.urandom(4000)
    h = cms(server, tmp_path, body)
    r = put(server, "/dav/rt/failed.bin", body[::-1], h)
    assert_problem(r, 422, "digest-mismatch")
    assert put(server, "/dav/rt/failed.bin", body, h).status == 201
    assert_problem(put(server, "/dav/rt/failed-elsewhere.bin", body, h), 409, "signature-reused")


def test_reencoded_signature_is_the_same_signature(server):
    # An attacker cannot sign, but can re-encode a captured CMS: more certificates,
    # or the other ECDSA s (n - s verifies just the same). Each is the same signature.
    signer = CmsSigner(server.pki.client)
    body = os.urandom(6000)
    attrs = signer.signed_attrs(body)
    sig = signer.signature(attrs)
    assert put(server, "/dav/rt/enc-1.bin", body, {"CMI-Content-Signature": signer.encode(attrs, sig)}).status == 201
    extra = x509.load_pem_x509_certificate(server.pki.ca_cert.read_bytes())
    for header in (signer.encode(attrs, sig, extra_certs=(extra,)), signer.encode(attrs, other_ecdsa_s(sig))):
        r = put(server, "/dav/rt/enc-2.bin", body, {"CMI-Content-Signature": header})
        assert_problem(r, 409, "signature-reused")
    assert not (server.rt / "enc-2.bin").exists()


def test_rsa_pss_signature_without_its_leading_zero_is_the_same_signature(server, tmp_path):
    # OpenSSL accepts an RSA-PSS signature value shorter than the modulus (a leading
    # zero byte left out): the same signature, a second encoding of its value.
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cred = server.pki.issue("rt-pss", "rt-pss", [ExtendedKeyUsageOID.EMAIL_PROTECTION], key=rsa_key)
    src, out = tmp_path / "pss.bin", tmp_path / "pss.p7s"
    for i in range(4000):  # PSS is randomised: about one signature in 256 begins with a zero byte
        src.write_bytes(b"pss content %d\n" % i)
        subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(src), "-signer",
                        str(cred.cert), "-inkey", str(cred.key), "-keyopt", "rsa_padding_mode:pss", "-out", str(out)],
                       check=True, capture_output=True)
        der = out.read_bytes()
        if der[-256] == 0:
            break
    else:
        pytest.fail("no RSA-PSS signature beginning with a zero byte in 4000")
    body = src.read_bytes()
    assert put(server, "/dav/rt/pss-1.bin", body, {"CMI-Content-Signature": base64.b64encode(der).decode()}).status == 201
    short = base64.b64encode(without_leading_signature_byte(der)).decode()
    assert_problem(put(server, "/dav/rt/pss-2.bin", body, {"CMI-Content-Signature": short}), 409, "signature-reused")
    assert not (server.rt / "pss-2.bin").exists()


# --- CMS: signingTime -------------------------------------------------------------------

def ago(seconds):
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("path,age,ok", [
    ("/dav/rt/st-fresh.bin", 30, True),
    ("/dav/rt/st-old.bin", 3600, False),          # default CMIContentSignatureMaxAge 300
    ("/dav/rt/st-future.bin", -600, False),       # beyond the 60 s clock skew
    ("/dav/rt/short/st-200.bin", 200, False),     # CMIContentSignatureMaxAge 120
    ("/dav/rt/short/st-100.bin", 100, True),
])
def test_signing_time_must_be_within_max_age(server, path, age, ok):
    body = os.urandom(2000)
    header = CmsSigner(server.pki.client).sign(body, signing_time=ago(age))
    r = put(server, path, body, {"CMI-Content-Signature": header})
    if ok:
        assert r.status == 201, r.body
    else:
        doc = assert_problem(r, 422, "signature-invalid")
        assert "signingTime" in doc["detail"]


def test_signature_without_signing_time_is_accepted_once_per_target(server):
    body = os.urandom(2000)
    header = CmsSigner(server.pki.client).sign(body, signing_time=None)
    assert put(server, "/dav/rt/no-st.bin", body, {"CMI-Content-Signature": header}).status == 201
    assert_problem(put(server, "/dav/rt/no-st-2.bin", body, {"CMI-Content-Signature": header}), 409,
                   "signature-reused")


# --- RFC 9421: the target must be covered -------------------------------------------------

def hs(server, path, body, components, url=None):
    return sign_request("PUT", url or server.url(path), body, server.rt_key, "rt", "ed25519", components=components)


@pytest.mark.parametrize("components", [
    ("@method", "content-digest"),
    ("@method", "content-digest", "@authority"),
    ("@method", "content-digest", "@query"),
])
def test_http_signature_not_covering_the_target_is_refused(server, components):
    body = os.urandom(1000)
    r = put(server, "/dav/rt/hs-nocover.bin", body, hs(server, "/dav/rt/hs-nocover.bin", body, components))
    doc = assert_problem(r, 400, "signature-malformed")
    assert "@target-uri" in doc["detail"] and "@path" in doc["detail"]
    assert not (server.rt / "hs-nocover.bin").exists()


@pytest.mark.parametrize("components", [
    ("@method", "@target-uri", "content-digest"),
    ("@method", "@path", "content-digest"),
    ("@method", "@request-target", "content-digest"),
])
def test_http_signature_covering_the_target_is_accepted(server, components):
    body = os.urandom(1000)
    name = "hs-" + components[1].strip("@") + ".bin"
    r = put(server, f"/dav/rt/{name}", body, hs(server, f"/dav/rt/{name}", body, components))
    assert r.status == 201, r.body
    # ... and it is bound to its path.
    r = put(server, "/dav/rt/hs-elsewhere.bin", body, hs(server, f"/dav/rt/{name}", body, components))
    assert_problem(r, 422, "signature-invalid")


def test_several_hosts_need_authority_with_path(server):
    # A server answering for several host names: @path alone no longer names the target.
    server.configure(server.rt_config, vhost_snippet="    ServerAlias cmi-other.example")
    try:
        body = os.urandom(1000)
        r = put(server, "/dav/rt/hosts-path.bin", body,
                hs(server, "/dav/rt/hosts-path.bin", body, ("@method", "@path", "content-digest")))
        doc = assert_problem(r, 400, "signature-malformed")
        assert "@authority" in doc["detail"]
        for comps in (("@method", "@authority", "@path", "content-digest"), ("@method", "@target-uri", "content-digest")):
            name = f"hosts-{len(comps)}.bin"
            r = put(server, f"/dav/rt/{name}", body, hs(server, f"/dav/rt/{name}", body, comps))
            assert r.status == 201, r.body
    finally:
        server.configure(server.rt_config)


def test_cmi_sign_http_covers_the_target_by_default(server, tmp_path):
    body = os.urandom(1000)
    (tmp_path / "b").write_bytes(body)
    url = server.url("/dav/rt/cmi-sign.bin")
    key = tmp_path / "k.pem"
    key.write_bytes(server.rt_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    headers = cmi_sign("http", "--key", str(key), "--keyid", "rt", "--url", url, str(tmp_path / "b"))
    assert '"@target-uri"' in headers["Signature-Input"]
    assert put(server, "/dav/rt/cmi-sign.bin", body, headers).status == 201
    # Without --url there is no target to cover: the tool refuses rather than sign
    # something the server would refuse.
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cmi_sign("http", "--key", str(key), "--keyid", "rt", str(tmp_path / "b"))
    assert refused.value.returncode == 1 and "--url" in refused.value.stderr
