"""A full shared replay store refuses (503) instead of losing entries (mod_cmi_auth).

redis with `maxmemory-policy noeviction` and memcached with `-M` answer a write
they have no room for with an error rather than dropping other keys; mod_cmi_auth
then refuses the request with 503 `authentication-unavailable` (fail closed) and
serves again once there is room. (With an evicting policy, a store would forget
used nonce-counts and one-time assertion ids: docs/authentication.md.)"""
import os
import socket
import subprocess
import time

import pytest
import requests

from cmi_e2e import digest
from cmi_e2e.problems import assert_problem
from cmi_e2e.stores import Store

REALM = "CMI store full"
PASSWORD = "store full secret"


LIMITS = {
    "redis": ["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"],
    "memcache": ["-M", "-m", "2"],
}


def fill(store):
    """Fills the store until it refuses writes, with items the size of mod_cmi_auth's."""
    if store.kind == "redis":
        # A script may run past maxmemory; afterwards every write is refused (OOM).
        out = subprocess.run(["redis-cli", "-p", str(store.port), "EVAL",
                              "for i=1,20000 do redis.call('SET','fill:'..i,string.rep('x',512)) end return 1",
                              "0"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        probe = subprocess.run(["redis-cli", "-p", str(store.port), "SET", "probe", "1"],
                               capture_output=True, text=True, timeout=30)
        assert "OOM" in probe.stdout + probe.stderr, probe.stdout
        return
    with socket.create_connection(("127.0.0.1", store.port), timeout=30) as s:
        f = s.makefile("rb")
        for _ in range(200000):
            s.sendall(f"set fillfill:{os.urandom(32).hex()} 0 0 1\r\n1\r\n".encode())
            line = f.readline()
            if line.startswith(b"SERVER_ERROR out of memory"):
                return
            assert line.startswith(b"STORED"), line
    pytest.fail("memcached never ran out of memory")


def empty(store):
    if store.kind == "redis":
        subprocess.run(["redis-cli", "-p", str(store.port), "FLUSHALL"], check=True, capture_output=True, timeout=30)
        return
    with socket.create_connection(("127.0.0.1", store.port), timeout=30) as s:
        s.sendall(b"flush_all\r\n")
        assert s.makefile("rb").readline().startswith(b"OK")


@pytest.fixture(scope="module", params=["redis", "memcache"])
def server(request, httpd, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"full-{request.param}")
    store = Store(request.param, work, LIMITS[request.param])
    store.start()
    users = digest.users_file(httpd, f"storefull-{request.param}", REALM, "gina", PASSWORD)
    (httpd.docroot / "storefull").mkdir(exist_ok=True)
    (httpd.docroot / "storefull" / "hello.txt").write_text("store full page\n")
    ttl = store.short_ttl
    try:
        httpd.configure(digest.location("/storefull", REALM, users),
                        server_snippet=f"CMIAuthReplayCache {store.spec}\n{ttl}\n")
        yield httpd, store
    finally:
        httpd.configure("")
        store.stop()


def use(server, chal, nc):
    h = digest.authorization(chal, "gina", PASSWORD, "GET", "/storefull/hello.txt", nc=nc, cnonce="9a9a")
    return digest.get(server.url("/storefull/hello.txt"), h, server.pki.ca_cert)


def test_full_store_fails_closed_and_recovers(server):
    httpd, store = server
    httpd.expect_error(rf"replay cache {store.spec}: store failed|Requests that need it are refused|"
                       r"socache_(redis|memcache)|AH\d+")
    r = requests.get(httpd.url("/storefull/hello.txt"), verify=str(httpd.pki.ca_cert), timeout=30)
    chal = digest.digest_challenge(r, "SHA-256")
    assert use(httpd, chal, 1).status_code == 200
    fill(store)
    offset = httpd.log_size()
    r = use(httpd, chal, 2)
    assert_problem(r, 503, "authentication-unavailable")
    assert "store full page" not in r.text
    log = httpd.log_since(offset)
    assert f"replay cache {store.spec}: store failed" in log and "fail closed" in log
    # Reads still work while the store is full: a replay is still a replay.
    doc = assert_problem(use(httpd, chal, 1), 401, "authentication-failed")
    assert "replay" in doc["detail"]
    empty(store)
    deadline = time.monotonic() + 30
    nc = 3
    while (r := use(httpd, chal, nc)).status_code != 200:
        assert r.status_code == 503 and time.monotonic() < deadline, r.text
        nc += 1
        time.sleep(0.2)
