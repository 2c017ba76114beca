"""mod_cmi_tls (CMI §6.2): TLS required per location, before anything else runs."""
import subprocess

import pytest
import requests

from cmi_e2e.clients import curl, s_client_request
from cmi_e2e.problems import assert_problem, UUID7

LOCATIONS = """
<Location /cmi>
    CMIRequireTLS On
    CMIStrictTransportSecurity "max-age=600; includeSubDomains"
</Location>
<Location /cmi/public>
    CMIRequireTLS Off
</Location>
<Location /dav>
    CMIRequireTLS On
</Location>
<Location /redir>
    CMIRequireTLS On
    CMIInsecureAction redirect https://localhost:{https_port}
</Location>
<Location /cmi13>
    CMIRequireTLS On
    CMITLSMinProtocol TLSv1.3
</Location>
<Location /hsts-only>
    CMIStrictTransportSecurity "max-age=300"
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    for d in ("cmi", "cmi/public", "redir", "cmi13", "open", "hsts-only"):
        (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text(f"hello from /{d}\n")
    httpd.configure(LOCATIONS.format(https_port=httpd.https_port))
    return httpd


def get(server, path, tls, **kw):
    return requests.get(server.url(path, tls=tls), verify=str(server.pki.ca_cert),
                        allow_redirects=False, timeout=30, **kw)


# --- refusal of plain HTTP ------------------------------------------------------

def test_plain_get_is_refused_with_problem_document(server):
    offset = server.log_size()
    r = get(server, "/cmi/hello.txt", tls=False)
    doc = assert_problem(r, 403, "tls-required")
    assert "TLS" in doc["detail"]
    assert "hello from" not in r.text
    assert "Strict-Transport-Security" not in r.headers
    # The refusal is in the error log with its transaction id.
    log = server.log_since(offset)
    assert "tls-required" in log and doc["transaction_id"] in log


def test_plain_put_to_dav_is_refused_and_writes_nothing(server):
    r = requests.put(server.url("/dav/plain.bin", tls=False), data=b"x" * 5000, timeout=30)
    assert_problem(r, 403, "tls-required")
    assert not (server.dav_dir / "plain.bin").exists()


def test_plain_put_with_curl_is_refused(server):
    r = curl(server.url("/dav/curl-plain.bin", tls=False), "-T", "-", data=b"y" * 100)
    assert_problem(r, 403, "tls-required")
    assert not (server.dav_dir / "curl-plain.bin").exists()


def test_every_refusal_has_its_own_transaction_id(server):
    ids = {get(server, "/cmi/hello.txt", tls=False).headers["CMI-Transaction-ID"] for _ in range(5)}
    assert len(ids) == 5 and all(UUID7.match(i) for i in ids)


# --- the same over TLS ------------------------------------------------------------

def test_tls_get_is_served_by_the_static_handler(server):
    r = get(server, "/cmi/hello.txt", tls=True)
    assert r.status_code == 200
    assert r.text == "hello from /cmi\n"


def test_tls_put_is_served_by_mod_dav(server):
    body = bytes(range(256)) * 40
    r = requests.put(server.url("/dav/tls.bin"), data=body, verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 201
    assert (server.dav_dir / "tls.bin").read_bytes() == body


def test_tls_with_curl(server):
    r = curl(server.url("/cmi/hello.txt"), ca=server.pki.ca_cert)
    assert r.status == 200 and r.body == b"hello from /cmi\n"


def test_location_without_policy_is_untouched(server):
    r = get(server, "/open/hello.txt", tls=False)
    assert r.status_code == 200
    assert "CMI-Transaction-ID" not in r.headers


# --- CMIInsecureAction redirect --------------------------------------------------

def test_redirect_get_and_head_keep_path_and_query(server):
    for method in ("GET", "HEAD"):
        r = requests.request(method, server.url("/redir/hello.txt?a=1&b=%2F", tls=False),
                             allow_redirects=False, timeout=30)
        assert r.status_code == 308
        assert r.headers["Location"] == f"https://localhost:{server.https_port}/redir/hello.txt?a=1&b=%2F"


def test_redirect_leads_to_the_content(server):
    r = requests.get(server.url("/redir/hello.txt", tls=False), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200 and r.text == "hello from /redir\n"
    assert r.history and r.history[0].status_code == 308


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_redirect_never_applies_to_requests_with_bodies(server, method):
    r = requests.request(method, server.url("/redir/hello.txt", tls=False), data=b"secret",
                         allow_redirects=False, timeout=30)
    assert_problem(r, 403, "tls-required")
    assert "Location" not in r.headers


# --- CMITLSMinProtocol ----------------------------------------------------------

def test_tls12_client_is_too_weak_for_a_tls13_location(server):
    r = curl(server.url("/cmi13/hello.txt"), "--tls-max", "1.2", ca=server.pki.ca_cert)
    doc = assert_problem(r, 403, "tls-too-weak")
    assert "TLSv1.3" in doc["detail"] and "TLSv1.2" in doc["detail"]


def test_tls13_client_is_served(server):
    r = curl(server.url("/cmi13/hello.txt"), "--tlsv1.3", ca=server.pki.ca_cert)
    assert r.status == 200 and r.body == b"hello from /cmi13\n"


def test_tls12_is_enough_for_the_default_minimum(server):
    r = curl(server.url("/cmi/hello.txt"), "--tls-max", "1.2", ca=server.pki.ca_cert)
    assert r.status == 200


def test_openssl_s_client_tls12_gets_tls_too_weak(server):
    out = s_client_request(server.https_port,
                           b"GET /cmi13/hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                           "-tls1_2", ca=server.pki.ca_cert)
    assert out.startswith(b"HTTP/1.1 403"), out[:200]
    assert b"tag:mod-cmi,2026:tls-too-weak" in out
    assert b"application/problem+json" in out


def test_openssl_s_client_tls13_is_served(server):
    out = s_client_request(server.https_port,
                           b"GET /cmi13/hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                           "-tls1_3", ca=server.pki.ca_cert)
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    assert out.endswith(b"hello from /cmi13\n")


# --- HSTS --------------------------------------------------------------------------

def test_hsts_on_tls_responses_of_that_location(server):
    r = get(server, "/cmi/hello.txt", tls=True)
    assert r.headers.get("Strict-Transport-Security") == "max-age=600; includeSubDomains"


def test_hsts_also_on_tls_refusals(server):
    r = get(server, "/cmi/missing.txt", tls=True)
    assert r.status_code == 404
    assert r.headers.get("Strict-Transport-Security") == "max-age=600; includeSubDomains"


def test_no_hsts_over_plain_http(server):
    r = get(server, "/hsts-only/hello.txt", tls=False)
    assert r.status_code == 200
    assert "Strict-Transport-Security" not in r.headers


def test_no_hsts_on_other_locations(server):
    r = get(server, "/open/hello.txt", tls=True)
    assert r.status_code == 200
    assert "Strict-Transport-Security" not in r.headers


# --- nested locations -------------------------------------------------------------

def test_inner_location_overrides_outer(server):
    r = get(server, "/cmi/public/hello.txt", tls=False)
    assert r.status_code == 200 and r.text == "hello from /cmi/public\n"
    # ...and inherits the outer HSTS over TLS.
    r = get(server, "/cmi/public/hello.txt", tls=True)
    assert r.headers.get("Strict-Transport-Security") == "max-age=600; includeSubDomains"


def test_outer_location_still_enforced(server):
    assert_problem(get(server, "/cmi/hello.txt", tls=False), 403, "tls-required")
