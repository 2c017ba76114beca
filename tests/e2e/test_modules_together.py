"""The four modules on one location: mod_cmi_auth's identity (docs/architecture.md §Notes contract) is what
mod_cmi_content binds the signer to, and mod_cmi_audit records both the identity and
the validation of a self-contained upload, for both formats, accepted and refused."""
import base64
import hashlib
import os

import pytest
import requests

from cmi_e2e.audit import records_of
from cmi_e2e.content import cmi_sign, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

CONFIG = """
<Location /dav/together/>
    CMIRequireTLS On
    AuthType CMI
    AuthName "cmi"
    CMIAuthMechanisms cert
    Require valid-user
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
    CMIContentBindSigner On
    CMIAudit On
    CMIAuditOperation ContentUpload
</Location>
"""

DAV_ERROR = r"dav:error.*reading the request body"


@pytest.fixture(scope="module")
def server(httpd):
    keys_dir = httpd.root / "conf" / "together-keys"
    keys_dir.mkdir(exist_ok=True)
    keys = {user: new_key("ed25519") for user in ("provider-a", "provider-b")}
    for user, key in keys.items():
        (keys_dir / f"{user}.pem").write_bytes(public_pem(key))
    www_owned_dir(httpd.dav_dir / "together")
    httpd.together_log = httpd.root / "logs" / "audit-together.log"
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=keys_dir),
                    server_snippet=f'CMIAuditLog "{httpd.together_log}"\n')
    httpd.together_keys = keys
    return httpd


def put(server, name, body, headers):
    cred = server.pki.client  # CN provider-a: CMI_USER by the default CMIAuthCertUser
    return requests.put(server.url(f"/dav/together/{name}"), data=body, headers=headers,
                        cert=(str(cred.cert), str(cred.key)), verify=str(server.pki.ca_cert), timeout=60)


def end_record(server, r):
    begin, end = records_of(server.together_log, r.headers["CMI-Transaction-ID"])
    assert begin["ev"] == "begin" and end["ev"] == "end"
    return end


def digest(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def cms_headers(server, tmp_path, body, cred):
    (tmp_path / "body").write_bytes(body)
    return cmi_sign("cms", "--cert", str(cred.cert), "--key", str(cred.key), str(tmp_path / "body"))


def http_headers(server, name, body, user):
    return sign_request("PUT", server.url(f"/dav/together/{name}"), body, server.together_keys[user], user,
                        "ed25519")


def test_cms_upload_records_identity_and_validation(server, tmp_path):
    body = os.urandom(40_000)
    r = put(server, "cms.bin", body, cms_headers(server, tmp_path, body, server.pki.client))
    assert r.status_code == 201, r.text
    end = end_record(server, r)
    assert end["auth"]["mech"] == "cert" and end["auth"]["user"] == "provider-a"
    assert end["validation"]["result"] == "valid" and end["validation"]["format"] == "cms"
    assert end["validation"]["signer"] == "provider-a"
    assert end["request"]["digest"] == digest(body) and end["request"]["bytes"] == len(body)
    assert end["status"] == 201 and end["op"] == "ContentUpload"


def test_http_signature_upload_records_identity_and_validation(server):
    body = os.urandom(40_000)
    r = put(server, "hs.bin", body, http_headers(server, "hs.bin", body, "provider-a"))
    assert r.status_code == 201, r.text
    end = end_record(server, r)
    assert end["auth"]["mech"] == "cert" and end["auth"]["user"] == "provider-a"
    assert end["validation"]["result"] == "valid" and end["validation"]["format"] == "http-signature"
    assert end["validation"]["signer"] == "provider-a"
    assert end["status"] == 201


@pytest.mark.parametrize("fmt", ["cms", "http-signature"])
def test_another_users_signature_is_not_bound_to_the_cmi_user(server, tmp_path, fmt):
    # Authenticated as provider-a (certificate), signed as provider-b.
    body = os.urandom(10_000)
    name = f"bound-{fmt}.bin"
    headers = (cms_headers(server, tmp_path, body, server.pki.client_b) if fmt == "cms"
               else http_headers(server, name, body, "provider-b"))
    r = put(server, name, body, headers)
    assert_problem(r, 403, "signer-not-bound")
    assert not (server.dav_dir / "together" / name).exists()
    end = end_record(server, r)
    assert end["auth"]["user"] == "provider-a" and end["status"] == 403
    # the refusal is recorded with the format and the (verified) signer it named
    v = end["validation"]
    assert v["result"] == "invalid" and v["format"] == fmt and v["signer"] == "provider-b", v


@pytest.mark.parametrize("fmt", ["cms", "http-signature"])
def test_refused_upload_is_recorded_as_invalid(server, tmp_path, fmt):
    server.expect_error(DAV_ERROR)
    body = bytearray(os.urandom(30_000))
    name = f"flip-{fmt}.bin"
    headers = (cms_headers(server, tmp_path, bytes(body), server.pki.client) if fmt == "cms"
               else http_headers(server, name, bytes(body), "provider-a"))
    body[777] ^= 0x01
    r = put(server, name, bytes(body), headers)
    assert_problem(r, 422, "digest-mismatch")
    assert not (server.dav_dir / "together" / name).exists()
    end = end_record(server, r)
    assert end["validation"]["result"] == "invalid" and end["validation"]["format"] == fmt
    assert end["status"] == 422 and end["auth"]["user"] == "provider-a"
