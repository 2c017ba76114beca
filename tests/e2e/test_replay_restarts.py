"""One-time protections across restarts and stops (issue 21.1).

A used RFC 9421 nonce (mod_cmi_content) and a used SAML OneTimeUse assertion
(mod_cmi_auth) stay refused after a graceful restart, a plain restart, a stop
and start, and a crash of the whole process tree: the default (shmcb) replay
caches are tables in files every process maps, not mod_socache_shmcb's memory
that every start made empty with a new salt. A table that had to replace a
damaged file refuses what was made before it (plus the clock skew)."""
import os
import pwd
import time
import uuid

import pytest
import requests

from cmi_e2e import httpsig, saml
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

SP = "https://cmc.example/restarts"

NOSKEW = """
<Location /saml-once/noskew>
    CMISAMLClockSkew 0
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    conf = httpd.root / "conf"
    key = new_key("ed25519")
    keys = conf / "once-keys"
    keys.mkdir(exist_ok=True)
    (keys / "uploader.pem").write_bytes(public_pem(key))
    (httpd.dav_dir / "once").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("www-data")
        os.chown(httpd.dav_dir / "once", pw.pw_uid, pw.pw_gid)
    idp = saml.Idp(conf, "https://idp.example/restarts", "restarts-idp")
    for d in ("saml-once", "saml-once/noskew"):
        (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text("one-time page\n")
    httpd.configure(saml.one_time_location("/saml-once", idp.metadata_path, SP) + httpsig.location("/dav/once/", keys) + NOSKEW)
    httpd.signer_key, httpd.idp = key, idp
    yield httpd
    httpd.configure("")


def signed_upload(server):
    body = os.urandom(2000)
    url = server.url("/dav/once/" + uuid.uuid4().hex + ".bin")
    headers = sign_request("PUT", url, body, server.signer_key, "uploader", "ed25519", nonce=uuid.uuid4().hex)
    return url, body, headers


def send_upload(server, upload):
    url, body, headers = upload
    return requests.put(url, data=body, headers=headers, verify=str(server.pki.ca_cert), timeout=30)


def assertion(server, **kw):
    return server.idp.signed_assertion(saml.AssertionSpec(issuer=server.idp.entity_id, audience=SP, **kw))


def login(server, xml, d="saml-once"):
    return requests.get(server.url(f"/{d}/hello.txt"), headers={"Authorization": saml.header(xml)},
                        verify=str(server.pki.ca_cert), timeout=30)


def assert_upload_replayed(server, upload):
    doc = assert_problem(send_upload(server, upload), 422, "signature-invalid")
    assert "replay" in doc["detail"]


def assert_login_replayed(server, xml):
    r = login(server, xml)
    doc = assert_problem(r, 401, "authentication-failed")
    assert "already used" in doc["detail"]
    assert "one-time page" not in r.text


RESTARTS = {
    "graceful": lambda s: s.signal_restart(graceful=True),
    "restart": lambda s: s.signal_restart(graceful=False),
    "stop-start": lambda s: s.restart(),
    "crash": lambda s: s.crash_restart(),
}


# What is used once: (make one, send it and return the status, refused as a replay, status of a first use).
ONE_TIME = {
    "rfc9421-nonce": (signed_upload, send_upload, assert_upload_replayed, 201),
    "saml-one-time": (assertion, login, assert_login_replayed, 200),
}


@pytest.mark.parametrize("how", RESTARTS)
@pytest.mark.parametrize("kind", ONE_TIME)
def test_used_once_stays_refused(server, kind, how):
    make, send, assert_replayed, ok = ONE_TIME[kind]
    item = make(server)
    assert send(server, item).status_code == ok
    assert_replayed(server, item)
    RESTARTS[how](server)
    assert_replayed(server, item)
    assert send(server, make(server)).status_code == ok  # fresh ones still pass


def test_every_child_refuses_a_replay_after_a_graceful_restart(server):
    # Old and new children use the same table: a replay sent to either is
    # refused. (The old child's keep-alive connection may be closed by the
    # restart; requests then reconnects to a new child.)
    xml = assertion(server)
    session = requests.Session()
    r = session.get(server.url("/saml-once/hello.txt"), headers={"Authorization": saml.header(assertion(server))},
                    verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200
    server.signal_restart(graceful=True)
    assert login(server, xml).status_code == 200  # a new child records it
    r = session.get(server.url("/saml-once/hello.txt"), headers={"Authorization": saml.header(xml)},
                    verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 401, r.text


@pytest.fixture
def lost_tables(server):
    yield
    server.forget_replay_tables()  # fresh tables, as at a first start: lost ones refuse what
    server.start()                 # other tests make in their first minute


TABLES = ("cmi-auth-replay.cache", "cmi-content-replay.cache")


def lose_tables_after_use(server, lose) -> tuple:
    """A one-time assertion and a signed upload, each used once; then, while httpd is
    stopped, `lose(path)` on each default table file. Returns them and the start's log."""
    xml = assertion(server)
    upload = signed_upload(server)
    assert login(server, xml).status_code == 200
    assert send_upload(server, upload).status_code == 201
    server.stop()
    for name in TABLES:
        lose(server.root / "run" / name)
    offset = server.log_size()
    server.start()
    return xml, upload, server.log_since(offset)


def assert_made_before_refused(server, xml, upload):
    doc = assert_problem(login(server, xml), 401, "authentication-failed")
    assert "issued before the replay cache's memory begins" in doc["detail"]
    doc = assert_problem(send_upload(server, upload), 422, "signature-invalid")
    assert "before the replay cache's memory begins" in doc["detail"]


def test_a_deleted_table_refuses_what_was_made_before_it(server, lost_tables):
    # The table files deleted while httpd was stopped (not damaged: gone). The
    # `.kept` marker beside them says tables were kept there, so a start does not
    # take the missing files for a first start and re-open the replay window.
    def delete(path):
        assert path.with_name(path.name + ".kept").exists()
        path.unlink()

    xml, upload, log = lose_tables_after_use(server, delete)
    assert log.count("missing, though a table was kept there") == 2, log
    assert_made_before_refused(server, xml, upload)


def test_a_lost_table_refuses_what_was_made_before_it(server, lost_tables):
    # The table's file was damaged while httpd was stopped: what it knew is
    # gone, so items made before the new table (plus the clock skew) are refused.
    xml, upload, log = lose_tables_after_use(server, lambda path: path.write_bytes(b"\0" * 64))
    assert log.count("made a new table: one-time items made before") == 2, log
    assert_made_before_refused(server, xml, upload)
    # Made after it: accepted (no clock skew at /saml-once/noskew).
    time.sleep(1.1)
    assert login(server, assertion(server), d="saml-once/noskew").status_code == 200
