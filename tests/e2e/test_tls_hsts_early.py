"""HSTS on every TLS response of a host that sets CMIStrictTransportSecurity at the virtual
host, refusals included — also those httpd makes before it reads any <Location> (400 for
a malformed request, 417, TRACE refused, 404 for an encoded slash), which never reach the
access phase where mod_cmi_tls adds the header otherwise."""
import pytest

from cmi_e2e.clients import curl, s_client_request

HSTS = "max-age=900"
SERVER = "TraceEnable Off"
VHOST = f'    CMIStrictTransportSecurity "{HSTS}"'
LOCATIONS = """
<Location /cmi>
    CMIRequireTLS On
</Location>
<Location /cmi/no-hsts>
    CMIStrictTransportSecurity Off
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    (httpd.docroot / "cmi").mkdir(exist_ok=True)
    (httpd.docroot / "cmi" / "hello.txt").write_text("hello\n")
    httpd.configure(LOCATIONS, server_snippet=SERVER, vhost_snippet=VHOST)
    return httpd


@pytest.mark.parametrize("args, path, status", [
    ([], "/cmi/hello.txt", 200),
    (["-X", "TRACE"], "/cmi/hello.txt", 405),
    (["-H", "Expect: something-else"], "/cmi/hello.txt", 417),
    ([], "/cmi/a%2Fb", 404),
    ([], "/cmi/missing", 404),
], ids=["ok", "trace", "expect", "encoded-slash", "missing"])
def test_hsts_on_every_tls_response(server, args, path, status):
    r = curl(server.url(path), *args, ca=server.pki.ca_cert)
    assert r.status == status, r.body
    assert r.header("Strict-Transport-Security") == HSTS


def test_hsts_on_a_malformed_request(server):
    out = s_client_request(server.https_port, b"GET /cmi/hello.txt HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n",
                           ca=server.pki.ca_cert)
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert f"Strict-Transport-Security: {HSTS}".encode() in out


def test_off_in_a_location_cancels_and_plain_http_never_has_it(server):
    r = curl(server.url("/cmi/no-hsts/missing"), ca=server.pki.ca_cert)
    assert r.status == 404 and r.header("Strict-Transport-Security") is None
    r = curl(server.url("/cmi/a%2Fb", tls=False), "-X", "TRACE")
    assert r.status in (403, 404, 405) and r.header("Strict-Transport-Security") is None
