"""mod_cmi_content (CMI §6.4), Decoupled Upload: content staged by a WebDAV PUT, then a
manifest POSTed to a CMI location whose handler is a CGI standing in for the CMC ingest."""
import base64
import hashlib
import os
import subprocess
import threading
import time

import pytest
import requests

from cmi_e2e.audit import records_of
from cmi_e2e.clients import curl
from cmi_e2e.content import write_cgi, www_owned_dir
from cmi_e2e.manifest import NS, cms_b64, digest_b64, item, manifest, xmlsec1_sign
from cmi_e2e.problems import assert_problem


CONFIG = """
ScriptAlias /ingest/ "{cgi}/"
ScriptAlias /ingest-small/ "{cgi}/"
ScriptAlias /ingest-custom/ "{cgi}/"
ScriptAlias /ingest-user/ "{cgi}/"
ScriptAlias /ingest-bound/ "{cgi}/"
ScriptAlias /ingest-bound-expr/ "{cgi}/"
ScriptAlias /ingest-audit/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /ingest/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /ingest-audit/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIAudit On
    CMIAuditOperation ContentUpload
</Location>
<Location /ingest-small/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIManifestMaxSize 4096
</Location>
<Location /ingest-custom/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIManifestNamespace p urn:example:cmi-package
    CMIManifestItemPath "/p:Package/p:Assets/p:Asset"
    CMIManifestIdPath "p:Ref"
    CMIManifestLocationPath "p:File/@href"
    CMIManifestDigestPath "p:Hash"
    CMIManifestSignedHashPath "p:CmsSignature"
</Location>
<Location /ingest-user/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIStagingPerUser On
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /ingest-bound/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIContentBindSigner On
</Location>
<Location /ingest-bound-expr/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIContentBindSigner On
    CMIContentSignerIdentity "cmi-%{{SIGNER_S_DN_CN}}"
</Location>
"""

INGEST_CGI = """touch "{marker}"
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
echo "format=$CMI_CONTENT_FORMAT"
echo "signer=$CMI_CONTENT_SIGNER"
echo "items=$CMI_CONTENT_ITEMS"
echo "length=$CONTENT_LENGTH"
echo "body=$(sha256sum | cut -d' ' -f1)"
"""


@pytest.fixture(scope="module")
def server(httpd):
    root = httpd.root
    cgi = root / "cgi-bin-manifest"
    markers = www_owned_dir(root / "var" / "manifest-markers")
    staging = www_owned_dir(httpd.dav_dir / "staging")
    for d in ("provider-a", "provider-b", "provider-a/sub"):
        www_owned_dir(staging / d)
    write_cgi(cgi / "ingest.sh", INGEST_CGI.format(marker=markers / "ran"))
    htpasswd = root / "conf" / "htpasswd-manifest"
    sha = base64.b64encode(hashlib.sha1(b"secret").digest()).decode()
    htpasswd.write_text(f"provider-a:{{SHA}}{sha}\nprovider-b:{{SHA}}{sha}\ncmi-provider-a:{{SHA}}{sha}\n")
    httpd.audit_log = root / "logs" / "audit-manifest.log"
    httpd.configure(CONFIG.format(cgi=cgi, staging=staging, ca=httpd.pki.ca_cert, htpasswd=htpasswd),
                    server_snippet=f'CMIAuditLog "{httpd.audit_log}"\n')
    httpd.staging, httpd.manifest_marker = staging, markers / "ran"
    return httpd


# --- a provider's tools: mod_dav for staging, openssl and xmlsec1 for signing --------------

def stage(server, rel, data: bytes, tmp):
    """PUT via mod_dav into the staging area, as a provider would (curl -T)."""
    src = tmp / "stage.bin"
    src.write_bytes(data)
    r = curl(server.url(f"/dav/staging/{rel}"), "-T", str(src), ca=server.pki.ca_cert)
    assert r.status in (201, 204), r.body
    return server.staging / rel


def post(server, path, body, auth=None):
    if server.manifest_marker.exists():
        server.manifest_marker.unlink()
    data = body.encode() if isinstance(body, str) else body
    return requests.post(server.url(path), data=data, headers={"Content-Type": "application/xml"},
                         verify=str(server.pki.ca_cert), timeout=60, auth=auth)


def cgi_env(r) -> dict:
    return dict(line.split("=", 1) for line in r.text.splitlines() if "=" in line)


def refused(server, r, status, code):
    doc = assert_problem(r, status, code)
    assert not server.manifest_marker.exists(), "the CGI ran"
    return doc


# --- accepted ------------------------------------------------------------------------

def test_cms_manifest_for_dav_staged_files_reaches_the_cgi(server, tmp):
    song, cover = os.urandom(300_000), os.urandom(20_000)
    stage(server, "provider-a/song-1.mp3", song, tmp)
    stage(server, "provider-a/sub/cover-1.jpg", cover, tmp)
    body = manifest(item("song-1", "provider-a/song-1.mp3", song, cms_b64(song, server.pki.client, tmp)),
                    item("cover-1", "provider-a/sub/cover-1.jpg", cover, cms_b64(cover, server.pki.client, tmp)))
    r = post(server, "/ingest/ingest.sh", body)
    assert r.status_code == 200, r.text
    env = cgi_env(r)
    assert env["validation"] == "valid"
    assert env["format"] == "manifest"
    assert env["signer"] == "provider-a"
    assert env["body"] == hashlib.sha256(body.encode()).hexdigest()  # the manifest, unchanged
    assert env["length"] == str(len(body.encode()))
    items = env["items"]
    assert items.startswith('"song-1";result=valid;location="provider-a/song-1.mp3";alg=sha-256;digest=:')
    assert f"digest=:{digest_b64(cover)}:" in items and '"cover-1";result=valid' in items


def test_xmldsig_manifest_signed_with_the_xmlsec1_cli(server, tmp):
    data = os.urandom(50_000)
    stage(server, "provider-b/track.bin", data, tmp)
    signed = xmlsec1_sign(manifest(item("t-1", "provider-b/track.bin", data)), server.pki.client_b, tmp)
    r = post(server, "/ingest/ingest.sh", signed)
    assert r.status_code == 200, r.text
    env = cgi_env(r)
    assert env["validation"] == "valid" and env["signer"] == "provider-b"
    assert env["body"] == hashlib.sha256(signed.encode()).hexdigest()
    # the CLI agrees that the signature verifies
    (tmp / "check.xml").write_text(signed)
    subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(server.pki.ca_cert), str(tmp / "check.xml")],
                   check=True, capture_output=True)


def test_deployment_schema_through_xpath_settings(server, tmp):
    data = os.urandom(4096)
    stage(server, "provider-a/asset.bin", data, tmp)
    body = ('<p:Package xmlns:p="urn:example:cmi-package"><p:Assets><p:Asset><p:Ref>A-1</p:Ref>'
            f'<p:File href="provider-a/asset.bin"/><p:CmsSignature>{cms_b64(data, server.pki.client, tmp)}'
            '</p:CmsSignature></p:Asset></p:Assets></p:Package>')
    r = post(server, "/ingest-custom/ingest.sh", body)
    assert r.status_code == 200, r.text
    assert cgi_env(r)["items"].startswith('"A-1";result=valid')
    # the default schema is not what this location reads
    refused(server, post(server, "/ingest-custom/ingest.sh",
                         manifest(item("x", "provider-a/asset.bin", data, cms_b64(data, server.pki.client, tmp)))),
            400, "manifest-malformed")


def test_per_user_staging_directory(server, tmp):
    data = os.urandom(1000)
    stage(server, "provider-a/mine.bin", data, tmp)
    body = manifest(item("m", "mine.bin", data, cms_b64(data, server.pki.client, tmp)))
    r = post(server, "/ingest-user/ingest.sh", body, auth=("provider-a", "secret"))
    assert r.status_code == 200, r.text
    # provider-b's directory has no such file, and cannot reach provider-a's
    doc = refused(server, post(server, "/ingest-user/ingest.sh", body, auth=("provider-b", "secret")),
                  422, "content-missing")
    assert doc["items"][0]["code"] == "content-missing"
    refused(server, post(server, "/ingest-user/ingest.sh",
                         manifest(item("m", "../provider-a/mine.bin", data, cms_b64(data, server.pki.client, tmp))),
                         auth=("provider-b", "secret")), 400, "manifest-malformed")


def assert_bound(server, tmp, path, data, name, signer_user, other_user):
    """A manifest item signed by provider-a's certificate is accepted at `path` from
    `signer_user` and refused (signer-not-bound) from `other_user`."""
    stage(server, f"provider-a/{name}", data, tmp)
    body = manifest(item("b", f"provider-a/{name}", data, cms_b64(data, server.pki.client, tmp)))
    assert post(server, path, body, auth=(signer_user, "secret")).status_code == 200
    refused(server, post(server, path, body, auth=(other_user, "secret")), 403, "signer-not-bound")


def test_bound_signer(server, tmp):
    assert_bound(server, tmp, "/ingest-bound/ingest.sh", os.urandom(1000), "bound.bin", "provider-a", "provider-b")


# --- refused: the staged content ----------------------------------------------------------

def test_staged_file_changed_after_signing(server, tmp):
    data = os.urandom(100_000)
    stage(server, "provider-a/changed.bin", data, tmp)
    body = manifest(item("chg", "provider-a/changed.bin", data, cms_b64(data, server.pki.client, tmp)))
    changed = bytearray(data)
    changed[777] ^= 1
    stage(server, "provider-a/changed.bin", bytes(changed), tmp)
    doc = refused(server, post(server, "/ingest/ingest.sh", body), 422, "digest-mismatch")
    assert doc["items"] == [{"id": "chg", "result": "invalid", "code": "digest-mismatch",
                             "detail": doc["items"][0]["detail"]}]
    assert "chg" in doc["detail"]


def test_truncated_staged_file(server, tmp):
    data = os.urandom(200_000)
    path = stage(server, "provider-a/trunc.bin", data, tmp)
    body = manifest(item("tr", "provider-a/trunc.bin", data, cms_b64(data, server.pki.client, tmp)))
    os.truncate(path, 150_000)
    refused(server, post(server, "/ingest/ingest.sh", body), 422, "digest-mismatch")


def test_staged_file_truncated_while_it_is_hashed(server, tmp):
    # 1 GiB (sparse: zeros) takes the server a good fraction of a second to hash; the
    # file is cut to half while the request runs, through a descriptor opened before
    # (the staged name itself may already have been moved into the request's snapshot
    # directory). The read-based digest sees the short file: digest-mismatch, no crash
    # (an mmap-based reader would die of SIGBUS here).
    size = 1 << 30
    path = server.staging / "provider-a" / "growing.bin"
    with open(path, "wb") as f:
        f.truncate(size)
    os.chmod(path, 0o644)
    h = hashlib.sha256()
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        h.update(zeros)
    p7s = tmp / "growing.p7s"
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(path),
                    "-signer", str(server.pki.client.cert), "-inkey", str(server.pki.client.key), "-out", str(p7s)],
                   check=True, capture_output=True)
    body = manifest(f'<ContentItem id="big"><Location>provider-a/growing.bin</Location>'
                    f'<Digest algorithm="sha-256">{base64.b64encode(h.digest()).decode()}</Digest>'
                    f'<SignedHash format="cms">{base64.b64encode(p7s.read_bytes()).decode()}</SignedHash></ContentItem>')
    result = {}
    with open(path, "r+b") as writer:
        t = threading.Thread(target=lambda: result.setdefault("r", post(server, "/ingest/ingest.sh", body)))
        t.start()
        time.sleep(0.1)
        writer.truncate(size // 2)
        t.join(120)
    doc = refused(server, result["r"], 422, "digest-mismatch")
    assert doc["items"][0]["id"] == "big" and doc["items"][0]["code"] == "digest-mismatch"
    path.unlink()  # put back where it was staged: the manifest was refused
    r = post(server, "/ingest/ingest.sh", "<not-a-manifest")  # the child that hashed still serves
    assert r.status_code == 400


def test_missing_item(server, tmp):
    data = b"never staged"
    doc = refused(server, post(server, "/ingest/ingest.sh",
                               manifest(item("gone", "provider-a/none.bin", data, cms_b64(data, server.pki.client, tmp)))),
                  422, "content-missing")
    assert doc["items"][0]["id"] == "gone"


def test_one_bad_item_of_five_reports_all_five(server, tmp):
    items = []
    for i in range(5):
        data = os.urandom(5000 + i)
        stage(server, f"provider-a/mix-{i}.bin", data if i != 2 else data[::-1], tmp)
        items.append(item(f"mix-{i}", f"provider-a/mix-{i}.bin", data, cms_b64(data, server.pki.client, tmp)))
    doc = refused(server, post(server, "/ingest/ingest.sh", manifest(*items)), 422, "digest-mismatch")
    assert [(i["id"], i["result"]) for i in doc["items"]] == [
        ("mix-0", "valid"), ("mix-1", "valid"), ("mix-2", "invalid"), ("mix-3", "valid"), ("mix-4", "valid")]
    assert "1 of 5" in doc["detail"]


@pytest.mark.parametrize("loc", ["../../etc/passwd", "/etc/passwd", "provider-a/../../outside.bin",
                                 "../outside.bin"])
def test_paths_leaving_the_root_are_refused(server, tmp, loc):
    # A file outside the root whose digest matches the signed one is never read.
    secret = b"outside the staging root\n"
    (server.dav_dir / "outside.bin").write_bytes(secret)
    refused(server, post(server, "/ingest/ingest.sh",
                         manifest(item("trav", loc, secret, cms_b64(secret, server.pki.client, tmp)))),
            400, "manifest-malformed")


def test_symlinks_are_refused(server, tmp):
    secret = b"outside the staging root\n"
    outside = server.dav_dir / "outside-link-target.bin"
    outside.write_bytes(secret)
    link = server.staging / "provider-a" / "link-out.bin"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    doc = refused(server, post(server, "/ingest/ingest.sh",
                               manifest(item("ln", "provider-a/link-out.bin", secret,
                                             cms_b64(secret, server.pki.client, tmp)))), 403, "forbidden")
    assert doc["items"][0]["code"] == "forbidden"
    # a symlinked directory inside the root
    data = os.urandom(100)
    stage(server, "provider-a/sub/in-dir.bin", data, tmp)
    alias = server.staging / "alias"
    alias.unlink(missing_ok=True)
    alias.symlink_to(server.staging / "provider-a")
    refused(server, post(server, "/ingest/ingest.sh",
                         manifest(item("al", "alias/sub/in-dir.bin", data, cms_b64(data, server.pki.client, tmp)))),
            403, "forbidden")


# --- refused: signatures -----------------------------------------------------------------------

def test_bound_signer_uses_the_signer_identity_expression(server, tmp):
    # CMIContentSignerIdentity applies to manifest signers as to self-contained ones.
    assert_bound(server, tmp, "/ingest-bound-expr/ingest.sh", b"bound by expression", "bound-expr.bin",
                 "cmi-provider-a", "provider-a")


def test_untrusted_signers(server, tmp):
    data = os.urandom(2000)
    stage(server, "provider-a/rogue.bin", data, tmp)
    refused(server, post(server, "/ingest/ingest.sh",
                         manifest(item("r", "provider-a/rogue.bin", data, cms_b64(data, server.pki.untrusted_client, tmp)))),
            403, "signer-untrusted")
    signed = xmlsec1_sign(manifest(item("r", "provider-a/rogue.bin", data)), server.pki.untrusted_client, tmp)
    refused(server, post(server, "/ingest/ingest.sh", signed), 403, "signer-untrusted")


def test_unsigned_digest_is_not_enough(server, tmp):
    data = os.urandom(2000)
    stage(server, "provider-a/plain.bin", data, tmp)
    doc = refused(server, post(server, "/ingest/ingest.sh", manifest(item("p", "provider-a/plain.bin", data))),
                  400, "signature-required")
    assert doc["items"][0]["code"] == "signature-required"


def test_signature_wrapping_variants_are_refused(server, tmp):
    good, other = os.urandom(3000), os.urandom(3000)
    stage(server, "provider-a/wrap-good.bin", good, tmp)
    stage(server, "provider-a/wrap-other.bin", other, tmp)
    signed = xmlsec1_sign(manifest(item("w", "provider-a/wrap-good.bin", good)), server.pki.client, tmp)
    assert post(server, "/ingest/ingest.sh", signed).status_code == 200
    extra = signed.replace("<ContentItem ", item("evil", "provider-a/wrap-other.bin", other) + "<ContentItem ", 1)
    refused(server, post(server, "/ingest/ingest.sh", extra), 422, "signature-invalid")
    start, end = signed.index("<ContentItem"), signed.index("</ContentItem>") + len("</ContentItem>")
    signed_item = signed[start:end]
    moved = (signed[:start] + item("w", "provider-a/wrap-other.bin", other) + signed[end:]).replace(
        "</ds:Signature>", f"<ds:Object>{signed_item}</ds:Object></ds:Signature>")
    assert post(server, "/ingest/ingest.sh", moved).status_code in (400, 422)
    assert not server.manifest_marker.exists()
    duplicated = signed.replace("</Manifest>", signed_item + "</Manifest>")
    assert post(server, "/ingest/ingest.sh", duplicated).status_code in (400, 422)
    assert not server.manifest_marker.exists()
    retarget = signed.replace("provider-a/wrap-good.bin", "provider-a/wrap-other.bin")
    refused(server, post(server, "/ingest/ingest.sh", retarget), 422, "signature-invalid")


# --- refused: hostile XML ------------------------------------------------------------------

def test_external_entity_is_refused(server, tmp):
    xxe = ('<?xml version="1.0"?><!DOCTYPE Manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<Manifest xmlns="{NS}"><ContentItem id="a"><Location>&x;</Location></ContentItem></Manifest>')
    doc = refused(server, post(server, "/ingest/ingest.sh", xxe), 400, "manifest-malformed")
    assert "root:" not in doc["detail"]


def test_billion_laughs_is_refused(server):
    lol = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    lol += "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    lol += f']><Manifest xmlns="{NS}">&lol9;</Manifest>'
    refused(server, post(server, "/ingest/ingest.sh", lol), 400, "manifest-malformed")


def test_deep_nesting_is_refused(server):
    deep = f'<Manifest xmlns="{NS}">' + "<a>" * 10_000 + "</a>" * 10_000 + "</Manifest>"
    refused(server, post(server, "/ingest/ingest.sh", deep), 400, "manifest-malformed")


def test_manifest_over_the_limit(server, tmp):
    data = os.urandom(100)
    stage(server, "provider-a/small.bin", data, tmp)
    padding = "<!--" + "x" * 5000 + "-->"
    body = manifest(item("s", "provider-a/small.bin", data, cms_b64(data, server.pki.client, tmp)), padding)
    refused(server, post(server, "/ingest-small/ingest.sh", body), 413, "too-large")
    # the same without a Content-Length (chunked): stopped while reading
    r = curl(server.url("/ingest-small/ingest.sh"), "-H", "Transfer-Encoding: chunked", "-H",
             "Content-Type: application/xml", "--data-binary", "@-", ca=server.pki.ca_cert, data=body.encode())
    refused(server, r, 413, "too-large")
    assert post(server, "/ingest/ingest.sh", body).status_code == 200


@pytest.mark.parametrize("body", ["", "not xml at all", f'<Manifest xmlns="{NS}"/>', "<Manifest><a></Manifest>"])
def test_malformed_manifests(server, body):
    refused(server, post(server, "/ingest/ingest.sh", body), 400, "manifest-malformed")


def test_get_needs_no_manifest(server):
    r = requests.get(server.url("/ingest/ingest.sh"), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200
    assert cgi_env(r)["validation"] == ""


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("line,directive", [
    ("CMIManifestItemPath /m:Manifest[", "CMIManifestItemPath"),
    ("CMIManifestIdPath ''", "CMIManifestIdPath"),
    ("CMIManifestMaxSize 0", "CMIManifestMaxSize"),
    ("CMIManifestMaxSize lots", "CMIManifestMaxSize"),
    ("CMIManifestNamespace 1x urn:x", "CMIManifestNamespace"),
    ("CMIStagingRoot /nonexistent/staging", "CMIStagingRoot"),
    ("CMIDecoupledManifest maybe", "CMIDecoupledManifest"),
    ("CMIStagingSnapshot Sometimes", "CMIStagingSnapshot"),
    ("CMIStagingSnapshotDir /nonexistent/snapshots", "CMIStagingSnapshotDir"),
    ("CMIManifestMaxItems 0", "CMIManifestMaxItems"),
    ("CMIManifestMaxBytes 12Q", "CMIManifestMaxBytes"),
    ("CMIManifestMaxKeyInfoCertificates 65", "CMIManifestMaxKeyInfoCertificates"),
    ("CMIManifestMetadataPath /m:Manifest[", "CMIManifestMetadataPath"),
])
def test_configtest_names_the_directive(server, line, directive):
    r = server.configtest(f"<Location /x/>\n    {line}\n</Location>\n")
    assert r.returncode != 0
    assert directive in r.stderr, r.stderr


@pytest.mark.parametrize("snippet,fragments", [
    ("<Location /x/>\n    CMIDecoupledManifest On\n    CMIContentTrustAnchors {ca}\n</Location>\n",
     ["CMIDecoupledManifest On applies to <Location /x/>", "no CMIStagingRoot", "CMIStagingRoot /path/to/staging"]),
    ("<Location /x/>\n    CMIDecoupledManifest On\n    CMIStagingRoot {staging}\n</Location>\n",
     ["CMIDecoupledManifest On applies to <Location /x/>", "no CMIContentTrustAnchors",
      "CMIContentTrustAnchors /path/to/content-ca.pem"]),
])
def test_configtest_refuses_a_manifest_location_that_cannot_work(server, snippet, fragments):
    r = server.configtest(snippet.format(ca=server.pki.ca_cert, staging=server.staging))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    for f in fragments:
        assert f in out, (f, out)


def test_configtest_takes_manifest_settings_from_an_enclosing_location(server):
    r = server.configtest(f"<Location /x/y/>\n    CMIDecoupledManifest On\n</Location>\n"
                          f"<Location /x/>\n    CMIStagingRoot {server.staging}\n"
                          f"    CMIContentTrustAnchors {server.pki.ca_cert}\n</Location>\n")
    assert r.returncode == 0, r.stdout + r.stderr


# --- cmi-sign manifest --------------------------------------------------------------------------

def cmi_sign_manifest(*args) -> subprocess.CompletedProcess:
    build = os.environ.get("CMI_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    return subprocess.run([os.path.join(build, "tools", "cmi-sign"), "manifest", *args], capture_output=True, text=True)


XSD = os.path.join(os.environ.get("CMI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                   "docs", "schema", "cmi-manifest-1.xsd")


@pytest.mark.parametrize("extra", [[], ["--md", "sha512"], ["--sign-manifest"], ["--sign-manifest", "--no-cms"]])
def test_cmi_sign_manifest_is_accepted(server, tmp, extra):
    files = {"provider-b/tool/a.bin": os.urandom(70_000), "provider-b/tool/b c&d.bin": os.urandom(10)}
    www_owned_dir(server.staging / "provider-b" / "tool")
    for rel, data in files.items():
        stage(server, rel.replace(" ", "%20").replace("&", "%26"), data, tmp)
    cred = server.pki.client_b
    r = cmi_sign_manifest("--cert", str(cred.cert), "--key", str(cred.key), "--root", str(server.staging),
                          *extra, *files)
    assert r.returncode == 0, r.stderr
    (tmp / "m.xml").write_text(r.stdout)
    subprocess.run(["xmllint", "--noout", "--nonet", "--schema", XSD, str(tmp / "m.xml")], check=True,
                   capture_output=True)
    if "--sign-manifest" in extra:  # the xmlsec1 CLI verifies our signature
        subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(server.pki.ca_cert), str(tmp / "m.xml")],
                       check=True, capture_output=True)
    resp = post(server, "/ingest/ingest.sh", r.stdout)
    assert resp.status_code == 200, resp.text
    env = cgi_env(resp)
    assert env["validation"] == "valid" and env["signer"] == "provider-b"
    assert '"provider-b/tool/b c&d.bin";result=valid' in env["items"]
    # and once a staged file changes, the same manifest is refused naming that item
    stage(server, "provider-b/tool/a.bin", b"changed", tmp)
    doc = refused(server, post(server, "/ingest/ingest.sh", r.stdout), 422, "digest-mismatch")
    assert [i["id"] for i in doc["items"] if i["result"] == "invalid"] == ["provider-b/tool/a.bin"]


def test_cmi_sign_manifest_refuses_what_the_server_would(server, tmp):
    cred = server.pki.client
    link = server.staging / "provider-a" / "tool-link.bin"
    link.unlink(missing_ok=True)
    link.symlink_to(server.dav_dir / "outside.bin")
    for bad in ["../outside.bin", "provider-a/tool-link.bin", "provider-a/absent.bin", "/etc/passwd"]:
        r = cmi_sign_manifest("--cert", str(cred.cert), "--key", str(cred.key), "--root", str(server.staging), bad)
        assert r.returncode == 1 and r.stdout == "", bad
        assert "cmi-sign manifest:" in r.stderr
    r = cmi_sign_manifest("--cert", str(cred.cert), "--key", str(cred.key), "--root", str(server.staging),
                          "--no-cms", "provider-a/song-1.mp3")
    assert r.returncode == 1 and "--sign-manifest" in r.stderr


# --- mod_cmi_audit records the per-item results ---------------------------------------------

def test_audit_record_carries_the_items(server, tmp):
    data = os.urandom(30_000)
    stage(server, "provider-a/audited.bin", data, tmp)
    body = manifest(item("aud", "provider-a/audited.bin", data, cms_b64(data, server.pki.client, tmp)))
    r = post(server, "/ingest-audit/ingest.sh", body)
    assert r.status_code == 200, r.text
    begin, end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert end["ev"] == "end" and end["op"] == "ContentUpload"
    v = end["validation"]
    assert v["result"] == "valid" and v["format"] == "manifest" and v["signer"] == "provider-a"
    assert v["items"] == cgi_env(r)["items"]
    assert f"digest=:{digest_b64(data)}:" in v["items"]
    assert end["request"]["digest"] == "sha-256=:" + digest_b64(body.encode()) + ":"
    # a refusal is recorded with every item's result too
    stage(server, "provider-a/audited.bin", b"changed", tmp)
    r = post(server, "/ingest-audit/ingest.sh", body)
    assert_problem(r, 422, "digest-mismatch")
    _, end = records_of(server.audit_log, r.headers["CMI-Transaction-ID"])
    assert end["validation"]["result"] == "invalid"
    assert '"aud";result=digest-mismatch' in end["validation"]["items"]
    assert end["status"] == 422


def test_large_manifest_still_reaches_a_cgi(server, tmp):
    """1200 items: the full CMI_CONTENT_ITEMS would exceed what execve accepts for one
    environment string (128 KiB); the CGI still runs and gets the compact form."""
    d = www_owned_dir(server.staging / "provider-b" / "many")
    names = []
    for i in range(1200):
        (d / f"item-{i:05d}.bin").write_bytes(b"%d" % i)
        names.append(f"provider-b/many/item-{i:05d}.bin")
    cred = server.pki.client_b
    r = cmi_sign_manifest("--cert", str(cred.cert), "--key", str(cred.key), "--root", str(server.staging),
                          "--sign-manifest", "--no-cms", *names)
    assert r.returncode == 0, r.stderr
    resp = post(server, "/ingest/ingest.sh", r.stdout)
    assert resp.status_code == 200, resp.text[:500]
    env = cgi_env(resp)
    assert env["validation"] == "valid"
    items = env["items"].split(", ")
    assert len(items) == 1200
    assert items[7] == '"provider-b/many/item-00007.bin";result=valid'
