"""Installation tests: the release tarball, the .deb and the .rpm are built once per run.

Run by `./dev test-install` (CI, as root): it installs the .deb into the system apache2,
so runs are serialised by a lock, and the package is purged again at the end.
"""
import fcntl
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("CMI_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CMI_BUILD_DIR", SOURCE_DIR / "build"))
VERSION = "0.1.0"
LOCK = Path("/run/lock/mod-cmi-test-install.lock")


def run(cmd, cwd=None, env=None, timeout=1200):
    """Runs a command; on failure the test fails with the end of its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr)[-6000:]
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{out}", pytrace=False)
    return proc


@pytest.fixture(scope="session")
def lock():
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("install")


@pytest.fixture(scope="session")
def tarball(lock, work):
    """`make distcheck` once: the release tarball builds from itself and passes the unit tests."""
    name = f"mod_cmi-{VERSION}.tar.gz"
    # -O0: this checks the build and the unit tests, not the optimiser (CI time budget).
    run(["make", "-C", str(BUILD_DIR), "distcheck",
         "DISTCHECK_CONFIGURE_FLAGS=--with-moddir='$${libdir}/apache2/modules' CMI_E2E=no CXXFLAGS=-O0"],
        timeout=1500)
    dest = work / name
    shutil.copy(BUILD_DIR / name, dest)
    return dest


def unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as t:
        t.extractall(into)
    return into / f"mod_cmi-{VERSION}"


@pytest.fixture(scope="session")
def deb(tarball, work) -> Path:
    """dpkg-buildpackage -us -uc -b on the release tarball plus debian/ (in the tarball),
    with Debian's default (hardened, optimised) flags and the unit tests, as a packager runs it."""
    root = work / "deb"
    src = unpack(tarball, root)
    assert (src / "debian" / "rules").exists(), "debian/ is not in the release tarball"
    env = dict(os.environ, DEB_BUILD_OPTIONS="noddebs parallel=2")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=1500)
    debs = sorted(root.glob("libapache2-mod-cmi_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


@pytest.fixture(scope="session")
def rpm(tarball, work) -> Path:
    """rpmbuild -bb rpm/mod_cmi.spec with the release tarball as Source0."""
    top = work / "rpmbuild"
    for d in ("SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (top / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(tarball, top / "SOURCES")
    spec = top / "SPECS" / "mod_cmi.spec"
    shutil.copy(SOURCE_DIR / "rpm" / "mod_cmi.spec", spec)
    # --nodeps: Debian's rpm database knows none of the BuildRequires (they are
    # installed as Debian packages). --nocheck: distcheck ran the unit tests.
    run(["rpmbuild", "-bb", "--nodeps", "--nocheck", "--define", f"_topdir {top}",
         "--define", "optflags -O0 -g", str(spec)], timeout=1500)
    rpms = sorted((top / "RPMS").rglob("mod_cmi-*.rpm"))
    rpms = [p for p in rpms if "debug" not in p.name]
    assert len(rpms) == 1, rpms
    return rpms[0]
