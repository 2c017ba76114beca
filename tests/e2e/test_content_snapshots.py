"""mod_cmi_content (issue 17 item 2), Decoupled Upload: the handler reads exactly the
bytes that were verified. Each verified item reaches the handler as a snapshot in a
per-transaction directory (CMI_CONTENT_ITEMS path="..."), which no staging writer can
change: not by replacing or rewriting the staged file, nor by swapping in a symlink, nor
(CMIStagingSnapshot Copy) through a descriptor opened before, nor through another hard
link. Snapshots the handler does not take are gone after the request; a refused
manifest leaves the staging area as it was; a killed child's directory is swept."""
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from cmi_e2e.content import www_owned_dir
from cmi_e2e.manifest import cms_b64, item, manifest, stage_file
from cmi_e2e.problems import assert_problem

CONFIG = """
ScriptAlias /snap/ "{cgi}/"
ScriptAlias /snap-copy/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /snap/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /snap-copy/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIStagingSnapshot Copy
    CMIStagingSnapshotDir "{snapshots}"
</Location>
"""

# The ingest: reports where its snapshots are, waits for the test (?wait) and then
# reads them; with ?take it moves them into its own store, as a real ingest would.
INGEST = r'''#!/usr/bin/python3
import hashlib, json, os, re, shutil, sys, time
sys.stdin.buffer.read()  # the manifest (unread input would reset mod_cgid's socket)
markers = "{markers}"
items = os.environ.get("CMI_CONTENT_ITEMS", "")
paths = re.findall(r';path="([^"]*)"', items)
report = {{"items": items, "items_file": os.environ.get("CMI_CONTENT_ITEMS_FILE", ""), "paths": paths,
}}
query = os.environ.get("QUERY_STRING", "")
if "wait" in query:
    with open(markers + "/ready.tmp", "w") as f:
        json.dump(report, f)
    os.rename(markers + "/ready.tmp", markers + "/ready")
    for _ in range(1200):
        if os.path.exists(markers + "/go"):
            break
        time.sleep(0.05)
report["sha"] = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]
if report["items_file"]:
    report["items_file_text"] = open(report["items_file"]).read()
if "take" in query:
    for i, p in enumerate(paths):
        shutil.move(p, markers + "/taken-%d" % i)
print("Content-Type: application/json")
print()
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def server(httpd):
    root = httpd.root
    cgi = root / "cgi-bin-snapshots"
    cgi.mkdir(exist_ok=True)
    markers = www_owned_dir(root / "var" / "snapshot-markers")
    staging = www_owned_dir(root / "var" / "staging-snapshots")
    snapshots = www_owned_dir(root / "var" / "snapshots")
    script = cgi / "ingest.py"
    script.write_text(INGEST.format(markers=markers))
    script.chmod(0o755)
    httpd.configure(CONFIG.format(cgi=cgi, staging=staging, ca=httpd.pki.ca_cert, snapshots=snapshots))
    httpd.snap_markers, httpd.snap_staging, httpd.snap_dir = markers, staging, snapshots
    return httpd


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stage(server, name: str, data: bytes) -> Path:
    return stage_file(server.snap_staging, name, data)


def clear_markers(server):
    for m in server.snap_markers.glob("*"):
        m.unlink()


def post(server, where, body, query=""):
    return requests.post(server.url(f"{where}ingest.py{query}"), data=body.encode(),
                         headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=90)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Ingest:
    """A manifest POSTed in the background to the waiting ingest: `ready` once the
    handler runs (verification is over), `go()` lets it read its snapshots."""

    def __init__(self, server, where, body, query="?wait"):
        self.server, self.result = server, {}
        clear_markers(server)
        self.thread = threading.Thread(target=self._post, args=(where, body, query))
        self.thread.start()
        ready = server.snap_markers / "ready"
        wait_for(lambda: ready.exists() or not self.thread.is_alive())
        assert ready.exists(), self.response().text
        self.ready = json.loads(ready.read_text())

    def _post(self, where, body, query):
        try:
            self.result["r"] = post(self.server, where, body, query)
        except requests.exceptions.RequestException as e:
            self.result["error"] = e

    def go(self):
        (self.server.snap_markers / "go").touch()
        return self.response()

    def response(self):
        self.thread.join(90)
        if "error" in self.result:
            raise self.result["error"]
        return self.result["r"]


def swap(server, staged: Path, how: str, evil: bytes, tmp: Path):
    if how == "replace":  # a new file renamed over the staged name (rsync, mod_dav)
        new = staged.with_name(staged.name + ".new")
        new.write_bytes(evil)
        os.replace(new, staged)
    elif how == "rewrite":  # the staged name opened again and rewritten
        staged.write_bytes(evil)
    elif how == "symlink":  # the staged name now points elsewhere
        outside = tmp / "evil.bin"
        outside.write_bytes(evil)
        outside.chmod(0o644)
        staged.unlink(missing_ok=True)
        staged.symlink_to(outside)


# --- the handler reads what was verified ---------------------------------------------------

@pytest.mark.parametrize("where", ["/snap/", "/snap-copy/"])
@pytest.mark.parametrize("how", ["replace", "rewrite", "symlink"])
def test_a_staging_writer_cannot_change_what_the_handler_reads(server, tmp, where, how):
    data, evil = os.urandom(200_000), os.urandom(200_000)
    staged = stage(server, f"swap-{how}.bin", data)
    ingest = Ingest(server, where, manifest(item("s", staged.name, data, cms_b64(data, server.pki.client, tmp))))
    assert len(ingest.ready["paths"]) == 1 and os.path.isabs(ingest.ready["paths"][0])
    swap(server, staged, how, evil, tmp)
    r = ingest.go()
    assert r.status_code == 200, r.text
    assert r.json()["sha"] == [sha(data)]


def test_copy_mode_defeats_a_writer_holding_a_descriptor(server, tmp):
    # The limit of Move: a descriptor opened before the rename still writes to the
    # moved file. Copy hands over a file the writer never had.
    data, evil = os.urandom(100_000), os.urandom(100_000)
    staged = stage(server, "held.bin", data)
    with open(staged, "r+b") as held:
        ingest = Ingest(server, "/snap-copy/", manifest(item("h", "held.bin", data,
                                                             cms_b64(data, server.pki.client, tmp))))
        held.seek(0)
        held.write(evil)
        held.flush()
    r = ingest.go()
    assert r.status_code == 200 and r.json()["sha"] == [sha(data)]
    assert staged.read_bytes() == evil  # Copy leaves the staged file where it was


def test_a_second_hard_link_is_not_moved(server, tmp):
    # A staged file with another name could be rewritten through it after a move:
    # it is copied instead.
    data, evil = os.urandom(100_000), os.urandom(100_000)
    staged = stage(server, "linked.bin", data)
    other = server.snap_staging / "linked-other.bin"
    other.unlink(missing_ok=True)
    os.link(staged, other)
    ingest = Ingest(server, "/snap/", manifest(item("l", "linked.bin", data, cms_b64(data, server.pki.client, tmp))))
    with open(other, "r+b") as f:
        f.write(evil)
    r = ingest.go()
    assert r.status_code == 200 and r.json()["sha"] == [sha(data)]


# --- who removes the snapshots -------------------------------------------------------------

@pytest.mark.parametrize("where", ["/snap/", "/snap-copy/"])
def test_snapshots_not_taken_are_gone_after_the_request(server, tmp, where):
    data = os.urandom(50_000)
    staged = stage(server, "left.bin", data)
    r = post(server, where, manifest(item("x", "left.bin", data, cms_b64(data, server.pki.client, tmp))))
    assert r.status_code == 200, r.text
    snapshot = Path(r.json()["paths"][0])
    wait_for(lambda: not snapshot.parent.exists(), 10)  # removed with the request, after the response
    # a moved file the handler did not take is back where it was staged
    assert staged.read_bytes() == data


@pytest.mark.parametrize("where,staged_after", [("/snap/", False), ("/snap-copy/", True)])
def test_the_handler_takes_its_snapshots(server, tmp, where, staged_after):
    data = os.urandom(70_000)
    staged = stage(server, "taken.bin", data)
    clear_markers(server)
    r = post(server, where, manifest(item("t", "taken.bin", data, cms_b64(data, server.pki.client, tmp))), "?take")
    assert r.status_code == 200, r.text
    assert (server.snap_markers / "taken-0").read_bytes() == data
    wait_for(lambda: not Path(r.json()["paths"][0]).parent.exists(), 10)
    assert staged.exists() == staged_after


def test_a_refused_manifest_leaves_the_staging_area_as_it_was(server, tmp):
    good, bad = os.urandom(40_000), os.urandom(40_000)
    g = stage(server, "refused-good.bin", good)
    b = stage(server, "refused-bad.bin", bad)
    body = manifest(item("g", "refused-good.bin", good, cms_b64(good, server.pki.client, tmp)),
                    item("b", "refused-bad.bin", good, cms_b64(good, server.pki.client, tmp)))
    doc = assert_problem(post(server, "/snap/", body), 422, "digest-mismatch")
    assert [i["result"] for i in doc["items"]] == ["valid", "invalid"]
    assert g.read_bytes() == good and b.read_bytes() == bad  # before the response: nothing to wait for


def test_the_item_list_is_also_a_file(server, tmp):
    data = os.urandom(1000)
    stage(server, "listed.bin", data)
    r = post(server, "/snap/", manifest(item("listed", "listed.bin", data, cms_b64(data, server.pki.client, tmp))))
    out = r.json()
    assert out["items_file"].startswith(str(Path(out["paths"][0]).parent))
    assert out["items_file_text"] == out["items"] + "\n"
    assert out["items"].endswith(f';path="{out["paths"][0]}"')


@pytest.mark.parametrize("where", ["/snap/", "/snap-copy/"])
def test_a_killed_childs_snapshot_directory_is_swept(server, tmp, where):
    # The sweep puts a moved file back where it was staged.
    data = os.urandom(30_000)
    staged = stage(server, "orphan.bin", data)
    ingest = Ingest(server, where, manifest(item("o", "orphan.bin", data, cms_b64(data, server.pki.client, tmp))))
    txdir = Path(ingest.ready["paths"][0]).parent
    lock = txdir / ".lock"
    holder = next(int(p.parts[2]) for p in Path("/proc").glob("[0-9]*/fd/*")
                  if _points_to(p, lock))
    old = time.time() - 3600  # older than the sweep's grace period
    os.utime(lock, (old, old))
    server.expect_error(r"AH00052|AH00051")  # the child's death is logged
    os.kill(holder, signal.SIGKILL)
    (server.snap_markers / "go").touch()
    try:
        ingest.response()
    except requests.exceptions.RequestException:
        pass  # the connection went with the child
    wait_for(lambda: not txdir.exists(), 30)  # the child that replaces it sweeps
    assert staged.read_bytes() == data


def _points_to(fd_link: Path, target: Path) -> bool:
    try:
        return os.readlink(fd_link) == str(target)
    except OSError:
        return False


# --- configuration -------------------------------------------------------------------------

def test_configtest_refuses_snapshots_inside_the_staging_root(server):
    inner = www_owned_dir(server.snap_staging / "snapshots")
    snippet = (f"<Location /x/>\n    CMIDecoupledManifest On\n    CMIStagingRoot {server.snap_staging}\n"
               f"    CMIContentTrustAnchors {server.pki.ca_cert}\n    CMIStagingSnapshotDir {inner}\n</Location>\n")
    r = server.configtest(snippet)
    assert r.returncode != 0
    assert f"CMIStagingSnapshotDir {inner} applies to <Location /x/> and is inside its CMIStagingRoot" in r.stderr + r.stdout
    r = server.configtest(snippet.replace(str(inner), str(server.snap_dir)))
    assert r.returncode == 0, r.stderr + r.stdout
    r = server.configtest(f"<Location /x/>\n    CMIManifestMaxBytes 64G\n    CMIManifestMaxItems 50\n"
                          f"    CMIManifestMaxKeyInfoCertificates 2\n    CMIStagingSnapshot copy\n</Location>\n")
    assert r.returncode == 0, r.stderr + r.stdout
