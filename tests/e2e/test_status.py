"""server-status: each module's counters change as requests are refused, validated,
authenticated, replayed and audited (issue 7, mod_status)."""
import base64
import hashlib
import os
import re
import subprocess
import time
import uuid

import pytest
import requests

from cmi_e2e import digest, saml
from cmi_e2e.clients import curl
from cmi_e2e.content import cms_sign, flip_last_byte, write_cgi, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

REALM = "CMI status"
SAML_SP = "https://cmc.example/status-sp"
SAML_IDP = "https://idp.example/status"
MANIFEST_NS = "urn:mod-cmi:manifest:1"

CONFIG = """
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
<Location /st/tls>
    CMIRequireTLS On
    CMITLSMinProtocol TLSv1.3
</Location>
<Location /st/auth>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms cert digest
    CMIAuthProvider file
    AuthUserFile "{conf}/status.digest"
    Require valid-user
</Location>
<Location /st/audit>
    CMIAudit On
    CMIAuditOperation Report
</Location>
<Location /dav/st-content/>
    CMIContentValidation Required
    CMIContentFormats cms
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /dav/st-httpsig/>
    CMIContentValidation Required
    CMIContentFormats http-signature
    CMIContentSignerKeys "{keys}"
</Location>
ScriptAlias /st-ingest/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /st-ingest/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /st/saml>
    AuthType CMI
    AuthName "CMI"
    CMIAuthMechanisms saml
    CMISAMLIdPMetadata "{saml_metadata}"
    CMISAMLSPEntityID {saml_sp}
    Require valid-user
</Location>
<Location /st/audit-down>
    CMIAudit On
    CMIAuditFailMode closed
</Location>
<Location /st/audit-open>
    CMIAudit On
    CMIAuditFailMode open
</Location>
"""
SERVER = 'CMIAuditLog "{root}/var/status-audit.log"\n'
# CMIAuditLog is global: the audit-failure test swaps in a log that cannot be written.
SERVER_AUDIT_DOWN = 'CMIAuditLog "/dev/full"\n'

INGEST_CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
"""

LINE = re.compile(r"^(cmi_[a-z]+\.[A-Za-z0-9_.-]+): (\d+)$", re.M)
SCOREBOARD = re.compile(r"^Scoreboard: (\S+)$", re.M)


@pytest.fixture(scope="module")
def server(httpd):
    conf = httpd.root / "conf"
    subprocess.run([str(httpd.source_tool("cmi-htdigest")), "-c", str(conf / "status.digest"), REALM, "alice"],
                   input=b"wonder land", check=True)
    (conf / "status.digest").chmod(0o644)
    for d in ("st/tls", "st/auth", "st/audit", "st/saml", "st/audit-down", "st/audit-open"):
        (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text("hello\n")
    www_owned_dir(httpd.dav_dir / "st-content")
    www_owned_dir(httpd.dav_dir / "st-httpsig")
    # http-signature: one Ed25519 signer key, published for CMIContentSignerKeys.
    keys = conf / "status-signer-keys"
    keys.mkdir(exist_ok=True)
    httpd.status_signer = new_key("ed25519")
    (keys / "status-signer.pem").write_bytes(public_pem(httpd.status_signer))
    # Decoupled Upload: a staging area and a CGI standing in for the ingest.
    cgi = httpd.root / "cgi-bin-status"
    write_cgi(cgi / "ingest.sh", INGEST_CGI)
    httpd.status_staging = www_owned_dir(httpd.dav_dir / "st-staging")
    # SAML: a trusted IdP, and one with the same entity id and a key nobody trusts.
    httpd.status_idp = saml.Idp(conf, SAML_IDP, "status-idp")
    httpd.status_rogue_idp = saml.Idp(conf, SAML_IDP, "status-rogue")
    httpd.status_config = dict(
        snippet=CONFIG.format(realm=REALM, conf=conf, ca=httpd.pki.ca_cert, keys=keys, cgi=cgi,
                              staging=httpd.status_staging, saml_metadata=httpd.status_idp.metadata_path,
                              saml_sp=SAML_SP),
        server_snippet=SERVER.format(root=httpd.root))
    httpd.configure(**httpd.status_config)
    return httpd


@pytest.fixture
def audit_down(server):
    """The status configuration with CMIAuditLog on /dev/full (every write fails
    with ENOSPC); the normal configuration again afterwards. Counters live in
    pconf: both readings of a test are taken within this one configuration."""
    server.configure(snippet=server.status_config["snippet"], server_snippet=SERVER_AUDIT_DOWN)
    try:
        yield server
    finally:
        server.configure(**server.status_config)


def counters(server, timeout: float = 20) -> dict[str, int]:
    """The counters, read once every earlier request has been logged.

    Most counters are bumped in log_transaction, which httpd runs after the
    response has gone out: a client may read server-status before the previous
    request's worker got there. So read the page until its scoreboard shows no
    worker logging ("L") and no worker but this request's own still sending a
    reply ("W"); the counters, printed after the scoreboard, then include every
    earlier request."""
    deadline = time.monotonic() + timeout
    while True:
        r = curl(server.url("/server-status?auto", tls=False))
        assert r.status == 200, r.body
        page = r.body.decode()
        board = SCOREBOARD.search(page)
        assert board, page
        if board.group(1).count("W") == 1 and "L" not in board.group(1):
            return {k: int(v) for k, v in LINE.findall(page)}
        assert time.monotonic() < deadline, f"workers still busy: {board.group(1)}"
        time.sleep(0.01)


def delta(before, after) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_auto_lists_every_module(server):
    c = counters(server)
    for prefix in ("cmi_tls.", "cmi_auth.", "cmi_audit.", "cmi_content."):
        assert any(k.startswith(prefix) for k in c), (prefix, sorted(c))
    assert "cmi_tls.refused.tls-required" in c
    assert "cmi_audit.durable_write_us.max" in c
    assert "cmi_content.validations.cms.valid" in c
    assert "cmi_auth.replay_cache.hits" in c


def test_html_page_has_a_table_per_module(server):
    r = curl(server.url("/server-status", tls=False))
    assert r.status == 200
    page = r.body.decode()
    for title in ("mod_cmi_tls", "mod_cmi_auth", "mod_cmi_audit", "mod_cmi_content"):
        assert f"<h2>{title} (" in page, title
    assert "<td>cmi_tls.refused.tls-required</td>" in page


def test_tls_refusals_per_code(server):
    before = counters(server)
    assert curl(server.url("/st/tls/hello.txt", tls=False)).status == 403
    assert curl(server.url("/st/tls/hello.txt", tls=False)).status == 403
    assert curl(server.url("/st/tls/hello.txt"), "--tls-max", "1.2", ca=server.pki.ca_cert).status == 403
    assert curl(server.url("/st/tls/hello.txt"), ca=server.pki.ca_cert).status == 200
    d = delta(before, counters(server))
    assert d.get("cmi_tls.refused.tls-required") == 2, d
    assert d.get("cmi_tls.refused.tls-too-weak") == 1, d


def test_auth_refusals_mechanisms_and_replay_cache(server):
    before = counters(server)
    url = server.url("/st/auth/hello.txt")
    assert curl(url, ca=server.pki.ca_cert).status == 401                           # no credentials
    assert curl(url, ca=server.pki.ca_cert, cert=server.pki.client).status == 200    # cert
    first = digest.get(url, None, server.pki.ca_cert)
    header = digest.authorization(digest.digest_challenge(first, "SHA-256"), "alice", "wonder land",
                                  "GET", "/st/auth/hello.txt")
    assert digest.get(url, header, server.pki.ca_cert).status_code == 200          # fresh nonce-count
    assert digest.get(url, header, server.pki.ca_cert).status_code == 401          # replayed
    d = delta(before, counters(server))
    assert d.get("cmi_auth.refused.authentication-required") == 2, d  # the bare request and digest's first
    assert d.get("cmi_auth.refused.authentication-failed") == 1, d
    assert d.get("cmi_auth.authenticated.cert") == 1, d
    assert d.get("cmi_auth.authenticated.digest") == 1, d
    assert d.get("cmi_auth.replay_cache.misses") == 1, d
    assert d.get("cmi_auth.replay_cache.hits") == 1, d


def test_audit_records_and_durable_write_latency(server):
    before = counters(server)
    for _ in range(3):
        assert curl(server.url("/st/audit/hello.txt"), ca=server.pki.ca_cert).status == 200
    after = counters(server)
    d = delta(before, after)
    assert d.get("cmi_audit.records.written") == 6, d  # begin + end per operation
    assert d.get("cmi_audit.durable_writes") == 3, d  # the begin records: nothing waits for an end record
    assert d.get("cmi_audit.durable_write_us.total", 0) > 0, d
    assert after["cmi_audit.durable_write_us.max"] > 0
    assert after["cmi_audit.durable_write_us.max"] <= after["cmi_audit.durable_write_us.total"]
    assert d.get("cmi_audit.records.failed") is None, d


def test_content_validations_per_format_and_refusals(server, tmp_path):
    server.expect_error(r"dav:error.*(reading the request body|Could not get next bucket brigade)")
    before = counters(server)
    body = b"a signed upload\n"
    sig = cms_sign(body, server.pki.client, tmp_path)
    url = server.url("/dav/st-content/a.txt")
    ok = curl(url, "--http1.1", "-X", "PUT", "-H", f"CMI-Content-Signature: {sig}", data=body, ca=server.pki.ca_cert)
    assert ok.status in (201, 204), ok.body
    assert curl(url, "--http1.1", "-X", "PUT", data=body, ca=server.pki.ca_cert).status == 400           # unsigned
    bad = curl(url, "--http1.1", "-X", "PUT", "-H", f"CMI-Content-Signature: {sig}", data=b"another body\n",
               ca=server.pki.ca_cert)
    assert bad.status == 422, bad.body
    d = delta(before, counters(server))
    assert d.get("cmi_content.validations.cms.valid") == 1, d
    assert d.get("cmi_content.validations.cms.invalid") == 1, d
    assert d.get("cmi_content.refused.signature-required") == 1, d
    assert d.get("cmi_content.refused.digest-mismatch") == 1, d


def test_content_http_signature_validations_and_replay_cache(server):
    server.expect_error(r"dav:error.*(reading the request body|Could not get next bucket brigade)")
    key = server.status_signer
    path = "/dav/st-httpsig/n.bin"
    url = server.url(path)

    def put(body, headers):
        return requests.put(url, data=body, headers=headers, verify=str(server.pki.ca_cert), timeout=30)

    def signed(body, signer=key, **kw):
        return sign_request("PUT", url, body, signer, "status-signer", "ed25519", **kw)

    before = counters(server)
    body = os.urandom(2000)
    nonce = uuid.uuid4().hex
    headers = signed(body, nonce=nonce)
    r = put(body, headers)                                            # valid; nonce stored: a miss
    assert r.status_code in (201, 204), r.text
    doc = assert_problem(put(body, headers), 422, "signature-invalid")  # the same request again: a hit
    assert "replay" in doc["detail"]
    # Re-signed with the same nonce: still a replay, a second hit.
    assert_problem(put(body, signed(body, nonce=nonce)), 422, "signature-invalid")
    # A key nobody trusts: refused before the nonce is looked up (no hit, no miss).
    assert_problem(put(body, signed(body, signer=new_key("ed25519"), nonce=uuid.uuid4().hex)),
                   422, "signature-invalid")
    # Without a nonce: valid, the replay cache is not consulted.
    r = put(body, signed(body))
    assert r.status_code in (201, 204), r.text
    # A good signature (fresh nonce: a miss) over a body that is then changed.
    other = os.urandom(2000)
    assert_problem(put(flip_last_byte(other), signed(other, nonce=uuid.uuid4().hex)), 422, "digest-mismatch")
    d = delta(before, counters(server))
    assert d.get("cmi_content.validations.http-signature.valid") == 2, d
    # The digest mismatch, the two replays and the untrusted key: refusals are
    # counted under the format their headers named.
    assert d.get("cmi_content.validations.http-signature.invalid") == 4, d
    assert d.get("cmi_content.validations.unknown.invalid") is None, d
    assert d.get("cmi_content.refused.signature-invalid") == 3, d
    assert d.get("cmi_content.refused.digest-mismatch") == 1, d
    assert d.get("cmi_content.replay_cache.misses") == 2, d
    assert d.get("cmi_content.replay_cache.hits") == 2, d
    assert d.get("cmi_content.replay_cache.errors") is None, d
    assert d.get("cmi_content.replay_cache.full") is None, d
    assert d.get("cmi_auth.replay_cache.hits") is None, d    # mod_cmi_auth's cache is another table
    assert d.get("cmi_auth.replay_cache.misses") is None, d


def manifest_item(id_, location, data, cms):
    return (f'<ContentItem id="{id_}"><Location>{location}</Location>'
            f'<Digest algorithm="sha-256">{base64.b64encode(hashlib.sha256(data).digest()).decode()}</Digest>'
            f'<SignedHash format="cms">{cms}</SignedHash></ContentItem>')


def manifest(*items) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Manifest xmlns="{MANIFEST_NS}">' + "".join(items) + "</Manifest>"


def test_content_manifest_validations(server, tmp_path):
    data = os.urandom(5000)
    staged = server.status_staging / "song.bin"
    staged.write_bytes(data)
    staged.chmod(0o644)
    cms = cms_sign(data, server.pki.client, tmp_path)
    url = server.url("/st-ingest/ingest.sh")

    def post(xml):
        return requests.post(url, data=xml.encode(), headers={"Content-Type": "application/xml"},
                             verify=str(server.pki.ca_cert), timeout=30)

    before = counters(server)
    r = post(manifest(manifest_item("s-1", "song.bin", data, cms)))
    assert r.status_code == 200, r.text
    assert "validation=valid" in r.text.splitlines()
    assert_problem(post("<Manifest xmlns="), 400, "manifest-malformed")                      # not XML
    assert_problem(post(manifest(manifest_item("s-2", "../song.bin", data, cms))), 400, "manifest-malformed")
    assert_problem(post(manifest(manifest_item("s-3", "song.bin", flip_last_byte(data), cms))),
                   422, "digest-mismatch")                                                   # wrong digest
    assert_problem(post(manifest(manifest_item("s-4", "gone.bin", data, cms))), 422, "content-missing")
    d = delta(before, counters(server))
    assert d.get("cmi_content.validations.manifest.valid") == 1, d
    assert d.get("cmi_content.validations.manifest.invalid") == 4, d
    assert d.get("cmi_content.refused.manifest-malformed") == 2, d
    assert d.get("cmi_content.refused.digest-mismatch") == 1, d
    assert d.get("cmi_content.refused.content-missing") == 1, d
    assert d.get("cmi_content.validations.unknown.invalid") is None, d


def test_auth_saml_authentications(server):
    idp, rogue = server.status_idp, server.status_rogue_idp
    url = server.url("/st/saml/hello.txt")

    def send(xml):
        return requests.get(url, headers={"Authorization": saml.header(xml)}, verify=str(server.pki.ca_cert),
                            timeout=30)

    spec = saml.AssertionSpec(issuer=SAML_IDP, audience=SAML_SP)
    assertion = idp.signed_assertion(spec)
    before = counters(server)
    for _ in range(2):  # a bearer assertion without OneTimeUse may be presented again
        r = send(assertion)
        assert r.status_code == 200, r.text
        assert r.text == "hello\n"
    assert_problem(send(rogue.signed_assertion(saml.AssertionSpec(issuer=SAML_IDP, audience=SAML_SP))),
                   401, "authentication-failed")                                  # untrusted signer
    assert_problem(send(idp.signed_assertion(saml.AssertionSpec(issuer=SAML_IDP, audience="https://other.example"))),
                   401, "authentication-failed")                                  # another audience
    d = delta(before, counters(server))
    assert d.get("cmi_auth.authenticated.saml") == 2, d
    assert d.get("cmi_auth.refused.authentication-failed") == 2, d
    for mech in ("cert", "digest", "basic"):
        assert d.get(f"cmi_auth.authenticated.{mech}") is None, d


def test_audit_unavailable_and_failed_records(audit_down):
    server = audit_down
    server.expect_error(r"cmi_audit:error.*/dev/full")
    before = counters(server)
    offset = server.log_size()
    # CMIAuditFailMode closed: the begin record fails, the operation is refused.
    doc = assert_problem(requests.get(server.url("/st/audit-down/hello.txt"), verify=str(server.pki.ca_cert),
                                      timeout=30), 503, "audit-unavailable")
    # CMIAuditFailMode open: the begin record fails, the operation proceeds.
    r = requests.get(server.url("/st/audit-open/hello.txt"), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    # Each end record is given up after the response (its begin record is
    # missing); wait for both lines so the reading below sees the whole of both
    # operations.
    for txid in (doc["transaction_id"], r.headers["CMI-Transaction-ID"]):
        assert server.wait_for_log(f"end record NOT recorded (its begin record is missing) "
                                   f"[CMI-Transaction-ID {txid}]", offset), server.log_since(offset)
    d = delta(before, counters(server))
    assert d.get("cmi_audit.refused.audit-unavailable") == 1, d
    assert d.get("cmi_audit.records.failed") == 2, d  # the two begin records; no end record was attempted
    assert d.get("cmi_audit.records.written") is None, d
    assert d.get("cmi_audit.durable_writes") is None, d  # counted only for a durable begin record
