"""Fixtures: one PKI and one httpd for the session; an error-log check per test."""
import atexit
import os
from pathlib import Path

import pytest

from cmi_e2e.config import harness_config
from cmi_e2e.httpd import Httpd
from cmi_e2e.pki import Pki

SOURCE_DIR = Path(os.environ.get("CMI_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CMI_BUILD_DIR", SOURCE_DIR / "build"))
HTTPD_BIN = harness_config(BUILD_DIR).httpd_bin  # configure's, or CMI_HTTPD


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def httpd(pki):
    server = Httpd(pki, BUILD_DIR, HTTPD_BIN)
    atexit.register(server.stop)  # even if pytest itself is interrupted
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def tmp(tmp_path):
    """A test's own scratch directory (signatures, uploads)."""
    return tmp_path


@pytest.fixture(autouse=True)
def error_log_guard(request, httpd):
    """Fails a test whose run put unexpected error-level lines in the error log."""
    httpd.expected_errors = []
    offset = httpd.log_size()
    yield
    unexpected = httpd.unexpected_errors(offset)
    if unexpected:
        pytest.fail("unexpected errors in the error log:\n" + "\n".join(unexpected[:20]), pytrace=False)


def pytest_configure(config):
    # Long-run tests (leaks, restarts, valgrind): minutes each; `./dev test` runs them,
    # `./dev test-sanitizers` deselects them (-m "not longrun").
    config.addinivalue_line("markers", "longrun: long-running memory/restart measurement")
