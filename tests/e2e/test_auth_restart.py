"""Digest nonces across restarts (mod_cmi_auth).

A local replay cache (shmcb) is emptied by every restart, so the nonce-counts
used before it are forgotten: a nonce issued before the restart must then be
answered 401 `stale=true` (the client retries with a fresh nonce), never
accepted again. A cache shared by the cluster (redis) keeps its entries, so
there old nonces stay valid and their used nonce-counts stay refused."""
import hashlib

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.problems import assert_problem
from cmi_e2e.stores import Store

REALM = "CMI restart"
PASSWORD = "restart secret"

LOCATION = """
<Location /restart>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms digest
    AuthUserFile "{users}"
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def users(httpd):
    path = httpd.root / "conf" / "restart.digest"
    ha1 = hashlib.sha256(f"erin:{REALM}:{PASSWORD}".encode()).hexdigest()
    path.write_text(f"erin:{REALM}:{ha1}\n")
    path.chmod(0o644)
    (httpd.docroot / "restart").mkdir(exist_ok=True)
    (httpd.docroot / "restart" / "hello.txt").write_text("restart secret page\n")
    return path


def url(server):
    return server.url("/restart/hello.txt")


def challenge(server):
    r = requests.get(url(server), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 401
    return digest.digest_challenge(r, "SHA-256")


def use(server, chal, nc):
    h = digest.authorization(chal, "erin", PASSWORD, "GET", "/restart/hello.txt", nc=nc, cnonce="5eed")
    return digest.get(url(server), h, server.pki.ca_cert)


def assert_stale(r, old_nonce):
    assert_problem(r, 401, "authentication-required")
    assert "restart secret page" not in r.text
    fresh = digest.digest_challenge(r, "SHA-256")
    assert fresh.get("stale") == "true", fresh
    assert fresh["nonce"] != old_nonce
    return fresh


def configure(httpd, users, server_snippet=""):
    httpd.configure(LOCATION.format(realm=REALM, users=users), server_snippet=server_snippet)


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "restart"])
def test_old_nonce_is_stale_after_a_restart_with_the_default_cache(httpd, users, graceful):
    configure(httpd, users)
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    httpd.signal_restart(graceful=graceful)
    # Neither a new nonce-count nor the replay of the used one gets through.
    fresh = assert_stale(use(httpd, chal, 2), chal["nonce"])
    assert_stale(use(httpd, chal, 1), chal["nonce"])
    # The client retries with the nonce of the stale challenge.
    assert use(httpd, fresh, 1).status_code == 200
    doc = assert_problem(use(httpd, fresh, 1), 401, "authentication-failed")
    assert "replay" in doc["detail"]


def test_old_nonce_is_stale_after_stop_and_start_with_a_shared_secret(httpd, users, tmp_path):
    secret = tmp_path / "nonce.secret"
    secret.write_text("restart-nonce-secret-0123456789abcdef\n")
    configure(httpd, users, f'CMIAuthDigestNonceSecret "{secret}"\n')
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    httpd.restart()  # a full stop and start: the same secret, an empty shmcb
    assert_stale(use(httpd, chal, 1), chal["nonce"])
    assert_stale(use(httpd, chal, 2), chal["nonce"])


def test_old_nonce_stays_valid_with_a_shared_store(httpd, users, tmp_path):
    store = Store("redis", tmp_path)
    store.start()
    try:
        secret = tmp_path / "nonce.secret"
        secret.write_text("restart-nonce-secret-0123456789abcdef\n")
        configure(httpd, users, f'CMIAuthReplayCache {store.spec}\nCMIAuthDigestNonceSecret "{secret}"\n')
        chal = challenge(httpd)
        assert use(httpd, chal, 1).status_code == 200
        httpd.restart()
        # redis still holds nonce-count 1: a replay, whereas 2 is new.
        doc = assert_problem(use(httpd, chal, 1), 401, "authentication-failed")
        assert "replay" in doc["detail"]
        assert use(httpd, chal, 2).status_code == 200
    finally:
        httpd.configure("")  # nothing left pointing at the store
        store.stop()
