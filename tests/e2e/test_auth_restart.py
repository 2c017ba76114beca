"""Digest nonces across restarts (mod_cmi_auth).

The default replay cache (shmcb) is a table in a file every process maps: it
is the same table after a graceful or plain restart, a stop and start, and a
crash of the whole process tree. A nonce issued before stays valid (within its
lifetime) and every nonce-count used with it stays refused. The nonce secret
is random per process tree unless CMIAuthDigestNonceSecret is set: after a full
stop and start without it, older nonces are "not issued here". A table that
had to be made anew (its file was damaged) has another generation: nonces of
the old one are answered stale=true. A cache shared by the cluster (redis)
keeps its entries itself."""

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.problems import assert_problem
from cmi_e2e.stores import Store

REALM = "CMI restart"
PASSWORD = "restart secret"


@pytest.fixture(scope="module")
def users(httpd):
    return digest.users_file(httpd, "restart", REALM, "erin", PASSWORD, page="restart secret page\n")


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "nonce.secret"
    path.write_text("restart-nonce-secret-0123456789abcdef\n")
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


def assert_replay(r):
    doc = assert_problem(r, 401, "authentication-failed")
    assert "replay" in doc["detail"]
    assert "restart secret page" not in r.text


def assert_stale(r, old_nonce):
    assert_problem(r, 401, "authentication-required")
    assert "restart secret page" not in r.text
    fresh = digest.digest_challenge(r, "SHA-256")
    assert fresh.get("stale") == "true", fresh
    assert fresh["nonce"] != old_nonce
    return fresh


def configure(httpd, users, server_snippet=""):
    httpd.configure(digest.location("/restart", REALM, users), server_snippet=server_snippet)


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "restart"])
def test_used_nonce_counts_stay_refused_across_a_restart(httpd, users, graceful):
    configure(httpd, users)
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    httpd.signal_restart(graceful=graceful)
    assert_replay(use(httpd, chal, 1))
    assert use(httpd, chal, 2).status_code == 200
    assert_replay(use(httpd, chal, 2))


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_used_nonce_counts_stay_refused_after_a_full_stop(httpd, users, secret, how):
    configure(httpd, users, f'CMIAuthDigestNonceSecret "{secret}"\n')
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    if how == "stop":
        httpd.restart()  # SIGTERM, then a new process tree
    else:
        httpd.crash_restart()
    assert_replay(use(httpd, chal, 1))
    assert use(httpd, chal, 2).status_code == 200


def test_without_a_secret_a_full_stop_makes_older_nonces_foreign(httpd, users):
    configure(httpd, users)
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    httpd.restart()
    doc = assert_problem(use(httpd, chal, 2), 401, "authentication-failed")
    assert "not issued here" in doc["detail"]


@pytest.fixture
def lost_table(httpd):
    yield
    httpd.forget_replay_tables()  # the new table refuses what other tests make in its first minute


def test_a_replaced_table_makes_older_nonces_stale(httpd, users, secret, lost_table):
    configure(httpd, users, f'CMIAuthDigestNonceSecret "{secret}"\n')
    chal = challenge(httpd)
    assert use(httpd, chal, 1).status_code == 200
    httpd.stop()
    table = httpd.root / "run" / "cmi-auth-replay.cache"
    assert table.stat().st_size > 0
    table.write_bytes(b"\0" * 100)  # damaged: what it knew is lost
    offset = httpd.log_size()
    httpd.start()
    assert "made a new table: one-time items made before" in httpd.log_since(offset)
    fresh = assert_stale(use(httpd, chal, 1), chal["nonce"])
    assert use(httpd, fresh, 1).status_code == 200


def test_old_nonce_stays_valid_with_a_shared_store(httpd, users, tmp_path, secret):
    store = Store("redis", tmp_path)
    store.start()
    try:
        configure(httpd, users, f'CMIAuthReplayCache {store.spec}\nCMIAuthDigestNonceSecret "{secret}"\n')
        chal = challenge(httpd)
        assert use(httpd, chal, 1).status_code == 200
        httpd.restart()
        # redis still holds nonce-count 1: a replay, whereas 2 is new.
        assert_replay(use(httpd, chal, 1))
        assert use(httpd, chal, 2).status_code == 200
    finally:
        httpd.configure("")  # nothing left pointing at the store
        store.stop()
