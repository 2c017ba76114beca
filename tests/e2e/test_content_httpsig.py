"""mod_cmi_content (CMI §6.4), format `http-signature`: RFC 9421 over RFC 9530 Content-Digest."""
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from cmi_e2e.clients import curl
from cmi_e2e.content import bound_location, cmi_sign, write_cgi, www_owned_dir
from cmi_e2e.httpsig import content_digest, new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

DAV_ERROR = r"dav:error.*reading the request body"
ALGS = ["ed25519", "ecdsa-p256-sha256", "ecdsa-p384-sha384", "rsa-pss-sha512", "rsa-v1_5-sha256"]

CONFIG = """
<Location /dav/>
    CMIContentValidation Required
    CMIContentFormats http-signature
    CMIContentSignerKeys "{keys}"
</Location>
ScriptAlias /cgi-hs/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /cgi-hs/>
    CMIContentValidation Required
    CMIContentSignerKeys "{keys}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
</Location>
ScriptAlias /cgi-hs-optional/ "{cgi}/"
<Location /cgi-hs-optional/>
    CMIContentValidation Optional
    CMIContentFormats http-signature
    CMIContentSignerKeys "{keys}"
</Location>
"""

ENV_CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
echo "format=$CMI_CONTENT_FORMAT"
echo "signer=$CMI_CONTENT_SIGNER"
echo "digest=$CMI_CONTENT_DIGEST"
"""


@pytest.fixture(scope="module")
def server(httpd):
    root = httpd.root
    keys_dir = root / "conf" / "signer-keys"
    keys_dir.mkdir(exist_ok=True)
    keys = {alg: new_key(alg) for alg in ALGS}
    for alg, key in keys.items():
        (keys_dir / f"{alg}.pem").write_bytes(public_pem(key))
    # provider-a is the ed25519 key under the user's name, for signer binding.
    (keys_dir / "provider-a.pem").write_bytes(public_pem(keys["ed25519"]))
    cgi = root / "cgi-bin-hs"
    write_cgi(cgi / "env.sh", ENV_CGI)
    spool = www_owned_dir(root / "var" / "spool-hs")
    httpd.configure(CONFIG.format(keys=keys_dir, cgi=cgi, spool=spool) + bound_location(httpd, "htpasswd-hs"))
    httpd.signer_keys = keys
    httpd.private_keys = {}
    for alg, key in keys.items():
        path = root / "conf" / f"private-{alg}.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        httpd.private_keys[alg] = path
    return httpd


def put(server, path, body, headers, auth=None):
    return requests.put(server.url(path), data=body, headers=headers, verify=str(server.pki.ca_cert),
                        timeout=60, auth=auth)


def curl_put(server, path, file, headers, *options):
    """curl -T FILE to `path` with these request headers."""
    args = ["-T", str(file)]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    return curl(server.url(path), *options, *args, ca=server.pki.ca_cert)


def signed(server, path, body, alg="ed25519", keyid=None, method="PUT", **kw):
    return sign_request(method, server.url(path), body, server.signer_keys[alg], keyid or alg, alg, **kw)


def no_file(server, name):
    return not (server.dav_dir / name).exists()


@pytest.mark.parametrize("alg", ALGS)
def test_python_cryptography_signed_upload_is_created(server, alg):
    body = os.urandom(50_000)
    r = put(server, f"/dav/hs-{alg}.bin", body, signed(server, f"/dav/hs-{alg}.bin", body, alg))
    assert r.status_code == 201, r.text
    assert (server.dav_dir / f"hs-{alg}.bin").read_bytes() == body


@pytest.mark.parametrize("alg", ["ed25519", "ecdsa-p384-sha384", "rsa-pss-sha512"])
def test_cmi_sign_http_upload_with_curl(server, tmp_path, alg):
    body = os.urandom(77_777)
    (tmp_path / "b").write_bytes(body)
    url = server.url(f"/dav/cmi-sign-{alg}.bin")
    headers = cmi_sign("http", "--key", str(server.private_keys[alg]), "--keyid", alg, "--alg", alg,
                       "--method", "PUT", "--url", url, "--nonce", f"n-{alg}", str(tmp_path / "b"))
    assert set(headers) == {"Content-Digest", "Signature-Input", "Signature"}
    r = curl_put(server, f"/dav/cmi-sign-{alg}.bin", tmp_path / "b", headers, "--http2")
    assert r.status == 201, r.body
    assert r.http_version == "2"  # @target-uri from :scheme/:authority/:path
    assert (server.dav_dir / f"cmi-sign-{alg}.bin").read_bytes() == body
    # The same headers on a PUT to another URL fail. (HTTP/1.1: refused before
    # 100-continue; over h2 curl may see the early answer's RST_STREAM as an error.)
    r = curl_put(server, "/dav/cmi-sign-elsewhere.bin", tmp_path / "b", headers, "--http1.1")
    assert_problem(r, 422, "signature-invalid")


def test_cmi_sign_http_without_the_target_is_refused(server, tmp_path):
    # Without --url the tool refuses: the server accepts only signatures that cover
    # their target. Components named without it sign what they name, which the
    # server then refuses as it would from any client.
    body = os.urandom(5_000)
    (tmp_path / "b").write_bytes(body)
    key = ["--key", str(server.private_keys["ed25519"]), "--keyid", "ed25519"]
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cmi_sign("http", *key, str(tmp_path / "b"))
    assert refused.value.returncode == 1 and "--url is required" in refused.value.stderr
    headers = cmi_sign("http", *key, "--component", "@method", "--component", "content-digest", str(tmp_path / "b"))
    assert headers["Signature-Input"].startswith('sig1=("@method" "content-digest");')
    r = curl_put(server, "/dav/cmi-sign-no-url.bin", tmp_path / "b", headers, "--http1.1")
    assert_problem(r, 400, "signature-malformed")
    assert not (server.dav_dir / "cmi-sign-no-url.bin").exists()
    # A component that needs the URL is refused by the tool, not signed blindly.
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cmi_sign("http", *key, "--component", "@target-uri", str(tmp_path / "b"))
    assert refused.value.returncode == 1 and "needs --url" in refused.value.stderr


def doc_recipe(name: str) -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "client-guide.md").read_text()
    m = re.search(r"```sh " + re.escape(name) + r"\n(.*?)```", doc, re.S)
    assert m, f"no ```sh {name} block in docs/client-guide.md"
    return m.group(1)


def test_documented_openssl_recipe_uploads(server, tmp_path):
    # docs/client-guide.md's openssl-only recipe, run as written but for the URL.
    body = os.urandom(30_000)
    (tmp_path / "song-1.mp3").write_bytes(body)
    (tmp_path / "signing-key.pem").write_bytes(server.private_keys["ed25519"].read_bytes())
    (tmp_path / "cmc-ca.pem").write_bytes(server.pki.ca_cert.read_bytes())
    (tmp_path / "provider.pem").write_bytes(server.pki.client.cert.read_bytes())
    (tmp_path / "provider.key").write_bytes(server.pki.client.key.read_bytes())
    script = doc_recipe("http-signature-openssl")
    url = "https://cmc.example.com/cmi/upload/provider-a/song-1.mp3"
    assert url in script
    script = script.replace(url, server.url("/dav/recipe-song-1.mp3"))
    out = subprocess.run(["bash", "-e", "-c", script.rstrip("\n") + ' -s -o /dev/null -w "%{http_code}"'], cwd=tmp_path,
                         env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "201", out.stdout + out.stderr
    assert (server.dav_dir / "recipe-song-1.mp3").read_bytes() == body


def test_optional_without_signature_reaches_cgi_as_absent(server):
    r = requests.post(server.url("/cgi-hs-optional/env.sh"), data=b"unsigned body",
                      verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert "validation=absent" in r.text.splitlines()
    # A signed request on the same location is verified as usual: a flipped byte
    # fails (stream mode: the CGI's read of the body fails, and cgid says so).
    server.expect_error(r"AH01270: Error reading request entity data")
    body = bytearray(b"signed body " * 100)
    headers = signed(server, "/cgi-hs-optional/env.sh", bytes(body), method="POST")
    body[3] ^= 0x01
    r = requests.post(server.url("/cgi-hs-optional/env.sh"), data=bytes(body), headers=headers,
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 422, "digest-mismatch")


def test_chunked_curl_upload_with_sha512_digest(server, tmp_path):
    body = os.urandom(400_000)
    (tmp_path / "b").write_bytes(body)
    headers = signed(server, "/dav/hs-chunked.bin", body, digest_alg="sha-512",
                     components=("@method", "@target-uri", "content-digest"),
                     headers={"Transfer-Encoding": "chunked"})
    r = curl_put(server, "/dav/hs-chunked.bin", tmp_path / "b", headers, "--http1.1")
    assert r.status == 201, r.body
    assert (server.dav_dir / "hs-chunked.bin").read_bytes() == body


def test_flipped_body_byte_is_digest_mismatch(server):
    server.expect_error(DAV_ERROR)
    body = bytearray(os.urandom(80_000))
    headers = signed(server, "/dav/hs-flip.bin", bytes(body))
    body[1234] ^= 0x01
    r = put(server, "/dav/hs-flip.bin", bytes(body), headers)
    assert_problem(r, 422, "digest-mismatch")
    assert no_file(server, "hs-flip.bin")


def test_wrong_key_is_signature_invalid(server):
    body = b"content"
    other = new_key("ed25519")
    headers = sign_request("PUT", server.url("/dav/hs-wrong.bin"), body, other, "ed25519", "ed25519")
    r = put(server, "/dav/hs-wrong.bin", body, headers)
    assert_problem(r, 422, "signature-invalid")
    assert no_file(server, "hs-wrong.bin")


def test_signature_for_another_path_is_invalid(server):
    body = b"content"
    r = put(server, "/dav/hs-other.bin", body, signed(server, "/dav/hs-intended.bin", body))
    assert_problem(r, 422, "signature-invalid")
    assert no_file(server, "hs-other.bin")


def test_signature_for_another_method_is_invalid(server):
    body = b"content"
    r = put(server, "/dav/hs-method.bin", body, signed(server, "/dav/hs-method.bin", body, method="POST"))
    assert_problem(r, 422, "signature-invalid")


def test_unknown_keyid_is_signer_untrusted(server):
    body = b"content"
    headers = sign_request("PUT", server.url("/dav/hs-unknown.bin"), body, new_key("ed25519"), "nobody", "ed25519")
    r = put(server, "/dav/hs-unknown.bin", body, headers)
    assert_problem(r, 403, "signer-untrusted")


@pytest.mark.parametrize("keyid", ["../signer-keys/ed25519", "/etc/passwd", ".ed25519", "a b"])
def test_keyid_cannot_name_a_path(server, keyid):
    body = b"content"
    headers = sign_request("PUT", server.url("/dav/hs-trav.bin"), body, server.signer_keys["ed25519"], keyid, "ed25519")
    r = put(server, "/dav/hs-trav.bin", body, headers)
    assert_problem(r, 400, "signature-malformed")


def test_sha1_content_digest_is_refused(server):
    body = b"content"
    r = put(server, "/dav/hs-sha1.bin", body, signed(server, "/dav/hs-sha1.bin", body, digest_alg="sha"))
    doc = assert_problem(r, 400, "signature-malformed")
    assert "sha" in doc["detail"]


@pytest.mark.parametrize("components", [("@method", "@target-uri"), ("@target-uri", "content-digest")])
def test_signature_must_cover_content_digest_and_method(server, components):
    body = b"content"
    r = put(server, "/dav/hs-cover.bin", body, signed(server, "/dav/hs-cover.bin", body, components=components))
    assert_problem(r, 400, "signature-malformed")
    assert no_file(server, "hs-cover.bin")


def test_expired_and_future_signatures_are_invalid(server):
    body = b"content"
    now = int(time.time())
    r = put(server, "/dav/hs-exp.bin", body,
            signed(server, "/dav/hs-exp.bin", body, created=now - 3600, expires=now - 600))
    doc = assert_problem(r, 422, "signature-invalid")
    assert "expired" in doc["detail"]
    r = put(server, "/dav/hs-exp.bin", body, signed(server, "/dav/hs-exp.bin", body, created=now + 3600))
    assert_problem(r, 422, "signature-invalid")
    # Within the clock skew a client that is a little ahead still passes.
    r = put(server, "/dav/hs-exp.bin", body, signed(server, "/dav/hs-exp.bin", body, created=now + 20))
    assert r.status_code == 201


def test_nonce_carrying_signature_verifies(server):
    body = b"with nonce"
    r = put(server, "/dav/hs-nonce.bin", body, signed(server, "/dav/hs-nonce.bin", body, nonce="n-0001"))
    assert r.status_code == 201


def test_missing_signature_where_required(server):
    body = b"content"
    r = put(server, "/dav/hs-missing.bin", body, {"Content-Digest": content_digest(body)})
    doc = assert_problem(r, 400, "signature-required")
    assert "Signature-Input" in doc["detail"]
    assert no_file(server, "hs-missing.bin")


def test_signature_without_content_digest_header(server):
    body = b"content"
    headers = signed(server, "/dav/hs-nodigest.bin", body)
    del headers["Content-Digest"]
    r = put(server, "/dav/hs-nodigest.bin", body, headers)
    assert_problem(r, 400, "signature-malformed")


def test_bound_signer(server):
    body = b"bound"
    r = put(server, "/dav/bound/hs-a.bin", body,
            signed(server, "/dav/bound/hs-a.bin", body, keyid="provider-a"), auth=("provider-a", "secret"))
    assert r.status_code == 201
    r = put(server, "/dav/bound/hs-b.bin", body,
            signed(server, "/dav/bound/hs-b.bin", body, keyid="provider-a"), auth=("provider-b", "secret"))
    assert_problem(r, 403, "signer-not-bound")
    assert no_file(server, "bound/hs-b.bin")


def test_spool_mode_cgi_sees_keyid_and_digest(server):
    body = os.urandom(10_000)
    r = requests.post(server.url("/cgi-hs/env.sh"), data=body,
                      headers=signed(server, "/cgi-hs/env.sh", body, "ecdsa-p256-sha256", method="POST"),
                      verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert "validation=valid" in r.text
    assert "format=http-signature" in r.text
    assert "signer=ecdsa-p256-sha256" in r.text
    assert f"digest={content_digest(body)}" in r.text


@pytest.mark.parametrize("which, status", [("client", 201), ("expired_client", 403)])
def test_key_given_as_certificate_must_be_valid(server, which, status):
    # <keyid>.pem may be the signer's certificate: then its validity period counts.
    cred = getattr(server.pki, which)
    keyid = f"cert-{which.replace('_', '-')}"
    (server.root / "conf" / "signer-keys" / f"{keyid}.pem").write_bytes(cred.cert.read_bytes())
    key = serialization.load_pem_private_key(cred.key.read_bytes(), password=None)
    body = b"signed with a certificate's key"
    path = f"/dav/hs-{keyid}.bin"
    r = put(server, path, body, sign_request("PUT", server.url(path), body, key, keyid, "ecdsa-p256-sha256"))
    if status == 201:
        assert r.status_code == 201, r.text
    else:
        doc = assert_problem(r, 403, "signer-untrusted")
        assert "expired" in doc["detail"]
        assert no_file(server, f"hs-{keyid}.bin")
