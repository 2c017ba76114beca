"""Replay caches under many keys, with the default shmcb store: a used RFC 9421
nonce or Digest nonce-count is still refused after hundreds of other keys were
stored. Found by the long-run load test (cmi_e2e/load.py): raw keys of one kind
share their first byte, shmcb picks one of its 32 subcaches by that byte, and
that subcache evicted the used entry after about 250 others, so the replay
passed. Fixed by hashed keys (libcmi/replay_ledger)."""
import http.client
import ssl
import uuid

import pytest

from cmi_e2e import digest, httpsig
from cmi_e2e.load import BODY, MixedLoad

OTHERS = 800


@pytest.fixture(scope="module")
def load(httpd, tmp_path_factory):
    mix = MixedLoad(httpd, tmp_path_factory.mktemp("eviction"))
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(httpd.root / "logs" / "audit-eviction.log"))
    return mix


def connection(httpd):
    ctx = ssl.create_default_context(cafile=str(httpd.pki.ca_cert))
    return http.client.HTTPSConnection("localhost", httpd.https_port, context=ctx, timeout=60)


def send(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.read()
    return r


def test_rfc9421_nonce_replay_refused_after_many_other_nonces(load, httpd):
    c = connection(httpd)
    path = "/lt/dav/eviction.bin"
    url = f"https://localhost:{httpd.https_port}{path}"

    def put(nonce):
        h = httpsig.sign_request("PUT", url, BODY, load.sig_key, "load-ed", "ed25519", nonce=nonce)
        return send(c, "PUT", path, BODY, h).status

    assert put("used-once") in (201, 204)
    for _ in range(OTHERS):
        assert put(uuid.uuid4().hex) in (201, 204)
    assert put("used-once") == 422


def test_digest_nonce_count_replay_refused_after_many_other_counts(load, httpd):
    c = connection(httpd)
    path = "/lt/auth/hello.txt"
    r = send(c, "GET", path)
    assert r.status == 401
    chal = None
    for value in r.headers.get_all("WWW-Authenticate"):
        if value.startswith("Digest ") and "SHA-256" in value:
            chal = {name.lower(): (val[1:-1] if val.startswith('"') else val)
                    for name, val in digest._PARAM.findall(value[7:])}
    assert chal

    def get(nc, cnonce):
        auth = digest.authorization(chal, "alice", "wonder land", "GET", path, nc=nc, cnonce=cnonce,
                                    algorithm="SHA-256")
        return send(c, "GET", path, headers={"Authorization": auth}).status

    assert get(1, "first") == 200
    for nc in range(2, OTHERS + 2):
        assert get(nc, "c%d" % nc) == 200
    assert get(1, "first") == 401
