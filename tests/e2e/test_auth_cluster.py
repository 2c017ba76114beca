"""CMIAuthReplayCache on a real redis-server / memcached shared by two httpd nodes."""
import time

import pytest

from cmi_e2e import digest, saml
from cmi_e2e.problems import assert_problem
from cmi_e2e.stores import Store, second_node

REALM = "CMI cluster"
PASSWORD = "shared secret"

SP = "https://cmc.example/cluster"


@pytest.fixture(scope="module", params=["redis", "memcache"])
def cluster(request, httpd, tmp_path_factory):
    work = tmp_path_factory.mktemp(request.param)
    store = Store(request.param, work)
    secret = work / "nonce.secret"
    secret.write_text("cluster-nonce-secret-0123456789abcdef\n")
    users = digest.users_file(httpd, f"cluster-{request.param}", REALM, "dora", PASSWORD)
    ttl = store.short_ttl
    server_snippet = f'CMIAuthReplayCache {store.spec}\nCMIAuthDigestNonceSecret "{secret}"\n{ttl}\n'
    idp = saml.Idp(httpd.root / "conf", "https://idp.example/cluster", "cluster-idp")
    snippet = (saml.one_time_location("/cluster-saml", idp.metadata_path, SP)
               + digest.location("/cluster", REALM, users))
    with second_node(httpd, store) as node_b:
        for node in (httpd, node_b):
            for d in ("cluster", "cluster-saml"):
                (node.docroot / d).mkdir(exist_ok=True)
                (node.docroot / d / "hello.txt").write_text("cluster secret\n")
            vhost = "LimitRequestFieldSize 65536"  # in the TLS vhost, where it applies
            node.configure(snippet, server_snippet=server_snippet, vhost_snippet=vhost)
        httpd.cluster_idp = idp
        yield httpd, node_b, store


def url(node):
    return node.url("/cluster/hello.txt")


def auth(chal, nc):
    return digest.authorization(chal, "dora", PASSWORD, "GET", "/cluster/hello.txt", nc=nc, cnonce="c0ffee")


def challenge(node):
    import requests
    r = requests.get(url(node), verify=str(node.pki.ca_cert), timeout=30)
    assert r.status_code == 401
    return digest.digest_challenge(r, "SHA-256")


def test_nonce_from_one_node_is_accepted_by_the_other(cluster):
    a, b, _ = cluster
    chal = challenge(a)
    r = digest.get(url(b), auth(chal, 1), a.pki.ca_cert)
    assert r.status_code == 200, r.text
    assert r.text == "cluster secret\n"


def test_replay_on_the_other_node_is_refused(cluster):
    a, b, _ = cluster
    chal = challenge(a)
    assert digest.get(url(a), auth(chal, 1), a.pki.ca_cert).status_code == 200
    doc = assert_problem(digest.get(url(b), auth(chal, 1), a.pki.ca_cert), 401, "authentication-failed")
    assert "replay" in doc["detail"]
    assert digest.get(url(b), auth(chal, 2), a.pki.ca_cert).status_code == 200
    assert_problem(digest.get(url(a), auth(chal, 2), a.pki.ca_cert), 401, "authentication-failed")


def test_store_down_fails_closed_and_recovers(cluster):
    a, b, store = cluster
    a.expect_error(r"replay cache|cmi_auth:error|socache_(redis|memcache)|AH\d+")
    chal = challenge(a)
    offset = a.log_size()
    store.stop()
    try:
        r = digest.get(url(a), auth(chal, 1), a.pki.ca_cert)
        doc = assert_problem(r, 503, "authentication-unavailable")
        assert "cluster secret" not in r.text
        assert PASSWORD not in doc["detail"]
        log = a.log_since(offset)
        assert f"replay cache {store.spec}" in log and "fail closed" in log
    finally:
        store.start()
    # The provider reconnects on its own; a fresh nonce-count then passes.
    deadline = time.monotonic() + 30
    nc = 2
    while True:
        r = digest.get(url(a), auth(chal, nc), a.pki.ca_cert)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        nc += 1
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    # node B notices the outage only when it next talks to the store
    b.expect_error(r"replay cache|cmi_auth:error|socache_(redis|memcache)|AH\d+")
    wait_for_recovery(cluster)


def saml_get(node, assertion):
    import requests
    return requests.get(node.url("/cluster-saml/hello.txt"), headers={"Authorization": saml.header(assertion)},
                        verify=str(node.pki.ca_cert), timeout=30)


def answered(node, assertion):
    """503 means "the store could not be asked, nothing was recorded, try again":
    after a store restart, pooled connections that went stale each fail once."""
    deadline = time.monotonic() + 30
    while True:
        r = saml_get(node, assertion)
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_one_time_assertion_used_on_one_node_is_refused_on_the_other(cluster):
    a, b, _ = cluster
    for node in (a, b):
        node.expect_error(r"replay cache .*: (store|lookup) failed|replay cache is unavailable|socache_(redis|memcache)")
    idp = a.cluster_idp
    assertion = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP))
    assert answered(a, assertion).status_code == 200
    doc = assert_problem(answered(b, assertion), 401, "authentication-failed")
    assert "already used" in doc["detail"]
    other = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP))
    assert answered(b, other).status_code == 200


def test_one_time_assertion_fails_closed_without_the_store(cluster):
    a, _, store = cluster
    a.expect_error(r"replay cache|cmi_auth:error|socache_(redis|memcache)|AH\d+")
    idp = a.cluster_idp
    assertion = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP))
    store.stop()
    try:
        assert_problem(saml_get(a, assertion), 503, "authentication-unavailable")
    finally:
        store.start()
    wait_for_recovery(cluster)


def wait_for_recovery(cluster):
    """The socache providers reconnect by themselves: both nodes serve again."""
    a, b, _ = cluster
    idp = a.cluster_idp
    for node in (a, b):
        deadline = time.monotonic() + 30
        while saml_get(node, idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP))).status_code != 200:
            assert time.monotonic() < deadline, "the replay cache did not come back"
            time.sleep(0.5)
