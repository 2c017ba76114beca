"""Decoupled Upload manifests as a provider makes them: openssl cms for SignedHash,
the xmlsec1 CLI for an enveloped XML-DSig."""
import base64
import hashlib
import subprocess
from pathlib import Path

from .content import cms_sign

NS = "urn:mod-cmi:manifest:1"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


def cms_b64(data: bytes, cred, tmp) -> str:
    """A SignedHash: base64 of a detached CMS over `data` made by the openssl CLI."""
    return cms_sign(data, cred, tmp)


def digest_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def item(id_, loc, data=None, cms=None, digest=True):
    x = f'<ContentItem id="{id_}"><Location>{loc}</Location>'
    if digest and data is not None:
        x += f'<Digest algorithm="sha-256">{digest_b64(data)}</Digest>'
    if cms:
        x += f'<SignedHash format="cms">{cms}</SignedHash>'
    return x + "</ContentItem>"


def manifest(*items) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Manifest xmlns="{NS}">' + "".join(items) + "</Manifest>"


SIG_TEMPLATE = f"""<ds:Signature xmlns:ds="{DSIG}"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
<ds:Reference URI=""><ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"""


def xmlsec1_sign(xml: str, cred, tmp) -> str:
    """An enveloped signature made by the xmlsec1 CLI (independent of our code)."""
    tmpl, out = tmp / "tmpl.xml", tmp / "signed.xml"
    tmpl.write_text(xml.replace("</Manifest>", SIG_TEMPLATE + "</Manifest>"))
    subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{cred.key},{cred.cert}",
                    "--output", str(out), str(tmpl)], check=True, capture_output=True)
    return out.read_text()


def stage_file(staging: Path, name: str, data: bytes) -> Path:
    """A provider's staging tool writing a new file straight into the staging area
    (a file of that name is replaced, not rewritten: a snapshot of it stays as it was)."""
    path = staging / name
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    return path


class IngestRig:
    """A manifest location's pieces on the shared httpd, under one name: the CGI
    cgi-bin-<name>/ingest.sh made from `cgi` (its "{marker}" is a file it touches when
    it runs), and a staging root var/staging-<name>, both usable by the children."""

    def __init__(self, httpd, name: str, cgi: str):
        from .content import write_cgi, www_owned_dir
        self.httpd = httpd
        self.cgi = httpd.root / f"cgi-bin-{name}"
        self.marker = www_owned_dir(httpd.root / "var" / f"{name}-markers") / "ran"
        self.staging = www_owned_dir(httpd.root / "var" / f"staging-{name}")
        write_cgi(self.cgi / "ingest.sh", cgi.format(marker=self.marker))

    def stage(self, rel: str, data: bytes):
        """A provider's staging tool writing straight into the staging area."""
        path = self.staging / rel
        path.write_bytes(data)
        path.chmod(0o644)

    def post(self, where: str, body: str):
        import requests
        self.marker.unlink(missing_ok=True)
        return requests.post(self.httpd.url(f"{where}ingest.sh"), data=body.encode(),
                             headers={"Content-Type": "application/xml"}, verify=str(self.httpd.pki.ca_cert),
                             timeout=120)

    def refused(self, r, status: int, code: str) -> dict:
        from .problems import assert_problem
        doc = assert_problem(r, status, code)
        assert not self.marker.exists(), "the handler ran"
        return doc
