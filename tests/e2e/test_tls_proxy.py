"""mod_cmi_tls behind a TLS-offloading proxy: trust the forwarded protocol only from a trusted peer."""
import pytest
import requests

from cmi_e2e.problems import assert_problem

LOCATIONS = """
<Location /cmi>
    CMIRequireTLS On
    CMIStrictTransportSecurity "max-age=600"
</Location>
"""


def plain_get(server, headers=None):
    return requests.get(server.url("/cmi/hello.txt", tls=False), headers=headers or {},
                        allow_redirects=False, timeout=30)


@pytest.fixture
def docroot(httpd):
    (httpd.docroot / "cmi").mkdir(exist_ok=True)
    (httpd.docroot / "cmi" / "hello.txt").write_text("hello from /cmi\n")
    return httpd


def test_x_forwarded_proto_from_trusted_peer(docroot):
    docroot.configure(LOCATIONS, server_snippet="CMITrustedProxy 192.0.2.0/24 127.0.0.1")
    r = plain_get(docroot, {"X-Forwarded-Proto": "https"})
    assert r.status_code == 200 and r.text == "hello from /cmi\n"
    assert r.headers.get("Strict-Transport-Security") == "max-age=600"
    # The nearest proxy's entry (the last one) decides.
    assert_problem(plain_get(docroot, {"X-Forwarded-Proto": "https, http"}), 403, "tls-required")
    assert plain_get(docroot, {"X-Forwarded-Proto": "http, https"}).status_code == 200
    assert_problem(plain_get(docroot, {"X-Forwarded-Proto": "http"}), 403, "tls-required")
    assert_problem(plain_get(docroot), 403, "tls-required")
    # X-Forwarded-Proto is the default header; Forwarded is not looked at.
    assert_problem(plain_get(docroot, {"Forwarded": "proto=https"}), 403, "tls-required")


def test_forwarded_header_from_trusted_peer(docroot):
    docroot.configure(LOCATIONS, server_snippet="CMITrustedProxy 127.0.0.0/8\nCMIForwardedProto Forwarded")
    assert plain_get(docroot, {"Forwarded": "for=192.0.2.43;proto=https"}).status_code == 200
    assert plain_get(docroot, {"Forwarded": 'for="[2001:db8::1]";Proto="HTTPS"'}).status_code == 200
    assert_problem(plain_get(docroot, {"Forwarded": "proto=https, for=192.0.2.1"}), 403, "tls-required")
    assert_problem(plain_get(docroot, {"Forwarded": "proto=http"}), 403, "tls-required")
    assert_problem(plain_get(docroot, {"Forwarded": "proto=https;proto=https"}), 403, "tls-required")
    assert_problem(plain_get(docroot, {"X-Forwarded-Proto": "https"}), 403, "tls-required")


def test_forwarded_proto_from_untrusted_peer_is_ignored(docroot):
    docroot.configure(LOCATIONS, server_snippet="CMITrustedProxy 192.0.2.0/24 2001:db8::/32")
    assert_problem(plain_get(docroot, {"X-Forwarded-Proto": "https"}), 403, "tls-required")
    r = plain_get(docroot, {"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in r.headers


def test_no_trusted_proxy_configured(docroot):
    docroot.configure(LOCATIONS)
    assert_problem(plain_get(docroot, {"X-Forwarded-Proto": "https", "Forwarded": "proto=https"}),
                   403, "tls-required")
