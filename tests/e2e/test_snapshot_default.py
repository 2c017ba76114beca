"""Decoupled Upload without CMIStagingSnapshotDir: the snapshots go to httpd's own state
directory (LOCALSTATEDIR/lib/cmi/snapshots, configure --with-snapshot-dir), never to the
system temporary directory, often a tmpfs where Copy snapshots (whole files) would pin
RAM. A missing default directory stops httpd at start-up (configtest names it and the
fix), and a snapshot directory the children cannot write is a start-up warning.

The compiled-in default is one path for every build on this machine: the tests that
create it, or move it aside, hold a lock so that concurrent runs do not meet there."""
import os
import re

import pytest
import requests

from conftest import BUILD_DIR
from cmi_e2e.default_dirs import default_dir_fixtures, moved_aside
from cmi_e2e.content import write_cgi, www_owned_dir
from cmi_e2e.manifest import cms_b64, item, manifest

CONFIG = """
ScriptAlias /snapshot-default/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /snapshot-default/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIStagingSnapshot Copy
</Location>
"""

CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "items=$CMI_CONTENT_ITEMS"
"""


default_lock, default_dir = default_dir_fixtures("snapshot", BUILD_DIR)


@pytest.fixture(scope="module")
def httpd_default(httpd):
    """The shared httpd without the harness's own CMIStagingSnapshotDir."""
    own = httpd.snapshot_dir
    httpd.snapshot_dir = None
    yield httpd
    httpd.snapshot_dir = own


@pytest.fixture(scope="module")
def server(httpd_default, default_dir):
    httpd = httpd_default
    cgi = httpd.root / "cgi-snapshot-default"
    write_cgi(cgi / "ingest.sh", CGI)
    staging = www_owned_dir(httpd.root / "var" / "staging-snapshot-default")
    httpd.configure(CONFIG.format(cgi=cgi, staging=staging, ca=httpd.pki.ca_cert))
    httpd.default_staging = staging
    return httpd


def test_snapshots_go_to_the_state_directory_not_tmp(server, default_dir, tmp_path):
    data = os.urandom(50_000)
    staged = server.default_staging / "song.bin"
    staged.write_bytes(data)
    staged.chmod(0o644)
    body = manifest(item("s", "song.bin", data, cms_b64(data, server.pki.client, tmp_path)))
    r = requests.post(server.url("/snapshot-default/ingest.sh"), data=body.encode(),
                      headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=60)
    assert r.status_code == 200, r.text
    (path,) = re.findall(r';path="([^"]*)"', r.text)
    assert re.fullmatch(rf"{re.escape(str(default_dir))}/cmi-snapshot-[\w-]+/\d+", path), path
    assert list(default_dir.iterdir()) == []  # released before the response ended
    assert staged.read_bytes() == data


def test_a_missing_default_snapshot_directory_stops_configtest(httpd_default, default_lock):
    httpd, default = httpd_default, default_lock
    snippet = CONFIG.format(cgi=httpd.root, staging=httpd.root / "htdocs", ca=httpd.pki.ca_cert)
    with moved_aside(default):
        r = httpd.configtest(snippet)
        # a CMIStagingSnapshotDir that applies (here the server's) is used instead
        configured = httpd.configtest(snippet, server_snippet=f'CMIStagingSnapshotDir "{httpd.root / "var"}"\n')
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert ("CMIDecoupledManifest On applies to <Location /snapshot-default/>, but no CMIStagingSnapshotDir applies "
            f"there and the default snapshot directory {default} does not exist: create it, writable by the httpd "
            f"user only (install -d -m 0700 -o www-data -g www-data {default}), or set CMIStagingSnapshotDir") in out, out
    assert configured.returncode == 0, configured.stdout + configured.stderr


def test_a_snapshot_directory_the_children_cannot_write_is_a_warning(httpd):
    root_only = httpd.root / "var" / "root-only-snapshots"
    root_only.mkdir(parents=True, exist_ok=True)
    root_only.chmod(0o755)
    snippet = CONFIG.format(cgi=httpd.root, staging=httpd.root / "htdocs", ca=httpd.pki.ca_cert).replace(
        "CMIStagingSnapshot Copy", f'CMIStagingSnapshot Copy\n    CMIStagingSnapshotDir "{root_only}"')
    r = httpd.configtest(snippet)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (f"its snapshot directory {root_only} does not look writable by the httpd user (by its owner, group "
            f"and mode): manifests will fail with 500 until it is (chown www-data {root_only})") in r.stderr
