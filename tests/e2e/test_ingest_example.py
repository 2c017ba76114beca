"""conf/cmi-ingest, the reference ingest program, run as httpd runs a CGI (its environment,
the manifest on stdin): it takes only what mod_cmi_content validated, prefers the
snapshot named by `path`, reads RFC 8941 strings with escapes, never leaves its store.
(Behind the real httpd it runs in test_deployment_docs.py and test_demo.py.)"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import SOURCE_DIR

INGEST = SOURCE_DIR / "conf" / "cmi-ingest"
TXID = "01a2520d-e440-76bb-941d-68eac4ec8b99"


def run(tmp_path: Path, items: str, **env):
    base = {"REQUEST_METHOD": "POST", "CMI_CONTENT_VALIDATION": "valid", "CMI_CONTENT_FORMAT": "manifest",
            "CMI_USER": "provider-a", "CMI_AUTH_MECH": "cert", "CMI_TRANSACTION_ID": TXID,
            "CMI_CONTENT_ITEMS": items, "CMI_INGEST_STAGING": str(tmp_path / "staging"),
            "CMI_INGEST_STORE": str(tmp_path / "store"), "CONTENT_LENGTH": "11", "PATH": os.environ["PATH"]}
    base.update(env)
    out = subprocess.run([str(INGEST)], input=b"<Manifest/>", env=base, capture_output=True, timeout=30)
    head, _, body = out.stdout.decode().partition("\n\n")
    return head.splitlines()[0], body, out.stderr.decode()


@pytest.fixture
def staged(tmp_path):
    d = tmp_path / "staging" / "provider-a" / "album"
    d.mkdir(parents=True)
    (d / 'say "hi".mp3').write_text("staged\n")
    snap = tmp_path / "snapshots"
    snap.mkdir()
    (snap / "0001").write_text("snapshot\n")
    return tmp_path


def test_takes_each_valid_item_and_keeps_the_manifest(staged):
    items = r'"s1";result=valid;location="album/say \"hi\".mp3";alg=sha-256;digest=:AAAA:'
    status, body, _ = run(staged, items)
    assert status == "Status: 200 OK", body
    store = staged / "store" / "provider-a" / TXID
    assert (store / "album" / 'say "hi".mp3').read_text() == "staged\n"
    assert (store / "manifest.xml").read_bytes() == b"<Manifest/>"
    assert not (staged / "staging" / "provider-a" / "album" / 'say "hi".mp3').exists()
    assert "from provider-a (cert), validation=valid" in body and 'album/say "hi".mp3 ingested' in body


def test_prefers_the_snapshot_named_by_path(staged):
    snap = staged / "snapshots" / "0001"
    status, body, _ = run(staged, f'"s1";result=valid;location="album/x.mp3";path="{snap}", "s2";result=valid;'
                                  f'location="album/say \\"hi\\".mp3"')
    assert status == "Status: 200 OK", body
    store = staged / "store" / "provider-a" / TXID / "album"
    assert (store / "x.mp3").read_text() == "snapshot\n" and not snap.exists()


@pytest.mark.parametrize("env, status", [
    ({"CMI_CONTENT_VALIDATION": "absent"}, "403"),
    ({"CMI_CONTENT_FORMAT": "cms"}, "403"),
    ({"REQUEST_METHOD": "GET"}, "405"),
    ({"CMI_CONTENT_ITEMS": '"s1";result=digest-mismatch;location="album/x.mp3"'}, "403"),
    ({"CMI_CONTENT_ITEMS": '"s1";result=valid;location="../provider-b/x.mp3"'}, "400"),
    ({"CMI_USER": "../x"}, "500"),
])
def test_refuses_what_was_not_validated(staged, env, status):
    got, body, _ = run(staged, env.pop("CMI_CONTENT_ITEMS", '"s1";result=valid;location="album/x.mp3"'), **env)
    assert got.startswith(f"Status: {status}"), (got, body)
    assert not (staged / "store" / "provider-a" / TXID / "album").exists()


def test_reads_the_whole_list_from_the_items_file(staged):
    # Above 64 KiB the environment holds only the compact form (id and result) or nothing:
    # the file always has the full list.
    snap = staged / "snapshots" / "0001"
    listed = staged / "snapshots" / "items"
    listed.write_text(f'"s1";result=valid;location=%"album/f%c3%bcr %c3%89lise.mp3";path="{snap}"\n')
    status, body, _ = run(staged, '"s1";result=valid', CMI_CONTENT_ITEMS_FILE=str(listed))
    assert status == "Status: 200 OK", body
    taken = staged / "store" / "provider-a" / TXID / "album" / "für Élise.mp3"
    assert taken.read_text() == "snapshot\n" and not snap.exists()
