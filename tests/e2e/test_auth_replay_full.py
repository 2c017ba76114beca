"""A full local replay cache refuses (503) instead of evicting (mod_cmi_auth).

The table (shmcb spec, in a file every process maps) never drops a live
entry: a store that finds both of its key's buckets full of live entries is
refused with 503 `authentication-unavailable`, and every nonce-count accepted
before stays refused. Here the share one user may hold is raised to the whole
cache (CMIAuthReplayQuota), so one user can fill it."""
import re

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.problems import assert_problem

REALM = "CMI full"
PASSWORD = "full secret"


@pytest.fixture(scope="module")
def server(httpd):
    users = digest.users_file(httpd, "full", REALM, "fred", PASSWORD, page="full secret page\n")
    # The smallest cache there is (8 KiB): room for about 150 entries.
    server_snippet = (f'CMIAuthReplayCache "shmcb:{httpd.root}/run/cmi-full.cache(8192)"\n'
                      "CMIAuthReplayQuota 100000\n"
                      "LogLevel warn cmi_auth:info\n")
    offset = httpd.log_size()
    httpd.configure(digest.location("/full", REALM, users), server_snippet=server_snippet)
    httpd.startup_log = httpd.log_since(offset)
    yield httpd
    httpd.configure("")  # a fresh cache for the modules after this one


def url(server):
    return server.url("/full/hello.txt")


def use(server, chal, nc=1):
    h = digest.authorization(chal, "fred", PASSWORD, "GET", "/full/hello.txt", nc=nc, cnonce="f111")
    return digest.get(url(server), h, server.pki.ca_cert)


def new_nonce(server):
    r = requests.get(url(server), verify=str(server.pki.ca_cert), timeout=30)
    return digest.digest_challenge(r, "SHA-256")


def room(server):
    m = re.search(r"replay cache shmcb:\S+: room for (\d+) entries, (\d+) per owner, in (\S+)", server.startup_log)
    assert m, server.startup_log
    return int(m.group(1)), int(m.group(2)), m.group(3)


def test_room_is_logged_at_startup(server):
    total, share, path = room(server)
    assert 100 <= total <= 200
    assert share == 100000
    assert path.endswith("cmi-full.cache")


def test_full_cache_refuses_and_evicts_nothing(server):
    server.expect_error(r"replay cache shmcb:\S+ is full|Requests that need it are refused")
    total, _, _ = room(server)
    offset = server.log_size()
    used = []
    for _ in range(4 * total):
        chal = new_nonce(server)  # a new nonce each time: a new entry each time
        r = use(server, chal)
        if r.status_code == 200:
            used.append(chal)
            continue
        doc = assert_problem(r, 503, "authentication-unavailable")
        assert "full secret page" not in r.text
        break
    else:
        pytest.fail(f"{4 * total} nonces accepted by a cache with room for {total}")
    # Two choices per key fill most of the table before one is refused.
    assert total * 0.7 <= len(used) <= total
    log = server.log_since(offset)
    assert "is full" in log and "make the cache larger" in log and "fail closed" in log
    assert "try again later" in doc["detail"]
    # Nothing was evicted: every nonce-count accepted before is still a replay,
    # and a nonce already in the table takes its next count without new room.
    for chal in used:
        doc = assert_problem(use(server, chal), 401, "authentication-failed")
        assert "replay" in doc["detail"]
    assert use(server, used[0], nc=2).status_code == 200
