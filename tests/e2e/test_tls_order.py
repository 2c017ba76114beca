"""mod_cmi_tls runs before authentication and cannot be bypassed by it; HTTP/2 is TLS too."""
import subprocess

import pytest
import requests

from cmi_e2e.clients import curl
from cmi_e2e.problems import assert_problem


@pytest.fixture(scope="module")
def server(httpd):
    htpasswd = httpd.root / "conf" / "htpasswd"
    subprocess.run(["htpasswd", "-bcB", str(htpasswd), "alice", "wonderland"], check=True,
                   capture_output=True)
    for d in ("auth", "anyauth", "h2"):
        (httpd.docroot / d).mkdir(exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text(f"hello from /{d}\n")
    httpd.configure(f"""
<Location /auth>
    CMIRequireTLS On
    AuthType Basic
    AuthName "cmi"
    AuthUserFile "{htpasswd}"
    Require valid-user
</Location>
# mod_access_compat's Satisfy Any lets authentication override a failed access
# check; TLS enforcement must still hold.
<Location /anyauth>
    CMIRequireTLS On
    Order allow,deny
    Deny from all
    Satisfy Any
    AuthType Basic
    AuthName "cmi"
    AuthUserFile "{htpasswd}"
    Require valid-user
</Location>
<Location /h2>
    CMIRequireTLS On
    CMITLSMinProtocol TLSv1.3
</Location>
""")
    return httpd


def test_tls_is_checked_before_authentication(server):
    r = requests.get(server.url("/auth/hello.txt", tls=False), timeout=30)
    assert_problem(r, 403, "tls-required")
    assert "WWW-Authenticate" not in r.headers


def test_credentials_over_plain_http_are_refused(server):
    r = requests.get(server.url("/auth/hello.txt", tls=False), auth=("alice", "wonderland"), timeout=30)
    assert_problem(r, 403, "tls-required")


def test_authentication_works_over_tls(server):
    ca = str(server.pki.ca_cert)
    assert requests.get(server.url("/auth/hello.txt"), verify=ca, timeout=30).status_code == 401
    r = requests.get(server.url("/auth/hello.txt"), auth=("alice", "wonderland"), verify=ca, timeout=30)
    assert r.status_code == 200 and r.text == "hello from /auth\n"


def test_satisfy_any_cannot_bypass_tls(server):
    server.expect_error(r"AH01797: client denied by server configuration: .*/anyauth/")  # Deny from all
    r = requests.get(server.url("/anyauth/hello.txt", tls=False), auth=("alice", "wonderland"), timeout=30)
    assert_problem(r, 403, "tls-required")
    assert "hello from" not in r.text
    r = requests.get(server.url("/anyauth/hello.txt"), auth=("alice", "wonderland"),
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200


def test_http2_over_tls13_is_served(server):
    r = curl(server.url("/h2/hello.txt"), "--http2", "--tlsv1.3", ca=server.pki.ca_cert)
    assert r.status == 200 and r.body == b"hello from /h2\n"
    assert r.http_version == "2"


def test_http2_over_tls12_is_too_weak(server):
    r = curl(server.url("/h2/hello.txt"), "--http2", "--tls-max", "1.2", ca=server.pki.ca_cert)
    assert r.http_version == "2"
    assert_problem(r, 403, "tls-too-weak")
