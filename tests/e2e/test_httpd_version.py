"""configure refuses httpd older than 2.4.64 (issue 21 item 6): mod_ssl before it lets a
client whose certificate one virtual host verified into another one by resuming its TLS
1.3 session there (CVE-2025-23048). configure runs against the real apxs, except that INCLUDEDIR
holds the real headers with ap_release.h saying 2.4.63 (refused) or 2.4.64 (accepted).
The modules' own start-up check of the running httpd is a unit test (cmi-glue-unit):
this machine's httpd cannot pretend to be older."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SOURCE_DIR


def apxs() -> str:
    return shutil.which("apxs") or shutil.which("apxs2") or "/usr/bin/apxs"


def fake_apxs(tmp: Path, patchlevel: int) -> Path:
    real_include = Path(subprocess.run([apxs(), "-q", "INCLUDEDIR"], capture_output=True, text=True,
                                       check=True).stdout.strip())
    include = tmp / "include"
    include.mkdir()
    for h in real_include.iterdir():
        if h.name != "ap_release.h":
            (include / h.name).symlink_to(h)
    release = (real_include / "ap_release.h").read_text()
    release = re.sub(r"(#define AP_SERVER_PATCHLEVEL_NUMBER\s+)\d+", rf"\g<1>{patchlevel}", release)
    (include / "ap_release.h").write_text(release)
    script = tmp / "apxs"
    script.write_text(f"""#!/bin/sh
if [ "$1" = -q ] && [ "$2" = INCLUDEDIR ]; then echo "{include}"; exit 0; fi
exec "{apxs()}" "$@"
""")
    script.chmod(0o755)
    return script


def configure(tmp: Path, patchlevel: int) -> subprocess.CompletedProcess:
    build = tmp / "build"
    build.mkdir()
    return subprocess.run([str(SOURCE_DIR / "configure"), f"--with-apxs={fake_apxs(tmp, patchlevel)}"],
                          cwd=build, capture_output=True, text=True, timeout=600)


def test_configure_refuses_httpd_2_4_63(tmp_path):
    r = configure(tmp_path, 63)
    assert r.returncode != 0
    assert "checking for httpd 2.4.64 or later... no (2.4.63)" in r.stdout
    assert (f"httpd 2.4.64 or later is required (the headers in {tmp_path}/include are 2.4.63): mod_ssl before "
            "2.4.64 lets a client whose certificate one virtual host verified into another by resuming its TLS "
            "1.3 session there (CVE-2025-23048)") in r.stderr


def test_configure_accepts_httpd_2_4_64(tmp_path):
    r = configure(tmp_path, 64)
    assert "checking for httpd 2.4.64 or later... yes (2.4.64)" in r.stdout, r.stdout + r.stderr
    assert r.returncode == 0, r.stderr
