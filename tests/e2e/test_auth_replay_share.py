"""One user cannot fill the replay cache for everybody (issue 18.2).

With a 64 KiB local cache, one valid user sends 4000 Digest requests with
fresh nonce-counts on one keep-alive connection, or asks for a new nonce (or
a new one-time SAML assertion) for every request: another user's Digest login
and one-time SAML login still succeed. A nonce keeps one entry with a window
of its last 64 nonce-counts; every entry is charged to its user, who holds at
most a bounded share of the cache (1/8 by default) and beyond it gets 429
`authentication-rate-limited` with Retry-After."""
import hashlib
import http.client
import re
import ssl

import pytest
import requests

from cmi_e2e import digest, saml
from cmi_e2e.problems import assert_problem

REALM = "CMI share"
USERS = {"mallory": "heavy user", "alice": "wonder land"}
SP = "https://cmc.example/share"
PATH = "/share/hello.txt"

LOCATIONS = """
<Location /share>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms digest
    AuthUserFile "{users}"
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
</Location>
"""


@pytest.fixture
def server(httpd, request):
    conf = httpd.root / "conf"
    users = conf / "share.digest"
    users.write_text("".join(f"{u}:{REALM}:{hashlib.sha256(f'{u}:{REALM}:{p}'.encode()).hexdigest()}\n"
                             for u, p in USERS.items()))
    users.chmod(0o644)
    for d in ("share", "share-saml"):
        (httpd.docroot / d).mkdir(exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text("share page\n")
    idp = saml.Idp(conf, "https://idp.example/share", "share-idp")
    # A new, empty 64 KiB cache for each test (its own file).
    cache = httpd.root / "run" / f"share-{request.node.name.replace('[', '-').rstrip(']')}.cache"
    offset = httpd.log_size()
    saml_location = saml.one_time_location("/share-saml", idp.metadata_path, SP,
                                           '    Header always set X-CMI-User "%{CMI_USER}e"\n')
    httpd.configure(LOCATIONS.format(realm=REALM, users=users) + saml_location,
                    server_snippet=f'CMIAuthReplayCache "shmcb:{cache}(65536)"\nLogLevel warn cmi_auth:info\n')
    m = re.search(r"room for (\d+) entries, (\d+) per owner", httpd.log_since(offset))
    httpd.room, httpd.share = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    httpd.idp = idp
    yield httpd
    httpd.configure("")


def connection(server):
    ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    return http.client.HTTPSConnection("localhost", server.https_port, context=ctx, timeout=60)


def send(conn, headers=None):
    conn.request("GET", PATH, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    return r.status, r.headers, body


def challenge_on(conn):
    status, headers, _ = send(conn)
    assert status == 401
    for value in headers.get_all("WWW-Authenticate"):
        if value.startswith("Digest "):
            return {k.lower(): (v[1:-1] if v.startswith('"') else v) for k, v in digest._PARAM.findall(value[7:])}
    raise AssertionError("no Digest challenge")


def auth(chal, user, nc):
    return {"Authorization": digest.authorization(chal, user, USERS[user], "GET", PATH, nc=nc, cnonce=f"c{nc}")}


def others_can_still_log_in(server):
    """alice's Digest login (python-requests, a new nonce) and a one-time SAML login."""
    from requests.auth import HTTPDigestAuth
    r = requests.get(server.url(PATH), auth=HTTPDigestAuth("alice", USERS["alice"]),
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice"
    xml = server.idp.signed_assertion(saml.AssertionSpec(issuer=server.idp.entity_id, audience=SP,
                                                         name_id="alice@share"))
    r = requests.get(server.url("/share-saml/hello.txt"), headers={"Authorization": saml.header(xml)},
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice@share"


def test_4000_fresh_nonce_counts_on_one_connection_lock_nobody_out(server):
    # The cache holds about 1200 entries: with an entry per nonce-count,
    # mallory alone filled it and everybody got 503.
    conn = connection(server)
    chal = challenge_on(conn)
    for nc in range(1, 4001):
        status, _, body = send(conn, auth(chal, "mallory", nc))
        assert status == 200, (nc, body)
    # Every one of them stays a replay.
    for nc in (1, 2000, 4000):
        assert send(conn, auth(chal, "mallory", nc))[0] == 401
    conn.close()
    others_can_still_log_in(server)


def test_a_new_nonce_for_every_request_is_held_to_the_share(server):
    assert server.room and server.share == server.room // 8
    conn = connection(server)
    accepted = 0
    for _ in range(server.room + 50):
        chal = challenge_on(conn)
        status, headers, body = send(conn, auth(chal, "mallory", 1))
        if status == 200:
            accepted += 1
            continue
        assert status == 429, body
        assert int(headers["Retry-After"]) >= 1
        assert b"authentication-rate-limited" in body and b"share page" not in body
        assert "WWW-Authenticate" not in headers
        break
    else:
        pytest.fail(f"{server.room + 50} new nonces accepted for one user")
    conn.close()
    assert accepted == server.share
    others_can_still_log_in(server)


def test_one_time_assertions_of_one_user_are_held_to_the_share(server):
    idp = server.idp
    for i in range(server.share + 5):
        xml = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP, name_id="mallory@share"))
        r = requests.get(server.url("/share-saml/hello.txt"), headers={"Authorization": saml.header(xml)},
                         verify=str(server.pki.ca_cert), timeout=30)
        if r.status_code == 200:
            continue
        doc = assert_problem(r, 429, "authentication-rate-limited")
        assert "share" in doc["detail"]
        assert int(r.headers["Retry-After"]) >= 1
        break
    else:
        pytest.fail("no share for one-time assertions")
    assert i == server.share
    others_can_still_log_in(server)
