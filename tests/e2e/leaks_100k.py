"""Long run: the RSS of the httpd worker child stays flat over 100,000 requests
that mix every module and every refusal path (cmi_e2e/load.py).

NOT collected by `make check` (the file name does not start with test_): it FAILS
today — +2.5 MiB (RSS less shared memory) over 100,000 requests against the 2 MiB
limit of issue 8, ~25 bytes per request, cause not found yet — and it takes ~6 min.
Run it by hand:  make -C build e2e PYTEST_ARGS="-k 100k ../tests/e2e/leaks_100k.py""""
import time

import pytest

from cmi_e2e.load import MixedLoad, children, httpd_pid, rss_detail, rss_kib, wait_for_children

pytestmark = pytest.mark.longrun

WARMUP = 10_000
REQUESTS = 100_000
MAX_GROWTH_KIB = 2048


@pytest.fixture(scope="module")
def load(httpd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaks")
    mix = MixedLoad(httpd, tmp)
    audit_log = httpd.root / "logs" / "audit-leaks.log"
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(audit_log))
    yield mix
    httpd.restart()
    audit_log.unlink(missing_ok=True)


def test_children_rss_flat_over_100k_mixed_requests(load, httpd):
    load.expect_errors()
    parent = httpd_pid(httpd)
    kids = wait_for_children(parent)
    assert len(kids) == 1, kids
    load.run(WARMUP)
    (child,) = children(parent)
    before, detail_before = rss_kib(child), rss_detail(child)
    t0 = time.monotonic()
    counts = load.run(REQUESTS)
    secs = time.monotonic() - t0
    assert children(parent) == [child], "the worker child was replaced during the run"
    after, detail_after = rss_kib(child), rss_detail(child)
    total = sum(sum(c.values()) for c in counts.values())
    print(f"\nleaks: {total} requests over {len(counts)} scenarios; child RSS {before} KiB -> {after} KiB "
          f"({after - before:+d} KiB); {secs:.0f} s, {total / secs:.0f} req/s\n  before: {detail_before}\n  after:  {detail_after}")
    assert total == REQUESTS
    assert set(counts) == {r.name for r in load.mix()}
    assert after - before <= MAX_GROWTH_KIB, f"child RSS grew {after - before} KiB over {total} requests"
