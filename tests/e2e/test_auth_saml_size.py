"""Size limits for `Authorization: SAML` (mod_cmi_auth).

A signed assertion with a certificate and attributes easily exceeds httpd's
default 8190-byte header limit, so docs/authentication.md recommends
`LimitRequestFieldSize 65536`. httpd copies the limit into a <VirtualHost> when
the section is read: it must be set inside the TLS vhost or before it; set after
it, it does not apply there. Beyond httpd's limit, mod_cmi_auth itself refuses
documents over 256 KiB."""
import base64

import pytest
import requests

from cmi_e2e import saml
from cmi_e2e.problems import assert_problem

SP = "https://cmc.example/size"
IDP = "https://idp.example/size"



@pytest.fixture(scope="module")
def idp(httpd):
    (httpd.docroot / "samlsize").mkdir(exist_ok=True)
    (httpd.docroot / "samlsize" / "hello.txt").write_text("saml size secret\n")
    return saml.Idp(httpd.root / "conf", IDP, "size-idp")


def configure(httpd, idp, vhost="", server=""):
    httpd.configure(saml.location("/samlsize", idp.metadata_path, SP), server_snippet=server, vhost_snippet=vhost)


def send(httpd, header):
    return requests.get(httpd.url("/samlsize/hello.txt"), headers={"Authorization": header},
                        verify=str(httpd.pki.ca_cert), timeout=60)


def big_assertion(idp, size):
    """A signed assertion whose Authorization header is about `size` bytes."""
    pad = "p" * int(size * 3 / 4)
    return saml.header(idp.signed_assertion(saml.AssertionSpec(
        issuer=IDP, audience=SP, attributes={"role": ["content-provider"], "padding": [pad]})))


def test_assertion_over_8k_passes_with_the_limit_in_the_vhost(httpd, idp):
    configure(httpd, idp, vhost="LimitRequestFieldSize 65536")
    h = big_assertion(idp, 30000)
    assert 30000 < len(h) < 65536
    r = send(httpd, h)
    assert r.status_code == 200, r.text
    assert r.text == "saml size secret\n"


def test_header_over_the_vhost_limit_is_400_from_httpd(httpd, idp):
    configure(httpd, idp, vhost="LimitRequestFieldSize 65536")
    r = send(httpd, big_assertion(idp, 100000))
    assert r.status_code == 400
    assert "saml size secret" not in r.text
    # httpd is fine afterwards.
    assert send(httpd, big_assertion(idp, 20000)).status_code == 200


def test_one_mebibyte_header_is_400(httpd, idp):
    configure(httpd, idp, vhost="LimitRequestFieldSize 65536")
    h = "SAML " + base64.b64encode(b"<a>" + b"x" * (768 * 1024) + b"</a>").decode()
    try:
        r = send(httpd, h)
    except requests.exceptions.ConnectionError:
        pass  # httpd may close the connection while the header is still being sent
    else:
        assert r.status_code == 400 and "saml size secret" not in r.text
    assert send(httpd, big_assertion(idp, 20000)).status_code == 200


def test_limit_set_after_the_tls_vhost_does_not_apply_to_it(httpd, idp):
    # The harness writes server_snippet after the <VirtualHost>: the vhost keeps 8190.
    configure(httpd, idp, server="LimitRequestFieldSize 65536")
    small = big_assertion(idp, 0)
    assert len(small) < 8000
    assert send(httpd, small).status_code == 200
    r = send(httpd, big_assertion(idp, 30000))
    assert r.status_code == 400
    assert "saml size secret" not in r.text


def test_documents_over_256_kib_are_refused_by_mod_cmi_auth(httpd, idp):
    # httpd would let this header through; mod_cmi_auth does not parse it.
    configure(httpd, idp, vhost="LimitRequestFieldSize 1048576")
    h = "SAML " + base64.b64encode(b"<a>" + b"x" * (300 * 1024) + b"</a>").decode()
    doc = assert_problem(send(httpd, h), 401, "authentication-failed")
    assert "256 KiB" in doc["detail"]
    assert send(httpd, big_assertion(idp, 200000)).status_code == 200


def test_one_mebibyte_header_within_httpds_limit_is_401_from_mod_cmi_auth(httpd, idp):
    # Where an administrator lets 1 MiB headers through httpd, mod_cmi_auth still
    # refuses a 1 MiB SAML header as a failed credential, without parsing it.
    configure(httpd, idp, vhost="LimitRequestFieldSize 2097152")
    h = "SAML " + base64.b64encode(b"<a>" + b"x" * (768 * 1024) + b"</a>").decode()
    assert len(h) > 1024 * 1024
    doc = assert_problem(send(httpd, h), 401, "authentication-failed")
    assert "256 KiB" in doc["detail"]
    assert send(httpd, big_assertion(idp, 20000)).status_code == 200
