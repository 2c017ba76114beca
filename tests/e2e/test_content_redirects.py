"""mod_cmi_content (issue 17 item 1): the validation follows the request body through
internal redirects (mod_actions, mod_rewrite [PT], ErrorDocument, mod_dir) and
subrequests — no redirected handler reads a body that bypassed it, and a valid body
reaches the redirected handler whole (stream, spool and manifest modes, HTTP/1.1 and
HTTP/2). mod_cmi_audit's body digest follows the same way.
A redirect into a location with another content policy (trust anchors, bound signer,
formats, EKU, CRL, signer keys, max age, Decoupled Upload) is judged by that policy too
(issue 17 red team): re-judged from what the first verification kept, never by reading
the body again."""
import base64
import datetime
import hashlib
import os
import subprocess

import pytest
import requests
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU

from cmi_e2e.audit import records_of
from cmi_e2e.clients import curl
from cmi_e2e.cms_build import CmsSigner
from cmi_e2e.content import cms_sign, flip_last_byte, write_cgi, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

NS = "urn:mod-cmi:manifest:1"
# mod_cgid's line when the body read fails under the CGI (our refusal, or a sealed body).
CGID_READ_ERROR = r"cgid:error.*AH01270"

CONFIG = """
ScriptAlias /cgi-r/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /reflect/>
    SetHandler reflector
</Location>

# Every location under /v/ validates; the handlers they redirect to do not.
<Location /v/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    Action cmi-cgi /cgi-r/echo.sh virtual
    Action cmi-reflect /reflect/ virtual
</Location>
<Location /v/spool/>
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
</Location>

# mod_actions: a handler name bound to a CGI (the attack of the issue), or to an
# in-process handler
<LocationMatch "^/v/(spool/)?act/">
    SetHandler cmi-cgi
</LocationMatch>
<LocationMatch "^/v/(spool/)?act-reflect/">
    SetHandler cmi-reflect
</LocationMatch>
<Location /v/audit/>
    CMIAudit On
    CMIAuditOperation ContentUpload
    SetHandler cmi-cgi
</Location>

# mod_rewrite [PT] inside the location: to a CGI, and to mod_dav
<Location /v/rw/>
    RewriteEngine On
    RewriteRule .* /cgi-r/echo.sh [PT]
</Location>
<Location /v/rw-dav/>
    RewriteEngine On
    RewriteRule ([^/]+)$ /dav/redirected/$1 [PT]
</Location>

# ErrorDocument: the request is refused before validation (no credentials)
<Location /v/ed/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    ErrorDocument 401 /cgi-r/echo.sh
</Location>

# mod_dir: FallbackResource (a fast redirect to a subrequest)
<Location /v/fb/>
    FallbackResource /cgi-r/echo.sh
</Location>

# mod_dir's fast redirects out of a location that does not validate, into a handler that
# does (here by <Files>): DirectoryIndex on a POST to the directory, FallbackResource.
Alias /idx/ "{idx}/"
<Directory "{idx}">
    Require all granted
    Options +ExecCGI
    AddHandler cgi-script .cgi
    DirectoryIndex upload.cgi
    <Files "upload.cgi">
        CMIContentValidation Required
        CMIContentTrustAnchors "{ca}"
    </Files>
</Directory>
<Location /open-fb/>
    FallbackResource /idx/upload.cgi
</Location>

# Decoupled Upload: the manifest handed on by an Action
<Location /ingest-act/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    SetHandler cmi-ingest
    Action cmi-ingest /cgi-r/echo.sh virtual
</Location>

# The location a redirect lands in applies its own policy. Uploads come in under /pt/
# (CA-A and CA-B trusted, RFC 9421 keys A, clientAuth allowed, signatures an hour old
# accepted) and are handed on to /pt/<policy>/in/echo, each stricter in one way.
ScriptAliasMatch "^/pt/[a-z-]+/in/echo" "{cgi}/echo.sh"
<Location /pt/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{anchors_ab}"
    CMIContentSignerKeys "{keys_a}"
    CMIContentSignerEKU clientAuth
    CMIContentSignatureMaxAge 3600
</Location>
<Location /pt/ca-b/>
    CMIContentTrustAnchors "{ca_b}"
</Location>
<Location /pt/bound/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd_ab}"
    Require valid-user
    CMIContentBindSigner On
</Location>
<Location /pt/hs-only/>
    CMIContentFormats http-signature
</Location>
<Location /pt/keys-b/>
    CMIContentSignerKeys "{keys_b}"
</Location>
<Location /pt/crl/>
    CMIContentCRL "{crl}"
</Location>
<Location /pt/eku/>
    CMIContentSignerEKU 1.3.6.1.4.1.55555.1
</Location>
<Location /pt/age/>
    CMIContentSignatureMaxAge 300
</Location>
<Location /pt/spool/>
    CMIContentSpool On
    CMIContentSpoolDir "{spool_rp}"
</Location>
<Location /pt/ingest-b/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging_b}"
</Location>
{pt_routes}
# A manifest handed to a Decoupled Upload location with another staging root.
<Location /ingest-a/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    SetHandler pt-ingest-b
    Action pt-ingest-b /pt/ingest-b/in/echo virtual
</Location>
"""

# /pt/from-<policy>/ (mod_rewrite [PT]), /pt/act-<policy>/ (mod_actions), /pt/fb-<policy>/ (mod_dir
# FallbackResource: a fast redirect) hand every request to /pt/<policy>/in/echo.
PT_POLICIES = ("ca-b", "bound", "hs-only", "keys-b", "crl", "eku", "age", "spool", "ingest-b")
PT_ROUTE = """<Location /pt/from-{p}/>
    RewriteEngine On
    RewriteRule .* /pt/{p}/in/echo [PT]
</Location>
<Location /pt/act-{p}/>
    SetHandler pt-{p}
    Action pt-{p} /pt/{p}/in/echo virtual
</Location>
<Location /pt/fb-{p}/>
    FallbackResource /pt/{p}/in/echo
</Location>
"""

ECHO_CGI = """h=$(sha256sum | cut -d' ' -f1)
echo "$h" > "{marker}"
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
echo "format=$CMI_CONTENT_FORMAT"
echo "length=$CONTENT_LENGTH"
echo "body=$h"
"""


@pytest.fixture(scope="module")
def server(httpd):
    root = httpd.root
    cgi = root / "cgi-bin-redirects"
    markers = www_owned_dir(root / "var" / "redirect-markers")
    spool = www_owned_dir(root / "var" / "spool-redirects")
    staging = www_owned_dir(root / "var" / "staging-redirects")
    www_owned_dir(httpd.dav_dir / "redirected")
    www_owned_dir(root / "htdocs" / "v" / "fb")
    write_cgi(cgi / "echo.sh", ECHO_CGI.format(marker=markers / "read"))
    idx = root / "htdocs-idx"
    write_cgi(idx / "upload.cgi", ECHO_CGI.format(marker=markers / "read"))
    htpasswd = root / "conf" / "htpasswd-redirects"
    htpasswd.write_text("provider-a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n")  # secret
    pt = policy_rig(httpd)
    httpd.audit_log = root / "logs" / "audit-redirects.log"
    mods = "".join(f'LoadModule {m}_module "{httpd.stock_dir}/mod_{m}.so"\n'
                   for m in ("actions", "rewrite", "reflector"))
    httpd.configure(CONFIG.format(cgi=cgi, ca=httpd.pki.ca_cert, spool=spool, staging=staging, htpasswd=htpasswd,
                                  idx=idx, pt_routes="".join(PT_ROUTE.format(p=p) for p in PT_POLICIES), **pt.paths),
                    server_snippet=mods + f'CMIAuditLog "{httpd.audit_log}"\n')
    httpd.redirect_marker, httpd.redirect_staging = markers / "read", staging
    httpd.pt = pt
    return httpd


class PolicyRig:
    """The keys, certificates and files of the /pt/ locations."""


def policy_rig(httpd) -> PolicyRig:
    pki, root, rig = httpd.pki, httpd.root, PolicyRig()
    ca_b = pki.new_ca("rp-ca-b", "mod_cmi redirect CA B")
    ca_b_pem = pki.dir / "rp-ca-b.pem"
    anchors_ab = root / "conf" / "rp-anchors-ab.pem"
    anchors_ab.write_bytes(pki.ca_cert.read_bytes() + ca_b_pem.read_bytes())
    rig.signer_b = pki.issue("rp-signer-b", "provider-b", [EKU.EMAIL_PROTECTION], issuer=ca_b)
    rig.clientauth = pki.issue("rp-clientauth", "provider-clientauth", [EKU.CLIENT_AUTH])
    rig.key_a, rig.key_b = new_key("ed25519"), new_key("ed25519")
    keys_a, keys_b = root / "conf" / "rp-keys-a", root / "conf" / "rp-keys-b"
    for d, key in ((keys_a, rig.key_a), (keys_b, rig.key_b)):  # the same keyid, another key
        d.mkdir(exist_ok=True)
        (d / "rp-signer.pem").write_bytes(public_pem(key))
    htpasswd_ab = root / "conf" / "htpasswd-rp"
    htpasswd_ab.write_text("provider-a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
                           "provider-b:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n")  # secret
    for p in PT_POLICIES:  # FallbackResource needs the directory it falls back from
        www_owned_dir(root / "htdocs" / "pt" / f"fb-{p}")
    rig.staging_b = www_owned_dir(root / "var" / "staging-rp-b")
    rig.paths = dict(anchors_ab=anchors_ab, ca_b=ca_b_pem, keys_a=keys_a, keys_b=keys_b, htpasswd_ab=htpasswd_ab,
                     crl=pki.crl(root / "conf" / "rp-client.crl.pem", revoked=[pki.client]),
                     staging_b=rig.staging_b, spool_rp=www_owned_dir(root / "var" / "spool-rp"))
    return rig


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def what_the_cgi_read(server):
    """The SHA-256 of what the CGI read from its stdin, or None if it never ran."""
    m = server.redirect_marker
    return m.read_text().strip() if m.exists() else None


def put(server, path, data, headers=None, http2=False, method="PUT"):
    server.redirect_marker.unlink(missing_ok=True)
    if http2:
        args = ["--http2", "-X", method, "-H", "Content-Type: application/octet-stream"]
        for k, v in (headers or {}).items():
            args += ["-H", f"{k}: {v}"]
        return curl(server.url(path), *args, ca=server.pki.ca_cert, data=data, early_answer_ok=True)
    return requests.request(method, server.url(path), data=data, headers=headers or {},
                            verify=str(server.pki.ca_cert), timeout=60)


def tampered(server, tmp, size=50_000):
    """A body and a valid CMS signature over a different body (its last byte flipped)."""
    good = os.urandom(size)
    return flip_last_byte(good), {"CMI-Content-Signature": cms_sign(good, server.pki.client, tmp)}


def cgi_env(text) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


# --- attacks: a tampered body through each redirect route --------------------------------------

@pytest.mark.parametrize("http2", [False, True], ids=["http1", "h2"])
def test_action_to_a_cgi_cannot_read_a_tampered_body(server, tmp, http2):
    server.expect_error(CGID_READ_ERROR)
    body, headers = tampered(server, tmp)
    r = put(server, "/v/act/upload.bin", body, headers, http2=http2)
    assert_problem(r, 422, "digest-mismatch")
    assert what_the_cgi_read(server) != sha(body), "the CGI read the whole tampered body"


def test_action_to_an_in_process_handler_cannot_read_a_tampered_body(server, tmp):
    # mod_reflector (POST only) answers while it reads: in stream mode it has sent its
    # 200 before the verdict. Its read then fails and the response is cut short (a
    # clean end would tell it the body was whole); in spool mode it never runs. (HTTP/1.1
    # only: over HTTP/2 it answers an empty 200 without reading, its connection not being
    # keep-alive.)
    body, headers = tampered(server, tmp)
    offset = server.log_size()
    cmd = ["curl", "-sS", "--max-time", "30", "--cacert", str(server.pki.ca_cert), "-o", str(tmp / "got"),
           "--http1.1", "--data-binary", "@-",
           "-H", "Content-Type: application/octet-stream"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    proc = subprocess.run(cmd + [server.url("/v/act-reflect/upload.bin")], input=body, capture_output=True,
                          timeout=60)
    got = (tmp / "got").read_bytes() if (tmp / "got").exists() else b""
    assert len(got) < len(body), "the handler echoed the whole tampered body"
    assert server.wait_for_log("digest-mismatch", offset)
    assert proc.returncode != 0, f"curl saw a complete response ({len(got)} bytes)"
    assert "(the response was cut short)" in server.log_since(offset)
    body, headers = tampered(server, tmp)  # a signature is accepted on one target only: sign again
    r = put(server, "/v/spool/act-reflect/upload.bin", body, headers, method="POST")
    assert_problem(r, 422, "digest-mismatch")


def test_a_streaming_handler_reads_a_valid_body_whole(server, tmp):
    # The control: the same route with a valid signature echoes the body, all of it.
    body = os.urandom(50_000)
    r = put(server, "/v/act-reflect/upload.bin", body,
            {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)}, method="POST")
    assert r.status_code == 200 and r.content == body


def test_action_in_spool_mode_never_runs_the_cgi_on_a_tampered_body(server, tmp):
    body, headers = tampered(server, tmp)
    r = put(server, "/v/spool/act/upload.bin", body, headers)
    assert_problem(r, 422, "digest-mismatch")
    assert what_the_cgi_read(server) is None, "the CGI ran"


def test_rewrite_passthrough_to_a_cgi_cannot_read_a_tampered_body(server, tmp):
    server.expect_error(CGID_READ_ERROR)
    body, headers = tampered(server, tmp)
    r = put(server, "/v/rw/upload.bin", body, headers)
    assert_problem(r, 422, "digest-mismatch")
    assert what_the_cgi_read(server) != sha(body)


def test_rewrite_passthrough_to_dav_creates_no_file(server, tmp):
    server.expect_error(r"dav:error.*(reading the request body|Could not get next bucket brigade)")
    body, headers = tampered(server, tmp)
    r = put(server, "/v/rw-dav/tampered.bin", body, headers)
    assert_problem(r, 422, "digest-mismatch")
    assert not (server.dav_dir / "redirected" / "tampered.bin").exists()


def test_error_document_cannot_read_a_body_refused_before_validation(server, tmp):
    # 401 before fixups: the body was never validated; the ErrorDocument CGI (a GET
    # with the original Content-Length) must not read it.
    server.expect_error(CGID_READ_ERROR)
    body = os.urandom(30_000)
    r = put(server, "/v/ed/upload.bin", body)
    assert r.status_code == 401
    assert what_the_cgi_read(server) != sha(body), "the ErrorDocument CGI read the unvalidated body"
    assert f"body={sha(body)}" not in r.text


def test_fallback_resource_cannot_read_a_tampered_body(server, tmp):
    # mod_dir's fast redirect keeps the request's input filters: this route was safe
    # already; kept as a guard for the fast-redirect path.
    server.expect_error(CGID_READ_ERROR)
    body, headers = tampered(server, tmp)
    r = put(server, "/v/fb/nothing-here", body, headers, method="POST")
    assert_problem(r, 422, "digest-mismatch")
    assert what_the_cgi_read(server) != sha(body)
    body = os.urandom(20_000)
    r = put(server, "/v/fb/nothing-here", body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)},
            method="POST")
    assert r.status_code == 200 and cgi_env(r.text)["body"] == sha(body)


@pytest.mark.parametrize("path", ["/idx/", "/open-fb/nothing-here"], ids=["DirectoryIndex", "FallbackResource"])
def test_fast_redirect_into_a_validated_handler_validates(server, tmp, path):
    # The location the client named does not validate; mod_dir hands the request (in
    # its fixups, after ours) to /idx/upload.cgi, which does: judged again there.
    body = os.urandom(20_000)
    r = put(server, path, body, method="POST")
    assert_problem(r, 400, "signature-required")
    assert what_the_cgi_read(server) is None, "the CGI ran on an unsigned body"
    server.expect_error(CGID_READ_ERROR)
    body, headers = tampered(server, tmp)
    r = put(server, path, body, headers, method="POST")
    assert_problem(r, 422, "digest-mismatch")
    assert what_the_cgi_read(server) != sha(body)
    body = os.urandom(20_000)
    r = put(server, path, body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)}, method="POST")
    assert r.status_code == 200 and cgi_env(r.text)["body"] == sha(body) == what_the_cgi_read(server)


# --- a valid body reaches the redirected handler whole ---------------------------------------

@pytest.mark.parametrize("path", ["/v/act/ok.bin", "/v/spool/act/ok.bin", "/v/rw/ok.bin"])
@pytest.mark.parametrize("http2", [False, True], ids=["http1", "h2"])
def test_valid_body_reaches_the_redirected_cgi_whole(server, tmp, path, http2):
    body = os.urandom(200_000)
    r = put(server, path, body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)}, http2=http2)
    status = r.status if http2 else r.status_code
    text = r.body.decode() if http2 else r.text
    assert status == 200, text
    env = cgi_env(text)
    assert env["body"] == sha(body) == what_the_cgi_read(server)
    assert env["length"] == str(len(body))
    if "spool" in path:  # verified before the handler ran: the redirected CGI is told so
        assert env["validation"] == "valid" and env["format"] == "cms"


def test_valid_body_reaches_a_redirected_in_process_handler_whole(server, tmp):
    body = os.urandom(100_000)
    r = put(server, "/v/act-reflect/ok.bin", body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)},
            method="POST")
    assert r.status_code == 200
    assert r.content == body


def test_valid_body_through_rewrite_to_dav_is_created(server, tmp):
    body = os.urandom(100_000)
    r = put(server, "/v/rw-dav/valid.bin", body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)})
    assert r.status_code in (201, 204), r.text
    assert (server.dav_dir / "redirected" / "valid.bin").read_bytes() == body


def staged_manifest(server, tmp, staging) -> bytes:
    """A manifest of one file staged in `staging`, signed by provider-a."""
    data = os.urandom(10_000)
    (staging / "a.bin").write_bytes(data)
    os.chmod(staging / "a.bin", 0o644)
    cms = cms_sign(data, server.pki.client, tmp)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return (f'<Manifest xmlns="{NS}"><ContentItem id="a"><Location>a.bin</Location>'
            f'<Digest algorithm="sha-256">{digest}</Digest><SignedHash format="cms">{cms}</SignedHash>'
            '</ContentItem></Manifest>').encode()


def test_valid_manifest_reaches_the_redirected_ingest_whole(server, tmp):
    body = staged_manifest(server, tmp, server.redirect_staging)
    server.redirect_marker.unlink(missing_ok=True)
    r = requests.post(server.url("/ingest-act/"), data=body, headers={"Content-Type": "application/xml"},
                      verify=str(server.pki.ca_cert), timeout=60)
    assert r.status_code == 200, r.text
    env = cgi_env(r.text)
    assert env["body"] == sha(body) and env["validation"] == "valid" and env["format"] == "manifest"


def test_audit_digest_follows_the_redirect(server, tmp):
    body = os.urandom(64_000)
    r = put(server, "/v/audit/ok.bin", body, {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp)})
    assert r.status_code == 200, r.text
    _, end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert end["request"]["bytes"] == len(body)
    assert end["request"]["digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    assert end["validation"]["result"] == "valid"



# --- the location a redirect lands in applies its own content policy --------------------------
# Each body below is valid under /pt/, where the request comes in, and refused by the
# location it is handed to (as that location refuses it when asked directly); the
# handler there never runs.

ROUTES = ("from", "act", "fb")  # mod_rewrite [PT], mod_actions, mod_dir's fast redirect


def pt_put(server, route, policy, body, headers, **kw):
    method = "POST" if route == "fb" else "PUT"  # FallbackResource: a POST to a missing file
    return put(server, f"/pt/{route}-{policy}/upload.bin", body, headers, method=method, **kw)


def signed(server, tmp, cred=None, size=30_000):
    body = os.urandom(size)
    return body, {"CMI-Content-Signature": cms_sign(body, cred or server.pki.client, tmp)}


def http_signed(server, route, policy, key, nonce=None, size=30_000):
    body = os.urandom(size)
    method = "POST" if route == "fb" else "PUT"
    url = server.url(f"/pt/{route}-{policy}/upload.bin")
    return body, sign_request(method, url, body, key, "rp-signer", "ed25519", nonce=nonce)


def assert_refused_there(r, server, status, code, policy):
    """Refused as /pt/<policy>/ refuses, and its CGI never ran."""
    doc = assert_problem(r, status, code)
    assert what_the_cgi_read(server) is None, f"the handler of /pt/{policy}/ ran"
    return doc


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_trusting_another_ca_is_refused(server, tmp, route):
    # provider-a's CA is trusted where the upload comes in, not where it lands.
    body, headers = signed(server, tmp)
    assert_refused_there(pt_put(server, route, "ca-b", body, headers), server, 403, "signer-untrusted", "ca-b")
    # A signer of CA-B satisfies both: re-judged, accepted, the body reaches the CGI whole.
    body, headers = signed(server, tmp, server.pt.signer_b)
    r = pt_put(server, route, "ca-b", body, headers)
    assert r.status_code == 200, r.text
    assert cgi_env(r.text)["body"] == sha(body) == what_the_cgi_read(server)


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_binding_another_signer_is_refused(server, tmp, route):
    # provider-b logs in at /pt/bound/ (CMIContentBindSigner On) with provider-a's content.
    auth = {"Authorization": "Basic " + base64.b64encode(b"provider-b:secret").decode()}
    body, headers = signed(server, tmp)
    r = pt_put(server, route, "bound", body, {**headers, **auth})
    assert_refused_there(r, server, 403, "signer-not-bound", "bound")
    body, headers = signed(server, tmp, server.pki.client_b)
    r = pt_put(server, route, "bound", body, {**headers, **auth})
    if route == "fb":
        # mod_dir's fast redirect takes the subrequest's location but not the user it
        # authenticated (ap_internal_fast_redirect copies no r->user): nobody to bind to.
        assert_refused_there(r, server, 403, "signer-not-bound", "bound")
        return
    assert r.status_code == 200, r.text
    assert cgi_env(r.text)["body"] == sha(body)


@pytest.mark.parametrize("route", ROUTES)
def test_cms_upload_redirected_into_an_http_signature_only_location_is_refused(server, tmp, route):
    body, headers = signed(server, tmp)
    assert_refused_there(pt_put(server, route, "hs-only", body, headers), server, 400, "signature-required",
                         "hs-only")
    # An RFC 9421 upload with a nonce is accepted there: the nonce is recorded once, not
    # taken for its own replay when the redirect is judged.
    body, headers = http_signed(server, route, "hs-only", server.pt.key_a, nonce=os.urandom(12).hex())
    r = pt_put(server, route, "hs-only", body, headers)
    assert r.status_code == 200, r.text
    assert cgi_env(r.text)["body"] == sha(body) == what_the_cgi_read(server)


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_with_another_key_for_the_keyid_is_refused(server, tmp, route):
    body, headers = http_signed(server, route, "keys-b", server.pt.key_a)
    assert_refused_there(pt_put(server, route, "keys-b", body, headers), server, 422, "signature-invalid", "keys-b")


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_with_a_crl_revoking_the_signer_is_refused(server, tmp, route):
    body, headers = signed(server, tmp)
    assert_refused_there(pt_put(server, route, "crl", body, headers), server, 403, "signer-untrusted", "crl")
    body, headers = signed(server, tmp, server.pki.client_b)  # not revoked
    assert pt_put(server, route, "crl", body, headers).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_without_the_signers_eku_is_refused(server, tmp, route):
    body, headers = signed(server, tmp, server.pt.clientauth)  # clientAuth only: allowed under /pt/
    assert_refused_there(pt_put(server, route, "eku", body, headers), server, 403, "signer-untrusted", "eku")


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_into_a_location_with_a_shorter_max_age_is_refused(server, tmp, route):
    # Signed 20 minutes ago: within /pt/'s hour, outside /pt/age/'s 300 s.
    body = os.urandom(30_000)
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    headers = {"CMI-Content-Signature": CmsSigner(server.pki.client).sign(body, signing_time=then)}
    assert_refused_there(pt_put(server, route, "age", body, headers), server, 422, "signature-invalid", "age")


@pytest.mark.parametrize("route", ROUTES)
def test_redirect_from_stream_into_spool_mode_never_runs_the_handler_on_a_tampered_body(server, tmp, route):
    # Verified as it streams where it comes in; /pt/spool/ promises its handler a body
    # that has passed: it is read whole (and fails) before the CGI runs.
    body, headers = tampered(server, tmp)
    assert_refused_there(pt_put(server, route, "spool", body, headers), server, 422, "digest-mismatch", "spool")
    body, headers = signed(server, tmp)
    r = pt_put(server, route, "spool", body, headers)
    assert r.status_code == 200, r.text
    env = cgi_env(r.text)
    assert env["body"] == sha(body) == what_the_cgi_read(server)
    assert env["validation"] == "valid" and env["length"] == str(len(body))


@pytest.mark.parametrize("route", ROUTES)
def test_upload_redirected_into_a_manifest_location_is_refused(server, tmp, route):
    # A signed upload is no validated manifest: the ingest handler there would take its
    # body for one whose items were checked.
    body, headers = signed(server, tmp)
    offset = server.log_size()
    doc = assert_refused_there(pt_put(server, route, "ingest-b", body, headers), server, 403, "redirect-refused",
                               "ingest-b")
    assert "/pt/ingest-b/in/echo" in doc["detail"]
    assert "CMI30014" in server.log_since(offset)


def test_manifest_redirected_into_another_staging_root_is_refused(server, tmp):
    body = staged_manifest(server, tmp, server.redirect_staging)
    server.redirect_marker.unlink(missing_ok=True)
    offset = server.log_size()
    r = requests.post(server.url("/ingest-a/"), data=body, headers={"Content-Type": "application/xml"},
                      verify=str(server.pki.ca_cert), timeout=60)
    assert_refused_there(r, server, 403, "redirect-refused", "ingest-b")
    assert "CMI30014" in server.log_since(offset)
