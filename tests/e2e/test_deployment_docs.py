"""The docs as a new Debian administrator and a content provider follow them, as written:
docs/deployment.md's single-node recipe (apache2ctl, a2enmod, a conf-enabled file, the
shipped conf/cmc-example.conf), its checks, then every command of docs/client-guide.md,
in order, against that site in a private server root (cmi_e2e/debian_site.py). A doc
that drifts from the example or the modules fails here."""
import json
import re
import subprocess

import pytest

from cmi_e2e import docs
from cmi_e2e.debian_site import deployed_site
from conftest import BUILD_DIR, SOURCE_DIR

DEPLOYMENT = SOURCE_DIR / "docs" / "deployment.md"
CLIENT_GUIDE = SOURCE_DIR / "docs" / "client-guide.md"


@pytest.fixture(scope="module")
def site():
    with deployed_site(SOURCE_DIR, BUILD_DIR) as s:
        yield s


def test_recipe_order_certificates_before_the_site():
    recipe = docs.sh_block(DEPLOYMENT, "deploy-install")
    lines = [l for l in recipe.splitlines() if l and not l.startswith("#")]
    first = lambda pattern: next(i for i, l in enumerate(lines) if re.search(pattern, l))  # noqa: E731
    site_enabled = first(r"a2ensite cmc\b")
    for needed in (r"/etc/apache2/cmi/server\.pem", r"client-ca\.pem", r"content-ca\.pem", r"signer-keys",
                   r"audit-key\.pem", r"/var/lib/cmi/staging", r"cmi-ingest", r"a2enconf cmc-params",
                   r"a2enmod cmi_tls"):
        assert first(needed) < site_enabled, needed
    assert first(r"apache2ctl configtest") > site_enabled
    assert "-C" not in recipe and "spool" not in recipe, "Debian style: apache2ctl and conf-enabled, no spool"


def test_recipe_runs_and_configtest_is_clean(site):
    out = site.outputs["deploy-install"]
    assert "Syntax OK" in out.stdout + out.stderr
    # What it made: the site enabled, the parameters in conf-enabled, the trees.
    assert (site.path("/etc/apache2/sites-enabled/cmc.conf")).is_symlink()
    assert (site.path("/etc/apache2/conf-enabled/cmc-params.conf")).is_symlink()
    for p in ("/var/lib/cmi/upload/provider-a", "/var/lib/cmi/staging/provider-b", "/etc/apache2/cmi/signer-keys"):
        assert site.path(p).is_dir(), p


def test_checks_after_start(site):
    checks = docs.arrow_checks(DEPLOYMENT, "Checks after start")
    assert len(checks) >= 4, checks
    failures = []
    for command, expects in checks:
        out = site.run(command, **site.admin_env)
        got = out.stdout + out.stderr
        missing = [e for e in expects if e not in got]
        if missing or not expects:
            failures.append(f"{command}\n  missing {missing}\n  got: {got[-1500:]}")
    assert not failures, "\n".join(failures)


def test_every_client_guide_command(site):
    blocks = docs.sh_blocks(CLIENT_GUIDE)
    assert len(blocks) >= 5, blocks
    provider = site.root / "provider"
    for tag, code in blocks:
        # A step meant to succeed: any HTTP error fails it (curl --fail-with-body).
        out = site.run(code, cwd=provider, strict=True, CMI_DOCTEST_CURL_FAIL="1")
        assert out.returncode == 0, f"```sh {tag}\n{code}\n--- exit {out.returncode}\n{out.stdout[-2000:]}\n" \
                                    f"{out.stderr[-2000:]}\n{site.tail_log()}"
    # What the commands did is really there.
    songs = {p.name: p.read_bytes() for p in provider.glob("song-*.mp3")}
    uploads = site.path("/var/lib/cmi/upload/provider-a")
    uploaded = {p.name for p in uploads.iterdir()}
    assert uploaded and uploaded <= set(songs), uploaded
    for name in uploaded:
        assert (uploads / name).read_bytes() == songs[name], name
    ingested = list(site.path("/var/lib/cmi/ingested/provider-a").glob("*/*.mp3"))
    assert ingested, "the Decoupled Upload reached no ingest"
    for p in ingested:
        assert p.read_bytes() == songs[p.name]
        assert (p.parent / "manifest.xml").exists()
        assert not site.path(f"/var/lib/cmi/staging/provider-a/{p.name}").exists(), "the staged item was not taken"
    assert list(site.path("/var/lib/cmi/staging/provider-b").iterdir()), "the Digest staging step stored nothing"
    # The receipt the session kept verifies against the operator's log.
    headers = (provider / "headers.txt").read_text()
    receipt = re.search(r"^CMI-Receipt: (.+?)\r?$", headers, re.M | re.I).group(1)
    log = site.path("/var/log/apache2/cmi/cmi-audit.log")
    pub = site.path("/etc/apache2/cmi/audit-pub.pem")
    verify = subprocess.run([BUILD_DIR / "tools/cmi-audit/cmi-audit", "receipt", "--key", pub, receipt, log],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and "OK receipt" in verify.stdout, verify.stdout + verify.stderr
    records = [json.loads(l) for l in log.read_text().splitlines()]
    assert any(r.get("op") == "ContentStaging" and r.get("status") == 201 for r in records)
    assert site.unexpected_errors() == []
