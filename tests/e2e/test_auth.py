"""mod_cmi_auth (CMI §6.1): AuthType CMI with client certificates, Digest and Basic."""
import base64
import re
import subprocess
import time

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.clients import curl
from cmi_e2e.problems import assert_problem

REALM = "CMI test"
SHA_USERS = {"alice": "wonder land"}
MD5_USERS = {"alice": "wonder land", "mallory": "md5 only"}
BASIC_USERS = {"carol": "basic secret"}

LOCATIONS = """
<AuthnProviderAlias file cmi-sha>
    AuthUserFile "{conf}/sha256.digest"
</AuthnProviderAlias>
<AuthnProviderAlias file cmi-md5>
    AuthUserFile "{conf}/md5.digest"
</AuthnProviderAlias>
<AuthnProviderAlias file cmi-basic>
    AuthUserFile "{conf}/basic.passwd"
</AuthnProviderAlias>
<Location /auth>
    AuthType CMI
    AuthName "{realm}"
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
    Header always set X-CMI-Mech "%{{CMI_AUTH_MECH}}e"
    Header always set X-CMI-Issuer "%{{CMI_AUTH_ISSUER}}e"
</Location>
<Location /auth/cert>
    CMIAuthMechanisms cert
</Location>
<Location /auth/certexpr>
    CMIAuthMechanisms cert
    CMIAuthCertUser "%{{SSL_CLIENT_S_DN_O}}/%{{SSL_CLIENT_S_DN_CN}}"
</Location>
<Location /auth/digest>
    CMIAuthMechanisms digest
    CMIAuthProvider cmi-sha cmi-md5
</Location>
<Location /auth/digest-both>
    CMIAuthMechanisms digest
    CMIAuthProvider cmi-sha cmi-md5
    CMIAuthDigestAlgorithms SHA-256 MD5
</Location>
<Location /auth/digest-realm2>
    AuthName "CMI other realm"
    CMIAuthMechanisms digest
    CMIAuthProvider cmi-sha cmi-md5
</Location>
<Location /auth/digest-md5>
    CMIAuthMechanisms digest
    CMIAuthProvider cmi-sha cmi-md5
    CMIAuthDigestAlgorithms MD5
</Location>
<Location /auth/digest-short>
    CMIAuthMechanisms digest
    CMIAuthProvider cmi-sha cmi-md5
    CMIAuthDigestNonceLifetime 2
</Location>
<Location /auth/basic>
    CMIAuthMechanisms basic
    AuthUserFile "{conf}/basic.passwd"
</Location>
<Location /auth/multi>
    CMIAuthMechanisms cert saml digest basic
    CMIAuthProvider cmi-sha cmi-md5 cmi-basic
</Location>
<Location /auth/default>
</Location>
<Location /auth/only-cert>
    CMIAuthMechanisms digest cert
    CMIAuthProvider cmi-sha cmi-md5
    Require cmi-mechanism cert
    AuthzSendForbiddenOnFailure On
</Location>
<Location /auth/only-cert-401>
    CMIAuthMechanisms digest cert
    CMIAuthProvider cmi-sha cmi-md5
    Require cmi-mechanism cert
</Location>
<Location /auth/only-digest>
    CMIAuthMechanisms cert digest
    CMIAuthProvider cmi-sha cmi-md5
    Require cmi-mechanism digest
</Location>
<Location /auth/basic-bob>
    CMIAuthMechanisms basic
    AuthUserFile "{conf}/basic.passwd"
    Require user bob
</Location>
<Location /auth/basic-bob-403>
    CMIAuthMechanisms basic
    AuthUserFile "{conf}/basic.passwd"
    Require user bob
    AuthzSendForbiddenOnFailure On
</Location>
"""

LOCATION_DIRS = ("cert", "certexpr", "digest", "digest-both", "digest-realm2", "digest-md5", "digest-short", "basic", "multi", "default",
                 "only-cert", "only-cert-401", "only-digest", "basic-bob", "basic-bob-403")


@pytest.fixture(scope="module")
def server(httpd):
    conf = httpd.root / "conf"
    for user, pw in SHA_USERS.items():
        subprocess.run([str(httpd.source_tool("cmi-htdigest")),
                        *(["-c"] if user == "alice" else []),
                        str(conf / "sha256.digest"), REALM, user],
                       input=pw.encode(), check=True)
    for i, (user, pw) in enumerate(MD5_USERS.items()):
        subprocess.run([str(httpd.source_tool("cmi-htdigest")), *(["-c"] if i == 0 else []),
                        "-a", "MD5", str(conf / "md5.digest"), REALM, user], input=pw.encode(), check=True)
    subprocess.run(["htpasswd", "-cbB", str(conf / "basic.passwd"), "carol", BASIC_USERS["carol"]],
                   check=True, capture_output=True)
    for f in ("sha256.digest", "md5.digest", "basic.passwd"):
        (conf / f).chmod(0o644)  # the children (www-data) read them
    for d in LOCATION_DIRS:
        (httpd.docroot / "auth" / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / "auth" / d / "hello.txt").write_text(f"secret of /auth/{d}\n")
    offset = httpd.log_size()
    httpd.configure(LOCATIONS.format(conf=conf, realm=REALM))
    httpd.startup_log = httpd.log_since(offset)
    return httpd


def url(server, loc, tls=True):
    return server.url(f"/auth/{loc}/hello.txt", tls=tls)


def get(server, loc, tls=True, **kw):
    return requests.get(url(server, loc, tls), verify=str(server.pki.ca_cert), timeout=30, **kw)


def schemes(resp):
    return [(c["scheme"], c.get("algorithm")) for c in digest.challenges(resp)]


# --- no credentials: one challenge per challengeable mechanism ------------------

def test_no_credentials_is_refused_with_every_challenge(server):
    r = get(server, "multi")
    doc = assert_problem(r, 401, "authentication-required")
    assert "secret of" not in r.text
    # saml is listed but no IdP is trusted here (no CMISAMLIdPMetadata): not offered.
    assert schemes(r) == [("Digest", "SHA-256"), ("Basic", None)]
    for c in digest.challenges(r):
        assert c["realm"] == REALM
    assert "(cert, digest, basic)" in doc["detail"]


def test_basic_and_saml_are_not_offered_over_plain_http(server):
    r = get(server, "multi", tls=False)
    assert_problem(r, 401, "authentication-required")
    assert schemes(r) == [("Digest", "SHA-256")]


def test_default_mechanisms_are_cert_and_saml_and_saml_needs_an_idp(server):
    # cert saml by default; without CMISAMLIdPMetadata no SAML challenge and no "saml"
    # in the detail (the demo, with its IdP, offers it: test_demo.py step 3).
    r = get(server, "default")
    doc = assert_problem(r, 401, "authentication-required")
    assert schemes(r) == []
    assert "(cert)" in doc["detail"] and "saml" not in doc["detail"]


def test_challenges_survive_http2(server):
    r = curl(url(server, "multi"), "--http2", ca=server.pki.ca_cert)
    assert r.http_version == "2"
    assert_problem(r, 401, "authentication-required")
    assert len(r.headers["www-authenticate"]) == 2  # Digest SHA-256, Basic (no IdP: no SAML)


# --- cert ----------------------------------------------------------------------

def test_verified_client_certificate_authenticates(server):
    r = curl(url(server, "cert"), ca=server.pki.ca_cert, cert=server.pki.client)
    assert r.status == 200, r.body
    assert r.body == b"secret of /auth/cert\n"
    assert r.header("X-CMI-User") == "provider-a"
    assert r.header("X-CMI-Mech") == "cert"
    assert "CN=mod_cmi test CA" in r.header("X-CMI-Issuer")


def test_certificate_facts_per_connection(server):
    # The user and issuer are kept per connection (keyed by the TLS session):
    # every request of a keep-alive connection gets them, and another
    # connection with another certificate gets its own.
    for cred, user in ((server.pki.client, "provider-a"), (server.pki.client_b, "provider-b"),
                       (server.pki.client, "provider-a")):
        with requests.Session() as s:
            s.cert = (str(cred.cert), str(cred.key))
            ca = str(server.pki.ca_cert)
            for _ in range(3):
                r = s.get(url(server, "cert"), verify=ca, timeout=30)
                assert r.status_code == 200, r.text
                assert r.headers["X-CMI-User"] == user
                assert "CN=mod_cmi test CA" in r.headers["X-CMI-Issuer"]
            # An expression is still evaluated per request on the same connection.
            r = s.get(url(server, "certexpr"), verify=ca, timeout=30)
            assert r.headers["X-CMI-User"] == f"mod_cmi tests/{user}"


def test_cert_user_expression(server):
    r = curl(url(server, "certexpr"), ca=server.pki.ca_cert, cert=server.pki.client_b)
    assert r.status == 200
    assert r.header("X-CMI-User") == "mod_cmi tests/provider-b"


def access_log_lines(server, want, timeout=10.0):
    """The access log once a line satisfies `want`: httpd writes it after the
    response has been sent, so a client may read the log before it is there."""
    path = server.root / "logs" / "access.log"
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines()
        if any(want(line) for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_cert_user_in_access_log(server):
    curl(url(server, "cert"), ca=server.pki.ca_cert, cert=server.pki.client)
    log = access_log_lines(server, lambda line: " provider-a [" in line)
    assert any(" provider-a [" in line for line in log)


def test_no_certificate_is_refused(server):
    r = curl(url(server, "cert"), ca=server.pki.ca_cert)
    assert_problem(r, 401, "authentication-required")
    assert "www-authenticate" not in r.headers  # a certificate cannot be challenged for
    assert b"secret" not in r.body


@pytest.mark.parametrize("which, reason", [
    ("expired_client", "certificate has expired"),
    ("untrusted_client", "unable to get local issuer certificate"),
])
def test_bad_certificate_fails_the_handshake_with_verify_optional(server, which, reason):
    # SSLVerifyClient optional: mod_ssl itself ends the handshake for a
    # certificate that does not verify, before any request is read.
    server.expect_error(r"AH02039: Certificate Verification: Error \(\d+\): " + reason)
    offset = server.log_size()
    with pytest.raises(RuntimeError, match=r"curl failed \((35|55|56)\)"):
        curl(url(server, "cert"), ca=server.pki.ca_cert, cert=getattr(server.pki, which))
    assert reason in server.log_since(offset)


def test_cert_over_plain_http_is_absent(server):
    r = get(server, "cert", tls=False)
    assert_problem(r, 401, "authentication-required")


# --- digest --------------------------------------------------------------------

def digest_get(server, loc, user, password, algorithm, nc=1, tls=True, uri=None, cnonce=None):
    first = get(server, loc, tls=tls)
    chal = digest.digest_challenge(first, algorithm)
    path = uri or f"/auth/{loc}/hello.txt"
    header = digest.authorization(chal, user, password, "GET", path, nc=nc, cnonce=cnonce)
    return digest.get(url(server, loc, tls), header, server.pki.ca_cert), header


def test_digest_sha256_by_rfc7616_client(server):
    r, _ = digest_get(server, "digest", "alice", SHA_USERS["alice"], "SHA-256")
    assert r.status_code == 200, r.text
    assert r.text == "secret of /auth/digest\n"
    assert r.headers["X-CMI-User"] == "alice"
    assert r.headers["X-CMI-Mech"] == "digest"


def test_digest_md5_by_rfc7616_client(server):
    r, _ = digest_get(server, "digest-both", "mallory", MD5_USERS["mallory"], "MD5")
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "mallory"


def test_digest_sha256_with_curl(server):
    r = curl(url(server, "digest"), "--digest", "-u", f"alice:{MD5_USERS['alice']}", ca=server.pki.ca_cert)
    assert r.status == 200, r.body
    assert r.header("X-CMI-User") == "alice"


def test_digest_with_python_requests(server):
    from requests.auth import HTTPDigestAuth
    r = get(server, "digest", auth=HTTPDigestAuth("alice", SHA_USERS["alice"]))
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice"


def test_digest_challenge_step_is_logged_at_info(server):
    # curl --digest first asks without credentials (401 + challenge), then logs in:
    # the first step is part of every login, not a warning. A wrong password still is.
    offset = server.log_size()
    r = curl(url(server, "digest"), "--digest", "-u", f"alice:{SHA_USERS['alice']}", ca=server.pki.ca_cert)
    assert r.status == 200
    assert "authentication-required" not in server.log_since(offset)
    r = curl(url(server, "digest"), "--digest", "-u", "alice:wrong", ca=server.pki.ca_cert)
    assert r.status == 401
    logged = server.log_since(offset)
    assert "[cmi_auth:warn]" in logged and "authentication-failed" in logged
    assert "authentication-required" not in logged


def test_digest_sha256_needs_a_sha256_entry(server):
    # mallory has only an MD5 (htdigest) entry.
    r, _ = digest_get(server, "digest", "mallory", MD5_USERS["mallory"], "SHA-256")
    assert_problem(r, 401, "authentication-failed")


def test_digest_wrong_password(server):
    r, _ = digest_get(server, "digest", "alice", "not the password", "SHA-256")
    doc = assert_problem(r, 401, "authentication-failed")
    assert "not the password" not in r.text
    assert schemes(r) == [("Digest", "SHA-256")]
    assert "Wrong user name or password" in doc["detail"]


def test_digest_unknown_user(server):
    r, _ = digest_get(server, "digest-both", "nobody", "x", "MD5")
    assert_problem(r, 401, "authentication-failed")


def test_digest_replayed_nonce_count_is_refused(server):
    r, header = digest_get(server, "digest", "alice", SHA_USERS["alice"], "SHA-256")
    assert r.status_code == 200
    again = digest.get(url(server, "digest"), header, server.pki.ca_cert)
    doc = assert_problem(again, 401, "authentication-failed")
    assert "replay" in doc["detail"]


def test_digest_next_nonce_count_is_accepted(server):
    first = get(server, "digest")
    chal = digest.digest_challenge(first, "SHA-256")
    for nc in (1, 2, 3):
        h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", "/auth/digest/hello.txt", nc=nc)
        assert digest.get(url(server, "digest"), h, server.pki.ca_cert).status_code == 200


def test_digest_forged_nonce_is_refused(server):
    first = get(server, "digest")
    chal = digest.digest_challenge(first, "SHA-256")
    chal["nonce"] = chal["nonce"][:32] + "0" * 32
    h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", "/auth/digest/hello.txt")
    doc = assert_problem(digest.get(url(server, "digest"), h, server.pki.ca_cert), 401, "authentication-failed")
    assert "nonce" in doc["detail"]


def test_digest_uri_must_match_request(server):
    r, _ = digest_get(server, "digest", "alice", SHA_USERS["alice"], "SHA-256", uri="/auth/other")
    assert_problem(r, 401, "authentication-failed")


def test_digest_expired_nonce_is_stale(server):
    import time
    first = get(server, "digest-short")
    chal = digest.digest_challenge(first, "SHA-256")
    time.sleep(3.5)
    h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", "/auth/digest-short/hello.txt")
    r = digest.get(url(server, "digest-short"), h, server.pki.ca_cert)
    assert_problem(r, 401, "authentication-required")
    fresh = digest.digest_challenge(r, "SHA-256")
    assert fresh.get("stale") == "true"
    assert fresh["nonce"] != chal["nonce"]
    # A wrong password with an expired nonce is a failure, not "stale".
    h = digest.authorization(chal, "alice", "wrong", "GET", "/auth/digest-short/hello.txt")
    r = digest.get(url(server, "digest-short"), h, server.pki.ca_cert)
    assert_problem(r, 401, "authentication-failed")
    assert "stale" not in digest.digest_challenge(r, "SHA-256")


def test_digest_over_plain_http(server):
    r, _ = digest_get(server, "digest", "alice", SHA_USERS["alice"], "SHA-256", tls=False)
    assert r.status_code == 200


# --- basic ---------------------------------------------------------------------

def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def test_basic_over_tls(server):
    r = get(server, "basic", headers={"Authorization": basic("carol", BASIC_USERS["carol"])})
    assert r.status_code == 200
    assert r.headers["X-CMI-User"] == "carol" and r.headers["X-CMI-Mech"] == "basic"


def test_basic_wrong_password(server):
    r = get(server, "basic", headers={"Authorization": basic("carol", "nope")})
    assert_problem(r, 401, "authentication-failed")
    assert schemes(r) == [("Basic", None)]


def test_basic_over_plain_http_is_refused(server):
    r = get(server, "basic", tls=False, headers={"Authorization": basic("carol", BASIC_USERS["carol"])})
    doc = assert_problem(r, 401, "authentication-failed")
    assert "TLS" in doc["detail"]
    assert "secret" not in r.text


@pytest.mark.parametrize("value", ["Basic", "Basic !!!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                                   "Basic " + base64.b64encode(b":empty-user").decode()])
def test_basic_malformed(server, value):
    r = get(server, "basic", headers={"Authorization": value})
    assert r.status_code == 401


# --- several mechanisms on one location ---------------------------------------

def test_multi_cert_wins(server):
    r = curl(url(server, "multi"), ca=server.pki.ca_cert, cert=server.pki.client)
    assert r.status == 200 and r.header("X-CMI-Mech") == "cert"


def test_multi_basic_after_digest_providers(server):
    r = get(server, "multi", headers={"Authorization": basic("carol", BASIC_USERS["carol"])})
    assert r.status_code == 200 and r.headers["X-CMI-Mech"] == "basic"


def test_multi_invalid_saml_is_a_failure(server):
    r = curl(url(server, "multi"), "-H", "Authorization: SAML bm90IGFuIGFzc2VydGlvbg==",
             ca=server.pki.ca_cert)
    assert_problem(r, 401, "authentication-failed")


def test_present_but_invalid_does_not_fall_through_to_a_later_mechanism(server):
    # /auth/only-cert tries digest before cert: bad Digest credentials decide,
    # even though the valid client certificate would have authenticated.
    r = curl(url(server, "only-cert"), "-H", 'Authorization: Digest username="alice"',
             ca=server.pki.ca_cert, cert=server.pki.client)
    doc = assert_problem(r, 401, "authentication-failed")
    assert doc["detail"].startswith("digest:")
    assert b"secret" not in r.body


def test_multi_bad_digest_is_a_failure_even_with_basic_configured(server):
    r = get(server, "multi", headers={"Authorization": 'Digest username="carol"'})
    doc = assert_problem(r, 401, "authentication-failed")
    assert doc["detail"].startswith("digest:")


def test_unknown_scheme_counts_as_no_credentials(server):
    r = get(server, "multi", headers={"Authorization": "Bearer abc"})
    assert_problem(r, 401, "authentication-required")


# --- authz: Require cmi-mechanism -----------------------------------------------

def digest_user_refused(server, where: str):
    """alice, authenticated by Digest, refused with 403 `forbidden` on `where`, no secret in
    the answer; (the response, its problem document)."""
    server.expect_error(r"AH01631: user alice: authorization failure")
    r, _ = digest_get(server, where, "alice", SHA_USERS["alice"], "SHA-256")
    doc = assert_problem(r, 403, "forbidden")
    assert "secret" not in r.text
    return r, doc


def test_require_mechanism_refuses_digest_user_with_403(server):
    _, doc = digest_user_refused(server, "only-cert")
    assert "digest" in doc["detail"]


def test_require_mechanism_accepts_cert(server):
    r = curl(url(server, "only-cert"), ca=server.pki.ca_cert, cert=server.pki.client)
    assert r.status == 200 and r.header("X-CMI-Mech") == "cert"


def test_require_mechanism_refuses_with_403_by_default(server):
    # Without AuthzSendForbiddenOnFailure httpd answers an authenticated but
    # unauthorized user with 401; for AuthType CMI that user gets 403
    # `forbidden` (docs/architecture.md §Problem types), without challenges: other credentials of the
    # same user would not help.
    r, doc = digest_user_refused(server, "only-cert-401")
    assert "alice" in doc["detail"]
    assert "WWW-Authenticate" not in r.headers
    def refused(line):
        return '"GET /auth/only-cert-401/hello.txt HTTP/1.1" 403' in line and " alice [" in line
    assert any(refused(line) for line in access_log_lines(server, refused))


def test_require_user_refuses_another_user_with_403(server):
    server.expect_error(r"AH01631: user carol: authorization failure")
    r = get(server, "basic-bob", headers={"Authorization": basic("carol", BASIC_USERS["carol"])})
    assert_problem(r, 403, "forbidden")
    assert "secret" not in r.text


def test_stock_require_with_forbidden_on_failure_gets_the_problem_document(server):
    # AuthzSendForbiddenOnFailure On: httpd itself answers 403 (no hook of ours
    # runs for `Require user`); the error path still gives the problem document.
    server.expect_error(r"AH01631: user carol: authorization failure")
    r = get(server, "basic-bob-403", headers={"Authorization": basic("carol", BASIC_USERS["carol"])})
    doc = assert_problem(r, 403, "forbidden")
    assert "carol" in doc["detail"]
    assert "secret" not in r.text


def test_forbidden_from_a_handler_is_left_alone(server):
    # A 403 after authorization (here: the core handler cannot read the file)
    # is the handler's, not an authorization refusal: no `forbidden` document.
    server.expect_error(r"AH00132: file permissions deny server access")
    private = server.docroot / "auth" / "basic" / "private.txt"
    private.write_text("unreadable\n")
    private.chmod(0o000)
    r = requests.get(server.url("/auth/basic/private.txt"),
                     headers={"Authorization": basic("carol", BASIC_USERS["carol"])},
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 403
    assert "problem+json" not in r.headers.get("Content-Type", "")


def test_require_mechanism_403_over_http2(server):
    server.expect_error(r"AH01631: user provider-a: authorization failure")
    r = curl(url(server, "only-digest"), "--http2", ca=server.pki.ca_cert, cert=server.pki.client)
    assert r.http_version == "2"
    assert_problem(r, 403, "forbidden")
    assert "www-authenticate" not in r.headers


def test_curl_digest_answers_the_first_challenge_sha256(server):
    # curl 7.88 does SHA-256 Digest and takes the first challenge: mallory,
    # who has only an MD5 (htdigest) entry, cannot log in where SHA-256 comes first.
    r = curl(url(server, "digest-both"), "--digest", "-u", f"mallory:{MD5_USERS['mallory']}", ca=server.pki.ca_cert)
    assert_problem(r, 401, "authentication-failed")
    r = curl(url(server, "digest-both"), "--digest", "-u", f"alice:{SHA_USERS['alice']}", ca=server.pki.ca_cert)
    assert r.status == 200 and r.header("X-CMI-User") == "alice"


def test_curl_digest_md5(server):
    r = curl(url(server, "digest-md5"), "--digest", "-u", f"mallory:{MD5_USERS['mallory']}",
             ca=server.pki.ca_cert)
    assert r.status == 200, r.body
    assert r.header("X-CMI-User") == "mallory"


def test_md5_only_location_refuses_sha256(server):
    first = get(server, "digest-md5")
    assert schemes(first) == [("Digest", "MD5")]
    chal = dict(digest.digest_challenge(first, "MD5"))
    h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", "/auth/digest-md5/hello.txt",
                             algorithm="SHA-256")
    doc = assert_problem(digest.get(url(server, "digest-md5"), h, server.pki.ca_cert), 401, "authentication-failed")
    assert "SHA-256 is not accepted" in doc["detail"]


# --- no downgrade to MD5 (issue 18.1) ----------------------------------------------

def test_default_offers_sha256_only(server):
    r = get(server, "digest")
    assert schemes(r) == [("Digest", "SHA-256")]
    chal = digest.digest_challenge(r, "SHA-256")
    # alice has an MD5 (htdigest) entry too: an MD5 answer is still refused here.
    h = digest.authorization(chal, "alice", MD5_USERS["alice"], "GET", "/auth/digest/hello.txt", algorithm="MD5")
    doc = assert_problem(digest.get(url(server, "digest"), h, server.pki.ca_cert), 401, "authentication-failed")
    assert "MD5 is not accepted" in doc["detail"]
    assert "secret of" not in doc["detail"]


def test_each_challenge_carries_its_own_nonce(server):
    r = get(server, "digest-both")
    assert schemes(r) == [("Digest", "SHA-256"), ("Digest", "MD5")]
    assert digest.digest_challenge(r, "SHA-256")["nonce"] != digest.digest_challenge(r, "MD5")["nonce"]


def test_md5_answer_to_the_sha256_challenge_is_refused(server):
    # The downgrade: whoever sits in the middle (or a weak client) answers the
    # nonce of the SHA-256 challenge with MD5. Both algorithms are offered here
    # and alice has entries of both kinds: only the nonce's binding refuses it.
    first = get(server, "digest-both")
    sha = digest.digest_challenge(first, "SHA-256")
    path = "/auth/digest-both/hello.txt"
    h = digest.authorization(sha, "alice", MD5_USERS["alice"], "GET", path, algorithm="MD5")
    r = digest.get(url(server, "digest-both"), h, server.pki.ca_cert)
    doc = assert_problem(r, 401, "authentication-failed")
    assert "another algorithm" in doc["detail"]
    assert "secret of" not in r.text
    # The other way round too.
    md5 = digest.digest_challenge(first, "MD5")
    h = digest.authorization(md5, "alice", SHA_USERS["alice"], "GET", path, algorithm="SHA-256")
    assert_problem(digest.get(url(server, "digest-both"), h, server.pki.ca_cert), 401, "authentication-failed")
    # Each challenge answered with its own algorithm passes.
    for chal in (sha, md5):
        h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", path)
        assert digest.get(url(server, "digest-both"), h, server.pki.ca_cert).status_code == 200


def test_nonce_of_another_realm_is_refused(server):
    other = digest.digest_challenge(get(server, "digest-realm2"), "SHA-256")
    chal = dict(other, realm=REALM)
    h = digest.authorization(chal, "alice", SHA_USERS["alice"], "GET", "/auth/digest/hello.txt")
    doc = assert_problem(digest.get(url(server, "digest"), h, server.pki.ca_cert), 401, "authentication-failed")
    assert "not issued here" in doc["detail"]


def test_python_requests_where_md5_is_also_offered(server):
    # requests joins the two challenges and answers the last one (MD5) with its own nonce.
    from requests.auth import HTTPDigestAuth
    r = get(server, "digest-both", auth=HTTPDigestAuth("alice", SHA_USERS["alice"]))
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice"


def test_md5_listed_is_noticed_at_startup(server):
    log = server.startup_log
    for loc in ("/auth/digest-both", "/auth/digest-md5"):
        assert re.search(r"\[cmi_auth:notice\] .*CMIAuthDigestAlgorithms lists MD5 in <Location " + loc + ">", log), log
    assert "<Location /auth/digest>" not in log
    assert "weaker than SHA-256" in log
