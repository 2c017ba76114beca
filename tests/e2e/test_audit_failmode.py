"""mod_cmi_audit: what happens when the audit log cannot be written."""
import time

import pytest
import requests

from cmi_e2e.problems import assert_problem

LOCATIONS = """
<Location /dav>
    CMIAudit On
    CMIAuditFailMode {mode}
</Location>
"""


def wait_for_end_line(httpd, offset):
    """The end record is attempted after the response: wait for its error line,
    so it does not spill into the next test's error-log window."""
    deadline = time.monotonic() + 10
    while "end record NOT recorded" not in httpd.log_since(offset) and time.monotonic() < deadline:
        time.sleep(0.02)


def put(server, name, body=b"secret content " * 100):
    return requests.put(server.url(f"/dav/{name}"), data=body, verify=str(server.pki.ca_cert), timeout=30)


def test_fail_closed_refuses_and_handler_never_runs(httpd):
    httpd.configure(LOCATIONS.format(mode="closed"), server_snippet='CMIAuditLog "/dev/full"')
    httpd.expect_error(r"cmi_audit:error.*/dev/full")
    offset = httpd.log_size()
    r = put(httpd, "closed.bin")
    doc = assert_problem(r, 503, "audit-unavailable")
    assert not (httpd.dav_dir / "closed.bin").exists()
    wait_for_end_line(httpd, offset)
    log = httpd.log_since(offset)
    assert "No space left on device" in log and doc["transaction_id"] in log
    assert "secret content" not in log


def test_fail_closed_is_the_default(httpd):
    httpd.configure("<Location /dav>\n CMIAudit On\n</Location>", server_snippet='CMIAuditLog "/dev/full"')
    httpd.expect_error(r"cmi_audit:error.*/dev/full")
    offset = httpd.log_size()
    r = put(httpd, "default.bin")
    assert_problem(r, 503, "audit-unavailable")
    assert not (httpd.dav_dir / "default.bin").exists()
    wait_for_end_line(httpd, offset)


def test_fail_open_proceeds_and_says_what_was_not_recorded(httpd):
    httpd.configure(LOCATIONS.format(mode="open"), server_snippet='CMIAuditLog "/dev/full"')
    httpd.expect_error(r"cmi_audit:error.*/dev/full")
    offset = httpd.log_size()
    r = put(httpd, "open.bin")
    assert r.status_code == 201
    assert (httpd.dav_dir / "open.bin").exists()
    txid = r.headers["CMI-Transaction-ID"]
    wait_for_end_line(httpd, offset)
    log = httpd.log_since(offset)
    begin = [l for l in log.splitlines() if "begin record NOT recorded" in l]
    end = [l for l in log.splitlines() if "end record NOT recorded" in l]
    assert begin and end, log
    assert txid in begin[0] and '"method":"PUT"' in begin[0] and '"/dav/open.bin"' in begin[0]
    assert '"status":201' in end[0]
    assert "secret content" not in log


def assert_startup_fails(httpd, server_snippet, message):
    """httpd binds its ports before post_config opens the log: it may look up
    for a moment, then it must exit with `message` in the error log."""
    offset = httpd.log_size()
    try:
        httpd.configure("", server_snippet=server_snippet)
        assert httpd.proc.wait(timeout=20) != 0
    except RuntimeError:
        pass
    finally:
        httpd.stop()
    assert message in httpd.log_since(offset)


def test_unopenable_log_stops_startup(httpd):
    httpd.expect_error(r"cmi_audit:emerg.*cannot open audit log /nonexistent-dir/audit.log")
    assert_startup_fails(httpd, 'CMIAuditLog "/nonexistent-dir/audit.log"',
                         "cannot open audit log /nonexistent-dir/audit.log: No such file or directory")


def test_corrupt_log_stops_startup(httpd, tmp_path):
    log = tmp_path / "corrupt.log"
    log.write_text("this is not an audit record\n")
    httpd.expect_error(r"cmi_audit:emerg.*the last complete line is not an audit record")
    assert_startup_fails(httpd, f'CMIAuditLog "{log}"', "the last complete line is not an audit record")
