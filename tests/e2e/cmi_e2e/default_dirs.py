"""The compiled-in default directories of mod_cmi_content (the spool, the snapshots:
LOCALSTATEDIR/lib/cmi/...), one path for every build on this machine. A test that
creates one, or moves it aside, holds its lock, so that concurrent runs do not meet."""
import contextlib
import fcntl
import shutil
from pathlib import Path

import pytest

from .config import build_make_variable
from .content import www_owned_dir


@contextlib.contextmanager
def locked_default(name: str, build_dir):
    """The default directory of the build's Makefile variable `cmi<name>dir`, locked."""
    with open(f"/tmp/cmi-e2e-default-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield Path(build_make_variable(f"cmi{name}dir", build_dir))


@contextlib.contextmanager
def made_as_packaged(default: Path):
    """`default` as a package makes it (the httpd user's, 0700) if missing; removed after."""
    created = []
    for p in reversed([default, *default.parents]):
        if not p.exists():
            p.mkdir()
            created.append(p)
    if default in created:
        www_owned_dir(default).chmod(0o700)
    try:
        yield default
    finally:
        for p in reversed(created):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def moved_aside(default: Path):
    """`default` missing for a while (put back after)."""
    aside = default.with_name(default.name + ".cmi-e2e-aside")
    moved = default.exists()
    if moved:
        default.rename(aside)
    try:
        yield
    finally:
        if moved:
            aside.rename(default)


def default_dir_fixtures(name: str, build_dir):
    """Two module fixtures: `default_lock` (the default directory's path, locked for the
    module) and `default_dir` (the same, made as packaged if missing). Use:
    `default_lock, default_dir = default_dir_fixtures("spool", BUILD_DIR)`."""
    @pytest.fixture(scope="module")
    def default_lock():
        with locked_default(name, build_dir) as default:
            yield default

    @pytest.fixture(scope="module")
    def default_dir(default_lock):
        with made_as_packaged(default_lock) as default:
            yield default

    return default_lock, default_dir
