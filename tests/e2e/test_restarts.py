"""Long run: 20 graceful restarts of an httpd running every module (with the
mixed load between restarts) leave the parent's open file descriptors and its
memory where they were after the first restarts."""
import subprocess
import time

import pytest

from cmi_e2e.load import MixedLoad, fd_count, httpd_pid, rss_detail, rss_kib, wait_for_children

pytestmark = pytest.mark.longrun

RESTARTS = 20
WARM = 3                 # restarts before the baseline (pools and caches reach their size)
REQUESTS_BETWEEN = 300
MAX_PARENT_GROWTH_KIB = 256


@pytest.fixture(scope="module")
def load(httpd, tmp_path_factory):
    mix = MixedLoad(httpd, tmp_path_factory.mktemp("restarts"))
    audit_log = httpd.root / "logs" / "audit-restarts.log"
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(audit_log))
    yield mix
    httpd.restart()
    audit_log.unlink(missing_ok=True)


def graceful(httpd):
    done = httpd.log_since(0).count("resuming normal operations")
    out = subprocess.run([httpd.httpd_bin, "-d", str(httpd.root), "-f", str(httpd.conf_file), "-k", "graceful"],
                         capture_output=True, text=True, timeout=60, env=httpd.environment())
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 60
    while httpd.log_since(0).count("resuming normal operations") <= done:
        assert time.monotonic() < deadline, "no new generation after graceful restart"
        time.sleep(0.1)


def test_twenty_graceful_restarts_leave_parent_fds_and_memory_flat(load, httpd):
    load.expect_errors()
    parent = httpd_pid(httpd)
    figures = []
    for i in range(1, RESTARTS + 1):
        graceful(httpd)
        assert wait_for_children(parent), "no worker child after restart"
        load.run(REQUESTS_BETWEEN)
        figures.append((i, fd_count(parent), rss_kib(parent)))
        if i == WARM:
            detail_before = rss_detail(parent)
    assert httpd.proc.poll() is None and httpd_pid(httpd) == parent
    detail_after = rss_detail(parent)
    print("\nrestarts: (restart, parent fds, parent RSS less shared KiB): " + " ".join(map(str, figures))
          + f"\n  after restart {WARM}: {detail_before}\n  after restart {RESTARTS}: {detail_after}")
    _, fds_warm, rss_warm = figures[WARM - 1]
    _, fds_end, rss_end = figures[-1]
    assert fds_end == fds_warm, f"parent fds {fds_warm} -> {fds_end}"
    assert all(f == fds_warm for _, f, _ in figures[WARM - 1:]), figures
    assert rss_end - rss_warm <= MAX_PARENT_GROWTH_KIB, f"parent RSS {rss_warm} -> {rss_end} KiB"
