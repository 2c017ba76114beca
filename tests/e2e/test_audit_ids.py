"""mod_cmi_audit (CMI §6.3): transaction ids on every response of an audited location."""
import pytest
import requests

from cmi_e2e.problems import UUID7

CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf 'env=%s\\n' "$CMI_TRANSACTION_ID"
printf 'header=%s\\n' "$HTTP_CMI_TRANSACTION_ID"
"""

LOCATIONS = """
LogLevel warn cmi_audit:info
<Location /audited>
    CMIAudit On
</Location>
<Location /audited/off>
    CMIAudit Off
</Location>
<Directory "{docroot}/audited/cgi">
    Options +ExecCGI
    SetHandler cgi-script
</Directory>
"""


@pytest.fixture(scope="module")
def server(httpd):
    base = httpd.docroot / "audited"
    for d in ("", "off", "cgi", "dir"):
        (base / d).mkdir(parents=True, exist_ok=True)
    (base / "hello.txt").write_text("hello\n")
    (base / "off" / "hello.txt").write_text("not audited\n")
    (base / "dir" / "index.html").write_text("<p>index</p>\n")
    (httpd.docroot / "plain.txt").write_text("plain\n")
    script = base / "cgi" / "env.cgi"
    script.write_text(CGI)
    script.chmod(0o755)
    httpd.configure(LOCATIONS.format(docroot=httpd.docroot))
    return httpd


def get(server, path, tls=True, **kw):
    return requests.get(server.url(path, tls=tls), verify=str(server.pki.ca_cert),
                        allow_redirects=False, timeout=30, **kw)


def test_response_carries_uuid7_transaction_id(server):
    r = get(server, "/audited/hello.txt")
    assert r.status_code == 200
    assert UUID7.match(r.headers["CMI-Transaction-ID"])


def test_plain_http_too(server):
    r = get(server, "/audited/hello.txt", tls=False)
    assert r.status_code == 200 and UUID7.match(r.headers["CMI-Transaction-ID"])


def test_each_request_gets_its_own_id(server):
    ids = {get(server, "/audited/hello.txt").headers["CMI-Transaction-ID"] for _ in range(10)}
    assert len(ids) == 10


def test_error_responses_carry_the_id(server):
    r = get(server, "/audited/missing.txt")
    assert r.status_code == 404
    assert UUID7.match(r.headers["CMI-Transaction-ID"])


def test_subrequest_does_not_duplicate_header(server):
    # mod_dir looks up index.html in a subrequest.
    r = get(server, "/audited/dir/")
    assert r.status_code == 200 and "index" in r.text
    assert UUID7.match(r.headers["CMI-Transaction-ID"]), r.headers["CMI-Transaction-ID"]


def test_cgi_sees_id_in_env_and_request_header(server):
    r = get(server, "/audited/cgi/env.cgi")
    assert r.status_code == 200, r.text
    txid = r.headers["CMI-Transaction-ID"]
    assert f"env={txid}\n" in r.text
    assert f"header={txid}\n" in r.text


def test_client_cannot_choose_the_transaction_id(server):
    forged = "01900000-0000-7000-8000-000000000000"
    r = get(server, "/audited/cgi/env.cgi", headers={"CMI-Transaction-ID": forged})
    txid = r.headers["CMI-Transaction-ID"]
    assert txid != forged and UUID7.match(txid)
    assert f"header={txid}\n" in r.text and forged not in r.text


def test_valid_client_transaction_id_is_echoed(server):
    r = get(server, "/audited/hello.txt", headers={"CMI-Client-Transaction-ID": "order-42:a.b_c"})
    assert r.headers["CMI-Client-Transaction-ID"] == "order-42:a.b_c"
    assert r.headers["CMI-Transaction-ID"] != "order-42:a.b_c"


def test_client_transaction_id_echoed_on_errors(server):
    r = get(server, "/audited/missing.txt", headers={"CMI-Client-Transaction-ID": "x-1"})
    assert r.status_code == 404 and r.headers["CMI-Client-Transaction-ID"] == "x-1"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "quote\"d"])
def test_invalid_client_transaction_id_is_ignored_and_noted(server, bad):
    offset = server.log_size()
    r = get(server, "/audited/hello.txt", headers={"CMI-Client-Transaction-ID": bad})
    assert r.status_code == 200
    assert "CMI-Client-Transaction-ID" not in r.headers
    log = server.log_since(offset)
    assert "invalid CMI-Client-Transaction-ID" in log
    assert r.headers["CMI-Transaction-ID"] in log
    assert bad not in log


def test_unaudited_locations_get_nothing(server):
    for path in ("/audited/off/hello.txt", "/plain.txt"):
        r = get(server, path, headers={"CMI-Client-Transaction-ID": "abc"})
        assert r.status_code == 200
        assert "CMI-Transaction-ID" not in r.headers
        assert "CMI-Client-Transaction-ID" not in r.headers
