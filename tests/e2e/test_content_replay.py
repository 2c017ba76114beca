"""mod_cmi_content: RFC 9421 `nonce` replay detection (CMIContentReplayCache) and
CMIContentSignatureMaxAge — shmcb on one node, and real redis-server / memcached
shared by two httpd nodes."""
import os
import time
import uuid

import pytest
import requests

from cmi_e2e import httpsig
from cmi_e2e.content import www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem
from cmi_e2e.stores import Store, second_node

LONG = """
<Location /dav/replay/long/>
    CMIContentSignatureMaxAge 3600
</Location>
"""


def locations(keys):
    return httpsig.location("/dav/replay/", keys) + LONG

# The store's own modules and ours log the outage at error level.
OUTAGE = r"replay cache|cmi_content:error|socache_(redis|memcache)|AH\d+"


def keys_dir(node):
    d = node.root / "conf" / "replay-keys"
    d.mkdir(exist_ok=True)
    return d


def setup_keys(node, keys):
    d = keys_dir(node)
    for keyid, key in keys.items():
        (d / f"{keyid}.pem").write_bytes(public_pem(key))
    for sub in ("replay", "replay/long"):
        www_owned_dir(node.dav_dir / sub)
    return d


def put(node, path, body, key, keyid, **kw):
    headers = sign_request("PUT", node.url(path), body, key, keyid, "ed25519", **kw)
    return requests.put(node.url(path), data=body, headers=headers, verify=str(node.pki.ca_cert), timeout=30)


def put_as(node, path, body, headers):
    return requests.put(node.url(path), data=body, headers=headers, verify=str(node.pki.ca_cert), timeout=30)


# --- one node, the default shmcb store --------------------------------------------

@pytest.fixture(scope="module")
def single(httpd):
    keys = {"signer-1": new_key("ed25519"), "signer-2": new_key("ed25519")}
    d = setup_keys(httpd, keys)
    httpd.configure(locations(d))
    httpd.replay_keys = keys
    return httpd


def test_replayed_nonce_is_refused_on_one_node(single):
    key = single.replay_keys["signer-1"]
    body = os.urandom(5000)
    nonce = uuid.uuid4().hex
    url = single.url("/dav/replay/one.bin")
    headers = sign_request("PUT", url, body, key, "signer-1", "ed25519", nonce=nonce)
    r = put_as(single, "/dav/replay/one.bin", body, headers)
    assert r.status_code == 201, r.text
    # The very same request again: a replay.
    r = put_as(single, "/dav/replay/one.bin", body, headers)
    doc = assert_problem(r, 422, "signature-invalid")
    assert "replay" in doc["detail"]
    # Re-signed with the same nonce (new created time): still a replay.
    r = put(single, "/dav/replay/one.bin", body, key, "signer-1", nonce=nonce)
    assert_problem(r, 422, "signature-invalid")
    # A new nonce passes.
    r = put(single, "/dav/replay/one.bin", body, key, "signer-1", nonce=uuid.uuid4().hex)
    assert r.status_code == 204, r.text


def test_nonce_is_scoped_to_the_signer(single):
    body = b"scoped"
    nonce = uuid.uuid4().hex
    r = put(single, "/dav/replay/s1.bin", body, single.replay_keys["signer-1"], "signer-1", nonce=nonce)
    assert r.status_code == 201, r.text
    r = put(single, "/dav/replay/s2.bin", body, single.replay_keys["signer-2"], "signer-2", nonce=nonce)
    assert r.status_code == 201, r.text


def test_invalid_signature_does_not_burn_the_nonce(single):
    body = b"burn"
    nonce = uuid.uuid4().hex
    r = put(single, "/dav/replay/burn.bin", body, new_key("ed25519"), "signer-1", nonce=nonce)
    assert_problem(r, 422, "signature-invalid")
    r = put(single, "/dav/replay/burn.bin", body, single.replay_keys["signer-1"], "signer-1", nonce=nonce)
    assert r.status_code == 201, r.text


def test_signature_older_than_max_age_is_invalid(single):
    key = single.replay_keys["signer-1"]
    body = b"old"
    created = int(time.time()) - 1000
    r = put(single, "/dav/replay/old.bin", body, key, "signer-1", created=created)
    doc = assert_problem(r, 422, "signature-invalid")
    assert "too old" in doc["detail"]
    assert not (single.dav_dir / "replay" / "old.bin").exists()
    # A location with CMIContentSignatureMaxAge 3600 accepts it.
    r = put(single, "/dav/replay/long/old.bin", body, key, "signer-1", created=created, nonce=uuid.uuid4().hex)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("snippet, fragment", [
    ("<Location /x>\n    CMIContentReplayCache shmcb\n</Location>", "not allowed"),
    ("CMIContentReplayCache no-such-provider", "cannot keep replay entries"),
    ("<Location /x>\n    CMIContentSignatureMaxAge 0\n</Location>", "seconds from 1 to 86400"),
    ("<Location /x>\n    CMIContentSignatureMaxAge soon\n</Location>", "seconds from 1 to 86400"),
])
def test_bad_replay_settings_fail_configtest(httpd, snippet, fragment):
    httpd.configtest_refuses("CMIContent", fragment, snippet=snippet)


# --- two nodes sharing redis or memcached ---------------------------------------------

@pytest.fixture(scope="module", params=["redis", "memcache"])
def cluster(request, httpd, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"content-{request.param}")
    store = Store(request.param, work)
    ttl = store.short_ttl
    server_snippet = f"CMIContentReplayCache {store.spec}\n{ttl}\n"
    keys = {"signer-1": new_key("ed25519")}
    with second_node(httpd, store) as node_b:
        for node in (httpd, node_b):
            d = setup_keys(node, keys)
            node.configure(locations(d), server_snippet=server_snippet)
            node.replay_keys = keys
        yield httpd, node_b, store


def test_nonce_used_on_one_node_is_refused_on_the_other(cluster):
    a, b, _ = cluster
    key = a.replay_keys["signer-1"]
    body = os.urandom(3000)
    nonce = uuid.uuid4().hex
    headers_a = sign_request("PUT", a.url("/dav/replay/c.bin"), body, key, "signer-1", "ed25519", nonce=nonce)
    assert put_as(a, "/dav/replay/c.bin", body, headers_a).status_code in (201, 204)
    r = put(b, "/dav/replay/c.bin", body, key, "signer-1", nonce=nonce)
    doc = assert_problem(r, 422, "signature-invalid")
    assert "replay" in doc["detail"]
    assert not (b.dav_dir / "replay" / "c.bin").exists()
    # A fresh nonce on B passes, and is then a replay on A.
    nonce2 = uuid.uuid4().hex
    assert put(b, "/dav/replay/c.bin", body, key, "signer-1", nonce=nonce2).status_code == 201
    assert_problem(put(a, "/dav/replay/c.bin", body, key, "signer-1", nonce=nonce2), 422, "signature-invalid")


def test_store_down_fails_closed_and_recovers(cluster):
    a, b, store = cluster
    a.expect_error(OUTAGE)
    key = a.replay_keys["signer-1"]
    body = b"while the store is down"
    offset = a.log_size()
    store.stop()
    try:
        r = put(a, "/dav/replay/down.bin", body, key, "signer-1", nonce=uuid.uuid4().hex)
        doc = assert_problem(r, 503, "validation-unavailable")
        assert not (a.dav_dir / "replay" / "down.bin").exists()
        assert "try again" in doc["detail"]
        log = a.log_since(offset)
        assert f"replay cache {store.spec}" in log and "fail closed" in log
        # A signature without a nonce needs no store.
        assert put(a, "/dav/replay/no-nonce.bin", body, key, "signer-1").status_code in (201, 204)
    finally:
        store.start()
    # The providers reconnect by themselves: both nodes accept nonces again.
    b.expect_error(OUTAGE)
    for node in (a, b):
        deadline = time.monotonic() + 30
        while True:
            r = put(node, "/dav/replay/up.bin", body, key, "signer-1", nonce=uuid.uuid4().hex)
            if r.status_code in (201, 204) or time.monotonic() > deadline:
                break
            assert_problem(r, 503, "validation-unavailable")
            time.sleep(0.5)
        assert r.status_code in (201, 204), r.text
