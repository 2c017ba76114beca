"""server-status: each module's counters change as requests are refused, validated,
authenticated, replayed and audited (issue 7, mod_status)."""
import re
import subprocess

import pytest

from cmi_e2e import digest
from cmi_e2e.clients import curl
from cmi_e2e.content import cms_sign, www_owned_dir

REALM = "CMI status"

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
"""
SERVER = 'CMIAuditLog "{root}/var/status-audit.log"\n'

LINE = re.compile(r"^(cmi_[a-z]+\.[A-Za-z0-9_.-]+): (\d+)$", re.M)


@pytest.fixture(scope="module")
def server(httpd):
    conf = httpd.root / "conf"
    subprocess.run([str(httpd.source_tool("cmi-htdigest")), "-c", str(conf / "status.digest"), REALM, "alice"],
                   input=b"wonder land", check=True)
    (conf / "status.digest").chmod(0o644)
    for d in ("st/tls", "st/auth", "st/audit"):
        (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text("hello\n")
    www_owned_dir(httpd.dav_dir / "st-content")
    httpd.configure(snippet=CONFIG.format(realm=REALM, conf=conf, ca=httpd.pki.ca_cert),
                    server_snippet=SERVER.format(root=httpd.root))
    return httpd


def counters(server) -> dict[str, int]:
    r = curl(server.url("/server-status?auto", tls=False))
    assert r.status == 200, r.body
    return {k: int(v) for k, v in LINE.findall(r.body.decode())}


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
