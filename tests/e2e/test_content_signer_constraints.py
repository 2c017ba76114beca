"""Issue 17 item 6: content signers must be fit to sign content.

An extended key usage, when the certificate has one, must include emailProtection,
codeSigning, documentSigning, anyExtendedKeyUsage or an OID of CMIContentSignerEKU — so
the server's own TLS certificate, from the same CA, cannot sign content. RSA keys under
2048 bits and EC curves under P-256 are refused; CMIContentCRL revokes. For CMS signers,
manifest signers (SignedHash and XML-DSig) and RFC 9421 keys given as certificates."""
import base64
import hashlib
import os

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ObjectIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU

from cmi_e2e.clients import curl
from cmi_e2e.content import cms_sign, write_cgi, www_owned_dir
from cmi_e2e.httpsig import public_pem, sign_request
from cmi_e2e.problems import assert_problem
from test_content_manifest import xmlsec1_sign  # the xmlsec1 CLI on an enveloped-signature template

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
PRIVATE_OID = ObjectIdentifier("1.3.6.1.4.1.99999.7.1")

CONFIG = """
<Location /dav/sc/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{anchors}"
    CMIContentSignerKeys "{keys}"
</Location>
<Location /dav/sc/clientauth/>
    CMIContentSignerEKU clientAuth
</Location>
<Location /dav/sc/private/>
    CMIContentSignerEKU 1.3.6.1.4.1.99999.7.1
</Location>
<Location /dav/sc/crl/>
    CMIContentCRL "{crl}"
</Location>
<Location /dav/sc/crl-expired/>
    CMIContentCRL "{crl_expired}"
</Location>
ScriptAlias /ingest-sc/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /ingest-sc/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{anchors}"
</Location>
"""

MANIFEST_CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "items=$CMI_CONTENT_ITEMS"
"""


@pytest.fixture(scope="module")
def server(httpd):
    pki, d = httpd.pki, httpd.pki.dir
    creds = {
        "clientauth": pki.issue("sc-clientauth", "sc-clientauth", [EKU.CLIENT_AUTH]),
        "email": pki.issue("sc-email", "sc-email", [EKU.EMAIL_PROTECTION]),
        "code": pki.issue("sc-code", "sc-code", [EKU.CODE_SIGNING]),
        "document": pki.issue("sc-document", "sc-document", [DOCUMENT_SIGNING]),
        "any": pki.issue("sc-any", "sc-any", [EKU.ANY_EXTENDED_KEY_USAGE]),
        "none": pki.issue("sc-none", "sc-none", None),
        "private": pki.issue("sc-private", "sc-private", [PRIVATE_OID]),
        "rsa1024": pki.issue("sc-rsa1024", "sc-rsa1024", [EKU.EMAIL_PROTECTION],
                             key=rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "rsa2048": pki.issue("sc-rsa2048", "sc-rsa2048", [EKU.EMAIL_PROTECTION],
                             key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "p224": pki.issue("sc-p224", "sc-p224", [EKU.EMAIL_PROTECTION], key=ec.generate_private_key(ec.SECP224R1())),
        "p384": pki.issue("sc-p384", "sc-p384", [EKU.EMAIL_PROTECTION], key=ec.generate_private_key(ec.SECP384R1())),
        "revoked": pki.issue("sc-revoked", "sc-revoked", [EKU.EMAIL_PROTECTION]),
    }
    other_ca = pki.new_ca("sc-other-ca", "mod_cmi other content CA")
    creds["other-ca"] = pki.issue("sc-other", "sc-other", [EKU.EMAIL_PROTECTION], issuer=other_ca)
    anchors = d / "sc-anchors.pem"
    anchors.write_bytes(pki.ca_cert.read_bytes() + (d / "sc-other-ca.pem").read_bytes())
    crl = pki.crl(d / "sc.crl.pem", revoked=[creds["revoked"]])
    crl_expired = pki.crl(d / "sc-expired.crl.pem", next_update_days=-1)
    # RFC 9421 signer keys: certificates (and bare public keys) as <keyid>.pem.
    keys = httpd.root / "conf" / "sc-keys"
    keys.mkdir(exist_ok=True)
    for keyid, src in (("hs-server", pki.server.cert), ("hs-email", creds["email"].cert),
                       ("hs-clientauth", creds["clientauth"].cert), ("hs-rsa1024", creds["rsa1024"].cert),
                       ("hs-revoked", creds["revoked"].cert)):
        (keys / f"{keyid}.pem").write_bytes(src.read_bytes())
    weak = {"hs-rsa1024-bare": rsa.generate_private_key(public_exponent=65537, key_size=1024),
            "hs-p224-bare": ec.generate_private_key(ec.SECP224R1())}
    for keyid, k in weak.items():
        (keys / f"{keyid}.pem").write_bytes(public_pem(k))
    cgi = httpd.root / "cgi-bin-sc"
    write_cgi(cgi / "ingest.sh", MANIFEST_CGI)
    staging = www_owned_dir(httpd.dav_dir / "sc-staging")
    sc = www_owned_dir(httpd.dav_dir / "sc")
    for sub in ("clientauth", "private", "crl", "crl-expired"):
        www_owned_dir(sc / sub)
    httpd.configure(CONFIG.format(anchors=anchors, keys=keys, crl=crl, crl_expired=crl_expired, cgi=cgi,
                                  staging=staging))
    httpd.sc, httpd.sc_creds, httpd.sc_staging, httpd.sc_weak = sc, creds, staging, weak
    return httpd


def put(server, path, body, headers):
    return requests.put(server.url(path), data=body, headers=headers, verify=str(server.pki.ca_cert), timeout=30)


def cms_put(server, tmp_path, path, cred, body=None):
    body = body if body is not None else os.urandom(3000)
    return put(server, path, body, {"CMI-Content-Signature": cms_sign(body, cred, tmp_path)})


# --- extended key usage -----------------------------------------------------------------

def test_tls_server_certificate_of_the_same_ca_cannot_sign_content(server, tmp_path):
    r = cms_put(server, tmp_path, "/dav/sc/by-server.bin", server.pki.server)
    doc = assert_problem(r, 403, "signer-untrusted")
    assert "extended key usage" in doc["detail"] and "serverAuth" in doc["detail"]
    assert not (server.sc / "by-server.bin").exists()


@pytest.mark.parametrize("name", ["email", "code", "document", "any", "none"])
def test_content_signing_purposes_are_accepted(server, tmp_path, name):
    r = cms_put(server, tmp_path, f"/dav/sc/eku-{name}.bin", server.sc_creds[name])
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("name,where", [("clientauth", "clientauth"), ("private", "private")])
def test_other_purposes_only_where_configured(server, tmp_path, name, where):
    r = cms_put(server, tmp_path, f"/dav/sc/{name}.bin", server.sc_creds[name])
    assert_problem(r, 403, "signer-untrusted")
    r = cms_put(server, tmp_path, f"/dav/sc/{where}/{name}.bin", server.sc_creds[name])
    assert r.status_code == 201, r.text
    # A CMIContentSignerEKU adds to the content-signing purposes; the server's is still refused.
    assert_problem(cms_put(server, tmp_path, f"/dav/sc/{where}/srv.bin", server.pki.server), 403, "signer-untrusted")


# --- key strength ------------------------------------------------------------------------

@pytest.mark.parametrize("name,ok", [("rsa1024", False), ("p224", False), ("rsa2048", True), ("p384", True)])
def test_weak_keys_are_refused(server, tmp_path, name, ok):
    r = cms_put(server, tmp_path, f"/dav/sc/key-{name}.bin", server.sc_creds[name])
    if ok:
        assert r.status_code == 201, r.text
    else:
        doc = assert_problem(r, 403, "signer-untrusted")
        assert ("2048" in doc["detail"]) if name.startswith("rsa") else ("P-256" in doc["detail"])


# --- CRL -----------------------------------------------------------------------------------

def test_revoked_signer_is_refused_where_a_crl_is_configured(server, tmp_path):
    r = cms_put(server, tmp_path, "/dav/sc/crl/revoked.bin", server.sc_creds["revoked"])
    doc = assert_problem(r, 403, "signer-untrusted")
    assert "revoked" in doc["detail"]
    assert cms_put(server, tmp_path, "/dav/sc/revoked-no-crl.bin", server.sc_creds["revoked"]).status_code == 201
    assert cms_put(server, tmp_path, "/dav/sc/crl/good.bin", server.sc_creds["email"]).status_code == 201


def test_signer_whose_issuer_has_no_crl_in_the_file_is_refused(server, tmp_path):
    r = cms_put(server, tmp_path, "/dav/sc/crl/other.bin", server.sc_creds["other-ca"])
    doc = assert_problem(r, 403, "signer-untrusted")
    assert "CRL" in doc["detail"]
    assert cms_put(server, tmp_path, "/dav/sc/other.bin", server.sc_creds["other-ca"]).status_code == 201


def test_expired_crl_refuses(server, tmp_path):
    r = cms_put(server, tmp_path, "/dav/sc/crl-expired/x.bin", server.sc_creds["email"])
    doc = assert_problem(r, 403, "signer-untrusted")
    assert "CRL" in doc["detail"]


def test_configtest_names_a_bad_crl_or_oid(server, tmp_path):
    bad = tmp_path / "not-a-crl.pem"
    bad.write_text("nothing here\n")
    for line, fragment in ((f'CMIContentCRL "{bad}"', "CMIContentCRL"),
                           ("CMIContentSignerEKU not-an-oid", "CMIContentSignerEKU"),
                           # any TLS server certificate of the CAs would sign content again
                           ("CMIContentSignerEKU serverAuth", "would let any TLS server certificate"),
                           ("CMIContentSignerEKU 1.3.6.1.5.5.7.3.1", "would let any TLS server certificate")):
        server.configtest_refuses(fragment, snippet=f"<Location /x/>\n    {line}\n</Location>\n")


# --- RFC 9421 keys given as certificates ---------------------------------------------------

def hs_put(server, keyid, key, path="/dav/sc/hs.bin"):
    body = os.urandom(1000)
    # A P-224 key signs as if it were P-256: it must be refused for its size, not its alg.
    alg = "rsa-v1_5-sha256" if isinstance(key, rsa.RSAPrivateKey) else \
        ("ecdsa-p256-sha256" if isinstance(key, ec.EllipticCurvePrivateKey) else None)
    headers = sign_request("PUT", server.url(path), body, key, keyid, alg,
                           components=("@method", "@target-uri", "content-digest"))
    return put(server, path, body, headers)


def private_key(cred):
    return serialization.load_pem_private_key(cred.key.read_bytes(), None)


@pytest.mark.parametrize("keyid,cred,ok", [
    ("hs-server", "server", False), ("hs-clientauth", "clientauth", False), ("hs-email", "email", True),
    ("hs-rsa1024", "rsa1024", False)])
def test_http_signature_key_certificates_must_be_fit(server, keyid, cred, ok):
    c = server.pki.server if cred == "server" else server.sc_creds[cred]
    r = hs_put(server, keyid, private_key(c), path=f"/dav/sc/{keyid}.bin")
    if ok:
        assert r.status_code == 201, r.text
    else:
        assert_problem(r, 403, "signer-untrusted")


@pytest.mark.parametrize("keyid", ["hs-rsa1024-bare", "hs-p224-bare"])
def test_http_signature_weak_bare_keys_are_refused(server, keyid):
    r = hs_put(server, keyid, server.sc_weak[keyid], path=f"/dav/sc/{keyid}.bin")
    assert_problem(r, 403, "signer-untrusted")


def test_http_signature_revoked_key_certificate_is_refused(server):
    r = hs_put(server, "hs-revoked", private_key(server.sc_creds["revoked"]), path="/dav/sc/crl/hs-revoked.bin")
    assert_problem(r, 403, "signer-untrusted")


# --- manifest signers --------------------------------------------------------------------

def stage(server, name, data):
    (server.sc_staging / name).write_bytes(data)


def manifest_item(data, cms=None):
    x = '<ContentItem id="i1"><Location>item.bin</Location>'
    x += f'<Digest algorithm="sha-256">{base64.b64encode(hashlib.sha256(data).digest()).decode()}</Digest>'
    if cms:
        x += f'<SignedHash format="cms">{cms}</SignedHash>'
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Manifest xmlns="urn:mod-cmi:manifest:1">' + x +
            "</ContentItem></Manifest>")


def post_manifest(server, xml):
    return requests.post(server.url("/ingest-sc/ingest.sh"), data=xml.encode(),
                         headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=30)


@pytest.mark.parametrize("cred,ok", [("server", False), ("email", True)])
def test_manifest_signed_hash_signer_must_be_fit(server, tmp_path, cred, ok):
    data = os.urandom(2000)
    stage(server, "item.bin", data)
    c = server.pki.server if cred == "server" else server.sc_creds[cred]
    r = post_manifest(server, manifest_item(data, cms_sign(data, c, tmp_path)))
    if ok:
        assert r.status_code == 200, r.text
    else:
        doc = assert_problem(r, 403, "signer-untrusted")
        assert doc["items"][0]["code"] == "signer-untrusted"


@pytest.mark.parametrize("cred,ok", [("server", False), ("email", True)])
def test_manifest_xmldsig_signer_must_be_fit(server, tmp_path, cred, ok):
    data = os.urandom(2000)
    stage(server, "item.bin", data)
    c = server.pki.server if cred == "server" else server.sc_creds[cred]
    r = post_manifest(server, xmlsec1_sign(manifest_item(data), c, tmp_path))
    if ok:
        assert r.status_code == 200, r.text
    else:
        assert_problem(r, 403, "signer-untrusted")


def test_curl_upload_by_clientauth_certificate_is_refused(server, tmp_path):
    # The same as a provider would do it, with curl.
    body = os.urandom(1000)
    (tmp_path / "b").write_bytes(body)
    header = cms_sign(body, server.sc_creds["clientauth"], tmp_path)
    r = curl(server.url("/dav/sc/curl.bin"), "-T", str(tmp_path / "b"), "-H", f"CMI-Content-Signature: {header}",
             "--http1.1", ca=server.pki.ca_cert)
    assert_problem(r, 403, "signer-untrusted")
