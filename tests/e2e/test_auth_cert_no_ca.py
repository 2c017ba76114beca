"""`SSLVerifyClient optional_no_ca`: certificates from unknown CAs reach the request
(SSL_CLIENT_VERIFY = GENEROUS or FAILED) and AuthType CMI must refuse them."""
import pytest

from cmi_e2e.clients import curl
from cmi_e2e.problems import assert_problem

LOCATION = """
<Location /nocaauth>
    AuthType CMI
    AuthName "CMI"
    CMIAuthMechanisms cert
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    (httpd.docroot / "nocaauth").mkdir(exist_ok=True)
    (httpd.docroot / "nocaauth" / "hello.txt").write_text("secret\n")
    httpd.configure(LOCATION, vhost_snippet="    SSLVerifyClient optional_no_ca\n")
    yield httpd
    httpd.configure("")  # back to the harness's SSLVerifyClient optional


def get(server, cred):
    return curl(server.url("/nocaauth/hello.txt"), ca=server.pki.ca_cert, cert=cred)


def test_untrusted_ca_certificate_is_refused(server):
    r = get(server, server.pki.untrusted_client)
    doc = assert_problem(r, 401, "authentication-failed")
    # mod_ssl reports FAILED:unable to verify the first certificate (or GENEROUS).
    assert "not verified" in doc["detail"]
    assert r.body.find(b"secret\n") == -1


def test_expired_certificate_is_refused(server):
    # Expiry is not one of the errors optional_no_ca forgives: mod_ssl still
    # fails the handshake.
    server.expect_error(r"AH02039: Certificate Verification: Error \(10\): certificate has expired")
    with pytest.raises(RuntimeError, match=r"curl failed \((35|55|56)\)"):
        get(server, server.pki.expired_client)


def test_trusted_certificate_still_authenticates(server):
    r = get(server, server.pki.client)
    assert r.status == 200 and r.body == b"secret\n"
