"""A full shmcb replay cache refuses (503) instead of evicting (mod_cmi_auth).

shmcb silently drops its oldest entries when a subcache is full; for a replay
cache that would let an evicted Digest nonce-count be used again. mod_cmi_auth
probes shmcb's capacity at start-up and keeps a ledger in shared memory: a
store that would evict a live entry is refused with 503
`authentication-unavailable`, and every nonce-count accepted before stays refused."""
import hashlib
import re

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.problems import assert_problem

REALM = "CMI full"
PASSWORD = "full secret"

SNIPPET = """
<Location /full>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms digest
    AuthUserFile "{users}"
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    users = httpd.root / "conf" / "full.digest"
    ha1 = hashlib.sha256(f"fred:{REALM}:{PASSWORD}".encode()).hexdigest()
    users.write_text(f"fred:{REALM}:{ha1}\n")
    users.chmod(0o644)
    (httpd.docroot / "full").mkdir(exist_ok=True)
    (httpd.docroot / "full" / "hello.txt").write_text("full secret page\n")
    # The smallest shmcb there is (8 KiB): room for about a hundred entries.
    server_snippet = (f'CMIAuthReplayCache "shmcb:{httpd.root}/run/cmi-full.cache(8192)"\n'
                      "LogLevel warn cmi_auth:info\n")
    offset = httpd.log_size()
    httpd.configure(SNIPPET.format(realm=REALM, users=users), server_snippet=server_snippet)
    httpd.startup_log = httpd.log_since(offset)
    yield httpd
    httpd.configure("")  # a fresh cache for the modules after this one


def url(server):
    return server.url("/full/hello.txt")


def use(server, chal, nc):
    h = digest.authorization(chal, "fred", PASSWORD, "GET", "/full/hello.txt", nc=nc, cnonce="f111")
    return digest.get(url(server), h, server.pki.ca_cert)


def probed(server):
    m = re.search(r"replay cache shmcb:\S+: room for (\d+) entries \((\d+) subcaches of (\d+)\)", server.startup_log)
    assert m, server.startup_log
    total, subcaches, each = map(int, m.groups())
    assert total == subcaches * each and subcaches & (subcaches - 1) == 0
    return total, each


def test_capacity_is_probed_at_startup(server):
    total, each = probed(server)
    assert 16 <= total <= 1000 and each >= 2


def test_full_cache_refuses_and_evicts_nothing(server):
    server.expect_error(r"replay cache shmcb:\S+ is full|Requests that need it are refused")
    total, each = probed(server)
    r = requests.get(url(server), verify=str(server.pki.ca_cert), timeout=30)
    chal = digest.digest_challenge(r, "SHA-256")
    offset = server.log_size()
    accepted = []
    for nc in range(1, 4 * total):
        r = use(server, chal, nc)
        if r.status_code == 200:
            accepted.append(nc)
            continue
        doc = assert_problem(r, 503, "authentication-unavailable")
        assert "full secret page" not in r.text
        break
    else:
        pytest.fail(f"{4 * total} nonce-counts accepted by a cache with room for {total}")
    # Keys are spread over the subcaches: one fills after `each` entries at the
    # earliest, and never more than the whole capacity is accepted.
    assert each <= len(accepted) <= total
    log = server.log_since(offset)
    assert "is full" in log and "make the cache larger" in log and "fail closed" in log
    assert "full" in doc["detail"] or "try again later" in doc["detail"]
    # Nothing was evicted: every nonce-count accepted before is still a replay.
    for nc in accepted:
        doc = assert_problem(use(server, chal, nc), 401, "authentication-failed")
        assert "replay" in doc["detail"]
