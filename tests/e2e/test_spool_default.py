"""Spool mode without CMIContentSpoolDir (issue 21 item 6): the body goes to httpd's own
state directory (LOCALSTATEDIR/lib/cmi/spool, configure --with-spool-dir), never to the
system temporary directory, which is often a tmpfs where one upload would pin up to
LimitRequestBody of RAM. A missing default directory stops httpd at start-up (configtest
names it), and a spool directory the children cannot write is a start-up warning.

The compiled-in default is one path for every build on this machine: the tests that
create it, or move it aside, hold a lock so that concurrent runs do not meet there."""
import os
import re
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import BUILD_DIR
from cmi_e2e.default_dirs import default_dir_fixtures, moved_aside
from cmi_e2e.content import cms_sign, write_cgi, www_owned_dir
from cmi_e2e.load import children

CONFIG = """
ScriptAlias /spool-default/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /spool-default/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSpool On
</Location>
"""

# Reads the (verified) body, says so, and waits until the test has looked at the
# worker's descriptors: the spool file is open, and already unlinked, meanwhile.
HOLD_CGI = """cat > /dev/null
touch "{markers}/spooled"
i=0
while [ ! -e "{markers}/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
"""


default_lock, default_dir = default_dir_fixtures("spool", BUILD_DIR)


@pytest.fixture(scope="module")
def server(httpd, default_dir):
    cgi = httpd.root / "cgi-spool-default"
    markers = www_owned_dir(httpd.root / "var" / "spool-default-markers")
    write_cgi(cgi / "hold.sh", HOLD_CGI.format(markers=markers))
    httpd.configure(CONFIG.format(cgi=cgi, ca=httpd.pki.ca_cert))
    httpd.markers = markers
    return httpd


def open_spool_files(server, directory: Path) -> list[str]:
    """The descriptors of httpd's worker children that point into `directory`."""
    found = []
    for pid in children(server.proc.pid):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(f"{directory}/"):
                found.append(target)
    return found


def test_a_spooled_body_goes_to_the_state_directory_not_tmp(server, default_dir, tmp_path):
    default = default_dir
    data = os.urandom(200_000)
    headers = {"CMI-Content-Signature": cms_sign(data, server.pki.client, tmp_path)}
    result = {}

    def upload():
        result["r"] = requests.post(server.url("/spool-default/hold.sh"), data=data, headers=headers,
                                    verify=str(server.pki.ca_cert), timeout=120)

    t = threading.Thread(target=upload)
    t.start()
    try:
        deadline = time.monotonic() + 60
        while not (server.markers / "spooled").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (server.markers / "spooled").exists(), "the CGI never ran"
        spooled = open_spool_files(server, default)
        assert len(spooled) == 1 and re.fullmatch(rf"{re.escape(str(default))}/cmi-spool-\w+ \(deleted\)",
                                                  spooled[0]), spooled
    finally:
        (server.markers / "release").touch()
        t.join(120)
    assert result["r"].status_code == 200, result["r"].text
    assert "validation=valid" in result["r"].text
    assert list(default.iterdir()) == []


def test_a_missing_default_spool_directory_stops_configtest(httpd, default_lock):
    default = default_lock
    with moved_aside(default):
        r = httpd.configtest(CONFIG.format(cgi=httpd.root, ca=httpd.pki.ca_cert))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert ("CMIContentSpool On applies to <Location /spool-default/>, but no CMIContentSpoolDir applies there "
            f"and the default spool directory {default} does not exist: create it, writable by the httpd user "
            f"only (install -d -m 0700 -o www-data -g www-data {default}), or set CMIContentSpoolDir") in out, out


def test_a_spool_directory_the_children_cannot_write_is_a_warning(httpd, tmp_path):
    root_only = httpd.root / "var" / "root-only-spool"
    root_only.mkdir(parents=True, exist_ok=True)
    root_only.chmod(0o755)
    snippet = CONFIG.format(cgi=httpd.root, ca=httpd.pki.ca_cert).replace(
        "CMIContentSpool On", f'CMIContentSpool On\n    CMIContentSpoolDir "{root_only}"')
    r = httpd.configtest(snippet)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (f"its spool directory {root_only} does not look writable by the httpd user (by its owner, group and "
            f"mode): spooled requests will fail with 500 until it is (chown www-data {root_only})") in r.stderr
