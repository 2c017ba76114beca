"""The shipped logrotate rule for the audit log (debian/*.cmi-audit.logrotate; the RPM's is
the same rule for /var/log/httpd/cmi): run by the real logrotate, with its postrotate
(invoke-rc.d apache2 reload: a graceful restart), against the example site of
docs/deployment.md. Nothing is ever deleted, the newest rotated file stays uncompressed
(delaycompress), the chain verifies across every file, the head file is not touched, and
Debian's own apache2 rule (/var/log/apache2/*.log, keep 14) does not take the audit log."""
import gzip
import re
import subprocess
import time

import pytest

from cmi_e2e import docs
from cmi_e2e.debian_site import SERVER_NAME, deployed_site
from conftest import BUILD_DIR, SOURCE_DIR

RULES = [SOURCE_DIR / "debian" / "libapache2-mod-cmi.cmi-audit.logrotate", SOURCE_DIR / "rpm" / "cmi-audit.logrotate"]
LOG = "/var/log/apache2/cmi/cmi-audit.log"


@pytest.fixture(scope="module")
def site():
    with deployed_site(SOURCE_DIR, BUILD_DIR) as s:
        yield s


def directives(rule) -> dict:
    """The directives of the (single) block of a logrotate rule, comments and scripts left out."""
    body = re.sub(r"(postrotate|prerotate).*?endscript", "", rule.read_text(), flags=re.S)
    found = {}
    for line in body.split("{", 1)[1].split("}", 1)[0].splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            word, _, arg = line.partition(" ")
            found[word] = arg.strip()
    return found


@pytest.mark.parametrize("rule", RULES, ids=["deb", "rpm"])
def test_rule_keeps_every_record(rule):
    d = directives(rule)
    assert d.get("rotate") == "-1", "rotated files must never be deleted"
    for needed in ("dateext", "delaycompress", "compress", "nocreate", "nocopytruncate", "missingok", "notifempty"):
        assert needed in d, needed
    for forbidden in ("copytruncate", "maxage", "shred", "create", "olddir"):
        assert forbidden not in d, forbidden
    text = rule.read_text()
    assert re.search(r"postrotate.*(invoke-rc\.d apache2 reload|systemctl reload httpd).*endscript", text, re.S)
    path = text.split("{", 1)[0].split()[-1]
    assert path.endswith("/cmi/cmi-audit.log") and "*" not in path, path


def requests_(site, n):
    p = site.root / "provider"
    for _ in range(n):
        out = subprocess.run([str(site.bin / "curl"), "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                              str(p / "cmc-ca.pem"), "--cert", str(p / "provider.pem"), "--key", str(p / "provider.key"),
                              "-X", "PROPFIND", "-H", "Depth: 0", f"https://{SERVER_NAME}/cmi/upload/provider-a/"],
                             env=site.env(), capture_output=True, text=True, timeout=60)
        assert out.stdout == "207", out.stdout + out.stderr


def rotate(site):
    out = site.run("logrotate -v -s /var/lib/logrotate/status -f /etc/logrotate.d/cmi-audit")
    assert out.returncode == 0, out.stdout + out.stderr
    time.sleep(1.1)  # dateformat has seconds: one rotation per second


def test_logrotate_rotates_and_keeps_the_chain(site):
    site.path("/var/lib/logrotate").mkdir(parents=True, exist_ok=True)
    log = site.path(LOG)
    log_dir = log.parent
    for _ in range(3):
        requests_(site, 3)
        rotate(site)
    requests_(site, 2)
    rotated = sorted(p for p in log_dir.iterdir() if p.name.startswith("cmi-audit.log-"))
    assert len(rotated) == 3, rotated
    # delaycompress: the newest rotated file is still plain (children of the old generation
    # may have appended to it); the older ones are compressed; nothing was removed.
    assert [p.suffix == ".gz" for p in rotated] == [True, True, False], rotated
    assert log.exists() and log.stat().st_size > 0, "mod_cmi_audit did not open a new file at the graceful restart"
    # Only the log itself is rotated: the chain head (<log>.head, audit-engine's) is not.
    assert not [p.name for p in log_dir.iterdir() if ".head" in p.name and re.search(r"-\d{8}", p.name)]
    # The chain runs from the oldest file into the current one.
    plain = site.root / "verify"
    plain.mkdir()
    files = []
    for i, p in enumerate(rotated + [log]):
        dest = plain / f"{i}.log"
        dest.write_bytes(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes())
        files.append(dest)
    out = subprocess.run([BUILD_DIR / "tools/cmi-audit/cmi-audit", "verify", "--key",
                          site.path("/etc/apache2/cmi/audit-pub.pem"), *files], capture_output=True, text=True)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr
    # ... and, as docs/deployment.md shows it, in one call over the files as they are.
    history = site.run(docs.sh_block(SOURCE_DIR / "docs" / "deployment.md", "verify-history"))
    assert history.returncode == 0 and "OK" in history.stdout, history.stdout + history.stderr
    assert "graceful restart" in site.error_log.read_text(), "postrotate did not reload apache2"
    assert site.unexpected_errors() == []


def test_debian_apache2_rule_does_not_take_the_audit_log(site):
    rule = site.path("/etc/logrotate.d/apache2")
    assert rule.exists(), "apache2's logrotate rule"
    site.path(LOG).parent.mkdir(parents=True, exist_ok=True)
    site.path(LOG).touch()
    out = site.run("logrotate -d -s /var/lib/logrotate/debug-status /etc/logrotate.d/apache2 /etc/logrotate.d/cmi-audit")
    text = out.stdout + out.stderr
    assert not re.search(r"^error:", text, re.M), text
    apache2_part = text.split("rotating pattern:")[1]
    assert "cmi-audit.log" not in apache2_part, apache2_part
    ours = [b for b in text.split("rotating pattern:") if "cmi/cmi-audit.log" in b.splitlines()[0]]
    assert ours and f"considering log {site.path(LOG)}" in ours[0], text
