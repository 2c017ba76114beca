"""The shipped example, conf/cmc-example.conf, as docs/deployment.md sets it up:

- it fails closed: with any one of the four modules not enabled, `apache2ctl configtest`
  fails (no <IfModule cmi_…> hides policy), so no anonymous upload or delete can happen;
- providers are kept apart: provider-b (Digest) can neither read, list, overwrite,
  delete, copy nor move provider-a's files (uploads and staging), nor name them in a
  manifest; provider-a can do all of that in its own tree;
- every response of the TLS interface carries HSTS, refusals included; which responses
  carry a CMI-Receipt is what docs/audit-log.md says;
- a client certificate that is expired or from an unknown CA fails the handshake with
  what docs/troubleshooting.md says the client and the error log show."""
import json
import re
import subprocess

import pytest

from cmi_e2e.debian_site import SERVER_NAME, deployed_site
from conftest import BUILD_DIR, SOURCE_DIR

BASE = f"https://{SERVER_NAME}/cmi"
MODULES = ["cmi_tls", "cmi_auth", "cmi_audit", "cmi_content"]


@pytest.fixture(scope="module")
def site():
    s = deployed_site(SOURCE_DIR, BUILD_DIR)
    # mod_authz_core logs each refused user at error level ("authorization failure (no
    # authenticated user)" for a `Require expr` on REMOTE_USER: httpd's wording).
    s.expected_errors.append(re.compile(r"\[authz_core:error\] .* AH0(1629|1631): .*/cmi/(upload|staging)/"))
    try:
        yield s
    finally:
        s.cleanup()


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def problem(self) -> str:
        return json.loads(self.body)["type"].rsplit(":", 1)[-1]


def curl(site, who, *args) -> Response:
    """One request through the site's curl shim as 'a' (client certificate), 'b' (Digest) or None."""
    p = site.root / "provider"
    cred = {"a": ["--cert", str(p / "provider.pem"), "--key", str(p / "provider.key")],
            "b": ["--digest", "--netrc-file", str(p / "cmc.netrc")], None: []}[who]
    out = subprocess.run([str(site.bin / "curl"), "-sS", "-o", str(p / "body"), "-D", "-", "--cacert",
                          str(p / "cmc-ca.pem"), *cred, *args], env=site.env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    # The last response (Digest and 100-continue put more before it).
    blocks = [b for b in out.stdout.replace("\r\n", "\n").split("\n\n") if b.startswith("HTTP/")]
    lines = blocks[-1].splitlines()
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers.setdefault(k.strip().lower(), v.strip())
    r = Response(int(lines[0].split()[1]), headers, (p / "body").read_bytes())
    if args and any(str(a).startswith("https://") for a in args):
        assert "strict-transport-security" in r.headers, f"no HSTS on {r.status} {args}"
    return r


def cms(site, who, path):
    p = site.root / "provider"
    stem = {"a": "provider", "b": "provider-b"}[who]
    out = subprocess.run([BUILD_DIR / "tools/cmi-sign", "cms", "--cert", p / f"{stem}.pem", "--key", p / f"{stem}.key",
                          path], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def files(site):
    """provider-a's upload and staged file, provider-b's staged file."""
    p = site.root / "provider"
    a_song, b_song = p / "a-song.mp3", p / "b-song.mp3"
    a_song.write_bytes(b"provider-a's song\n" * 50)
    b_song.write_bytes(b"provider-b's song\n" * 50)
    r = curl(site, "a", "-H", cms(site, "a", a_song), "-T", a_song, f"{BASE}/upload/provider-a/a-song.mp3")
    assert r.status == 201, r.body
    for who, f in (("a", a_song), ("b", b_song)):
        r = curl(site, who, "-T", f, f"{BASE}/staging/provider-{who}/{f.name}")
        assert r.status == 201, r.body
    return a_song, b_song


def test_example_has_no_ifmodule_around_our_modules():
    text = (SOURCE_DIR / "conf" / "cmc-example.conf").read_text()
    assert "<IfModule cmi_" not in text and "<IfModule mod_cmi" not in text
    for f in (SOURCE_DIR / "debian").glob("cmi_*.conf"):
        assert "<IfModule cmi_" not in f.read_text(), f


@pytest.mark.parametrize("module", MODULES)
def test_a_module_not_enabled_is_a_configtest_error(site, module):
    site.admin(f"a2dismod -q -f {module}")
    try:
        out = site.run("apache2ctl configtest")
        assert out.returncode != 0, out.stdout + out.stderr
        assert "Invalid command 'CMI" in out.stderr, out.stderr
    finally:
        site.admin(f"a2enmod -q {module}")
    assert site.run("apache2ctl configtest").returncode == 0


def test_anonymous_cannot_put_or_delete(site, files):
    a_song, _ = files
    r = curl(site, None, "-T", a_song, f"{BASE}/upload/provider-a/anon.mp3")
    assert (r.status, r.problem()) == (401, "authentication-required")
    r = curl(site, None, "-X", "DELETE", f"{BASE}/upload/provider-a/a-song.mp3")
    assert r.status == 401
    assert site.path("/var/lib/cmi/upload/provider-a/a-song.mp3").exists()
    assert not site.path("/var/lib/cmi/upload/provider-a/anon.mp3").exists()


@pytest.mark.parametrize("tree", ["upload", "staging"])
def test_provider_b_cannot_touch_provider_a_files(site, files, tree):
    a_song, b_song = files
    a_file = f"{BASE}/{tree}/provider-a/{'a-song.mp3'}"
    a_dir = site.path(f"/var/lib/cmi/{tree}/provider-a")
    before = {p.name: p.read_bytes() for p in a_dir.iterdir()}
    assert "a-song.mp3" in before

    assert curl(site, "b", a_file).status == 403                                             # read
    assert curl(site, "b", "-X", "PROPFIND", "-H", "Depth: 1", f"{BASE}/{tree}/provider-a/").status == 403
    assert curl(site, "b", "-X", "PROPFIND", "-H", "Depth: 1", f"{BASE}/{tree}/").status == 403  # the list of providers
    r = curl(site, "b", "-H", cms(site, "b", b_song), "-T", b_song, a_file)                  # overwrite, b-signed
    assert (r.status, r.problem()) == (403, "forbidden"), r.body
    assert curl(site, "b", "-X", "DELETE", a_file).status == 403
    assert curl(site, "b", "-X", "MKCOL", f"{BASE}/{tree}/provider-a/sub/").status == 403
    # COPY/MOVE of a's file into b's tree: refused on the source.
    for method in ("COPY", "MOVE"):
        r = curl(site, "b", "-X", method, "-H", f"Destination: {BASE}/{tree}/provider-b/stolen.mp3", a_file)
        assert r.status == 403, (method, r.status)
    # COPY/MOVE of b's file into a's tree: refused on the Destination (mod_dav's subrequest).
    b_file = f"{BASE}/staging/provider-b/{b_song.name}"
    for method in ("COPY", "MOVE"):
        r = curl(site, "b", "-X", method, "-H", "Overwrite: T",
                 "-H", f"Destination: {BASE}/{tree}/provider-a/a-song.mp3", b_file)
        assert r.status in (401, 403), (method, r.status)
    assert {p.name: p.read_bytes() for p in a_dir.iterdir()} == before
    assert site.path(f"/var/lib/cmi/staging/provider-b/{b_song.name}").exists()
    assert not site.path(f"/var/lib/cmi/{tree}/provider-b/stolen.mp3").exists()


def test_a_manifest_reaches_only_its_own_staging_tree(site, files):
    a_song, _ = files
    p = site.root / "provider"
    # provider-b signs a manifest over a copy of provider-a's staged file (it knows the bytes).
    outbox = p / "b-outbox"
    (outbox / "provider-a").mkdir(parents=True, exist_ok=True)
    (outbox / "provider-a" / a_song.name).write_bytes(a_song.read_bytes())
    (outbox / a_song.name).write_bytes(a_song.read_bytes())
    for location, status, code in ((f"provider-a/{a_song.name}", 422, "content-missing"),  # = b's tree/provider-a/…
                                   (a_song.name, 422, "content-missing")):                 # = b's tree/a-song.mp3
        manifest = subprocess.run([BUILD_DIR / "tools/cmi-sign", "manifest", "--cert", p / "provider-b.pem",
                                   "--key", p / "provider-b.key", "--root", outbox, location],
                                  capture_output=True, check=True).stdout
        (p / "b-manifest.xml").write_bytes(manifest)
        r = curl(site, "b", "-H", "Content-Type: application/xml", "--data-binary", f"@{p / 'b-manifest.xml'}",
                 f"{BASE}/ingest")
        assert (r.status, r.problem()) == (status, code), r.body
    assert site.path(f"/var/lib/cmi/staging/provider-a/{a_song.name}").exists()
    assert not site.path("/var/lib/cmi/ingested/provider-b").exists()


def test_provider_a_works_in_its_own_tree(site, files):
    a_song, _ = files
    assert curl(site, "a", f"{BASE}/upload/provider-a/a-song.mp3").body == a_song.read_bytes()
    r = curl(site, "a", "-X", "PROPFIND", "-H", "Depth: 1", f"{BASE}/staging/provider-a/")
    assert r.status == 207 and b"a-song.mp3" in r.body
    r = curl(site, "a", "-X", "MOVE", "-H", f"Destination: {BASE}/staging/provider-a/renamed.mp3",
             f"{BASE}/staging/provider-a/a-song.mp3")
    assert r.status == 201, r.body
    r = curl(site, "a", "-X", "MOVE", "-H", f"Destination: {BASE}/staging/provider-a/a-song.mp3",
             f"{BASE}/staging/provider-a/renamed.mp3")
    assert r.status == 201, r.body


def test_which_responses_carry_a_receipt(site, files):
    a_song, _ = files
    # The handler ran (the begin record was durable first): a receipt, whatever the status.
    ok = curl(site, "a", f"{BASE}/upload/provider-a/a-song.mp3")
    missing = curl(site, "a", f"{BASE}/upload/provider-a/no-such.mp3")
    assert (ok.status, missing.status) == (200, 404)
    assert ok.headers.get("cmi-receipt") and missing.headers.get("cmi-receipt")
    # Refused before the handler: a transaction id, no receipt.
    for r in (curl(site, None, f"{BASE}/upload/provider-a/a-song.mp3"),           # 401
              curl(site, "b", f"{BASE}/upload/provider-a/a-song.mp3"),            # 403
              curl(site, "a", "-T", a_song, f"{BASE}/upload/provider-a/x.mp3")):  # 400 signature-required
        assert r.status in (400, 401, 403), r.status
        assert r.headers.get("cmi-transaction-id") and "cmi-receipt" not in r.headers, (r.status, r.headers)
    assert site.unexpected_errors() == []


@pytest.mark.parametrize("stem, client_sees, logged", [
    ("rogue", "tlsv1 alert unknown ca", "AH02039: Certificate Verification: Error (20)"),
    ("expired", "sslv3 alert certificate expired", "AH02039: Certificate Verification: Error (10)"),
])
def test_tls_handshake_failures_as_troubleshooting_md_says(site, stem, client_sees, logged):
    site.expected_errors.append(re.compile(re.escape(logged)))
    doc = (SOURCE_DIR / "docs" / "troubleshooting.md").read_text()
    assert client_sees in doc and logged in doc
    p = site.root / "provider"
    offset = site.error_log.stat().st_size
    out = subprocess.run([str(site.bin / "curl"), "-sS", "--cacert", str(p / "cmc-ca.pem"), "--cert",
                          str(p / f"{stem}.pem"), "--key", str(p / f"{stem}.key"), f"{BASE}/upload/provider-a/"],
                         env=site.env(), capture_output=True, text=True, timeout=60)
    assert out.returncode in (35, 56), out
    assert client_sees in out.stderr, out.stderr
    with open(site.error_log) as f:
        f.seek(offset)
        assert logged in f.read()
