"""mod_cmi_audit: an idle server's last records get a signed checkpoint from the parent."""
import json
import time

import requests

from cmi_e2e.audit import audited_page, cmi_audit, read_records, records_of
from test_audit_signing import make_key

LOCATIONS = """
<Location /audit>
    CMIAudit On
</Location>
"""


def test_idle_server_writes_a_checkpoint(httpd, tmp_path):
    key, pub = make_key(tmp_path, "ed25519")
    log = httpd.root / "logs" / "audit-idle.log"
    audited_page(httpd)
    # Every 1000 records or 2 s: two requests never reach 1000.
    httpd.configure(LOCATIONS, server_snippet=f'CMIAuditLog "{log}"\nCMIAuditSigningKey "{key}"\n'
                                              f'CMIAuditCheckpoint 1000 2')
    try:
        r = requests.get(httpd.url("/audit/hello.txt"), verify=str(httpd.pki.ca_cert), timeout=30)
        last_end = records_of(log, r.headers["CMI-Transaction-ID"])[-1]
        # The parent's monitor hook runs about every 10 s.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            after = [x for x in read_records(log) if x["seq"] > last_end["seq"]]
            if after:
                break
            time.sleep(0.5)
        assert [x["ev"] for x in after] == ["checkpoint"], after
        out = cmi_audit(httpd.build_dir, "verify", "--key", pub, log)
        assert out.returncode == 0, out.stdout
        assert "0 records after it not covered" in out.stdout
        # Nothing new: no second checkpoint for the same head.
        n = len(read_records(log))
        time.sleep(12)
        assert len(read_records(log)) == n
    finally:
        httpd.stop()
        if log.exists():
            log.unlink()
