"""mod_cmi_content (issue 17 item 4): amplification. Each distinct staged file is read
once per manifest however many items name it, and the work a manifest can cause is
bounded: items (CMIManifestMaxItems), staged bytes (CMIManifestMaxBytes) and the
certificates a manifest signature's KeyInfo may make the server try
(CMIManifestMaxKeyInfoCertificates)."""
import os
import re

import pytest

from cmi_e2e.manifest import IngestRig, cms_b64, item, manifest, xmlsec1_sign

CONFIG = """
ScriptAlias /lim/ "{cgi}/"
ScriptAlias /lim-small/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /lim/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    LogLevel cmi_content:info
</Location>
<Location /lim-small/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIManifestMaxItems 5
    CMIManifestMaxBytes 1M
    CMIManifestMaxKeyInfoCertificates 2
</Location>
"""

CGI = """touch "{marker}"
cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "items=$CMI_CONTENT_ITEMS"
"""


@pytest.fixture(scope="module")
def server(httpd):
    rig = IngestRig(httpd, "limits", CGI)
    httpd.configure(CONFIG.format(cgi=rig.cgi, staging=rig.staging, ca=httpd.pki.ca_cert))
    return rig


def test_300_items_naming_one_20_mb_file_read_it_once(server, tmp):
    # The amplification of the issue: today each item hashed the whole file again.
    data = os.urandom(20 << 20)
    server.stage("big.bin", data)
    cms = cms_b64(data, server.httpd.pki.client, tmp)
    body = manifest(*(item(f"copy-{i}", "big.bin", cms=cms, digest=False) for i in range(300)))
    offset = server.httpd.log_size()
    r = server.post("/lim/", body)
    assert r.status_code == 200, r.text[:300]
    paths = re.findall(r';path="([^"]*)"', r.text)
    assert len(paths) == 300 and len(set(paths)) == 1  # one snapshot for all of them
    assert f"manifest of 300 items: 1 distinct staged files read, {20 << 20} bytes" in server.httpd.log_since(offset)


def test_items_per_manifest_are_bounded(server, tmp):
    data = b"small"
    server.stage("small.bin", data)
    cms = cms_b64(data, server.httpd.pki.client, tmp)
    doc = server.refused(server.post("/lim-small/", manifest(*(item(f"i{i}", "small.bin", data, cms)
                                                                  for i in range(6)))), 413, "too-large")
    assert "CMIManifestMaxItems" in doc["detail"]
    assert server.post("/lim-small/", manifest(*(item(f"i{i}", "small.bin", data, cms) for i in range(5)))).status_code == 200


def test_staged_bytes_per_manifest_are_bounded(server, tmp):
    a, b = os.urandom(600 << 10), os.urandom(600 << 10)
    server.stage("a.bin", a)
    server.stage("b.bin", b)
    ca, cb = cms_b64(a, server.httpd.pki.client, tmp), cms_b64(b, server.httpd.pki.client, tmp)
    doc = server.refused(server.post("/lim-small/", manifest(item("a", "a.bin", a, ca), item("b", "b.bin", b, cb))),
                  413, "too-large")
    assert [i["result"] for i in doc["items"]] == ["valid", "invalid"]
    assert "CMIManifestMaxBytes" in doc["items"][1]["detail"]
    # one file named twice counts once
    assert server.post("/lim-small/", manifest(item("a", "a.bin", a, ca), item("a2", "a.bin", a, ca))).status_code == 200


def with_certificates(signed: str, n: int) -> str:
    """The signed manifest with its KeyInfo carrying n certificates (copies of the
    signer's: KeyInfo is outside what the signature covers)."""
    cert = re.search(r"<ds:X509Certificate>.*?</ds:X509Certificate>", signed, re.S).group(0)
    return signed.replace(cert, cert * n, 1)


def test_keyinfo_certificates_tried_are_bounded(server, tmp):
    data = os.urandom(2000)
    server.stage("dsig.bin", data)
    signed = xmlsec1_sign(manifest(item("d", "dsig.bin", data)), server.httpd.pki.client, tmp)
    assert server.post("/lim/", with_certificates(signed, 4)).status_code == 200  # the default: 4
    doc = server.refused(server.post("/lim/", with_certificates(signed, 5)), 400, "signature-malformed")
    assert "CMIManifestMaxKeyInfoCertificates" in doc["detail"]
    assert server.post("/lim-small/", with_certificates(signed, 2)).status_code == 200
    server.refused(server.post("/lim-small/", with_certificates(signed, 3)), 400, "signature-malformed")
