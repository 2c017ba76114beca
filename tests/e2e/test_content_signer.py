"""mod_cmi_content: CMIContentSignerIdentity (ap_expr over SIGNER_* of the CMS signer
certificate) with CMIContentBindSigner, and the configuration check of `apache2 -t`."""
import base64
import hashlib
import os
import subprocess

import pytest
import requests

from cmi_e2e.content import cms_sign, write_cgi, www_owned_dir
from cmi_e2e.httpsig import new_key, public_pem, sign_request
from cmi_e2e.problems import assert_problem

CONFIG = """
<Location /dav/ident/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
    AuthType Basic
    AuthName "cmi-ident"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    CMIContentBindSigner On
    CMIContentSignerIdentity "%{{SIGNER_SAN_Email_0}}"
</Location>
<Location /dav/ident/org/>
    CMIContentSignerIdentity "%{{SIGNER_S_DN_O}}/%{{SIGNER_S_DN_CN}}"
</Location>
ScriptAlias /cgi-ident/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /cgi-ident/>
    CMIContentValidation Required
    CMIContentFormats cms
    CMIContentTrustAnchors "{ca}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
    CMIContentSignerIdentity "%{{SIGNER_S_DN_OU}} %{{SIGNER_S_DN_OU_1}} %{{SIGNER_I_DN_CN}} %{{SIGNER_M_SERIAL}}"
</Location>
"""

ENV_CGI = """cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "signer=$CMI_CONTENT_SIGNER"
echo "validation=$CMI_CONTENT_VALIDATION"
"""


class Cred:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key


def issue(pki, directory, stem, subject, san=None, serial=4242):
    """A signer certificate from the test CA, made with the openssl CLI."""
    key, csr, cert, ext = (directory / f"{stem}{s}" for s in (".key", ".csr", ".pem", ".ext"))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-subj", subject, "-out", str(csr)], check=True, capture_output=True)
    lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature"]
    if san:
        lines.append(f"subjectAltName={san}")
    ext.write_text("\n".join(lines) + "\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key),
                    "-set_serial", str(serial), "-days", "5", "-extfile", str(ext), "-out", str(cert)],
                   check=True, capture_output=True)
    return Cred(cert, key)


@pytest.fixture(scope="module")
def server(httpd, tmp_path_factory):
    work = tmp_path_factory.mktemp("ident")
    root = httpd.root
    keys = root / "conf" / "ident-keys"
    keys.mkdir(exist_ok=True)
    bot_key = new_key("ed25519")
    (keys / "song-bot.pem").write_bytes(public_pem(bot_key))
    htpasswd = root / "conf" / "htpasswd-ident"
    sha = base64.b64encode(hashlib.sha1(b"secret").digest()).decode()
    users = ["uploads@acme.example", "Acme Music/song-bot", "provider-a", "song-bot"]
    htpasswd.write_text("".join(f"{u}:{{SHA}}{sha}\n" for u in users))
    cgi = root / "cgi-bin-ident"
    write_cgi(cgi / "env.sh", ENV_CGI)
    spool = www_owned_dir(root / "var" / "spool-ident")
    www_owned_dir(httpd.dav_dir / "ident")
    www_owned_dir(httpd.dav_dir / "ident" / "org")
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=keys, htpasswd=htpasswd, cgi=cgi, spool=spool))
    httpd.ident_bot = issue(httpd.pki, work, "bot", "/O=Acme Music/OU=uploads/OU=eu/CN=song-bot",
                            san="email:uploads@acme.example,DNS:bot.acme.example")
    httpd.ident_work = work
    httpd.ident_key = bot_key
    return httpd


def put(server, path, data, headers, user):
    return requests.put(server.url(path), data=data, headers=headers, auth=(user, "secret"),
                        verify=str(server.pki.ca_cert), timeout=30)


def test_identity_from_san_email_is_bound_to_the_user(server, tmp_path):
    data = os.urandom(4000)
    header = {"CMI-Content-Signature": cms_sign(data, server.ident_bot, tmp_path)}
    r = put(server, "/dav/ident/a.bin", data, header, "uploads@acme.example")
    assert r.status_code == 201, r.text
    # The certificate's CN is not the identity here.
    r = put(server, "/dav/ident/b.bin", data, header, "song-bot")
    doc = assert_problem(r, 403, "signer-not-bound")
    assert "uploads@acme.example" in doc["detail"]
    assert not (server.dav_dir / "ident" / "b.bin").exists()


def test_certificate_without_the_variable_is_never_bound(server, tmp_path):
    # pki.client (CN provider-a) has no e-mail SAN: its identity is empty, which matches nobody.
    data = b"no san"
    header = {"CMI-Content-Signature": cms_sign(data, server.pki.client, tmp_path)}
    r = put(server, "/dav/ident/c.bin", data, header, "provider-a")
    assert_problem(r, 403, "signer-not-bound")


def test_inner_location_expression_from_subject_fields(server, tmp_path):
    data = b"org"
    header = {"CMI-Content-Signature": cms_sign(data, server.ident_bot, tmp_path)}
    r = put(server, "/dav/ident/org/d.bin", data, header, "Acme Music/song-bot")
    assert r.status_code == 201, r.text
    r = put(server, "/dav/ident/org/e.bin", data, header, "uploads@acme.example")
    assert_problem(r, 403, "signer-not-bound")


def test_rfc9421_signer_identity_is_the_keyid(server):
    body = b"keyid"
    url = server.url("/dav/ident/f.bin")
    headers = sign_request("PUT", url, body, server.ident_key, "song-bot", "ed25519")
    assert put(server, "/dav/ident/f.bin", body, headers, "song-bot").status_code == 201
    headers = sign_request("PUT", url, body, server.ident_key, "song-bot", "ed25519")
    assert_problem(put(server, "/dav/ident/f.bin", body, headers, "uploads@acme.example"), 403, "signer-not-bound")


def test_cgi_sees_the_identity_and_repeated_attributes(server, tmp_path):
    data = os.urandom(3000)
    header = {"CMI-Content-Signature": cms_sign(data, server.ident_bot, tmp_path)}
    r = requests.post(server.url("/cgi-ident/env.sh"), data=data, headers=header,
                      verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert "signer=uploads eu mod_cmi test CA 1092\n" in r.text, r.text  # 4242 = 0x1092
    assert "validation=valid" in r.text


# --- apache2 -t ------------------------------------------------------------------------

@pytest.mark.parametrize("snippet, fragments", [
    ("<Location /x>\n    CMIContentValidation Required\n</Location>",
     ["<Location /x>", "CMIContentTrustAnchors /path/to/content-ca.pem", "CMIContentSignerKeys /path/to/signer-keys"]),
    ("<Location /x>\n    CMIContentValidation Optional\n    CMIContentFormats http-signature\n</Location>",
     ["CMIContentValidation Optional applies to <Location /x> and CMIContentFormats lists http-signature",
      "no CMIContentSignerKeys applies there",
      "CMIContentFormats cms"]),
    ("CMIContentValidation Required\n<Location /y>\n    CMIContentTrustAnchors {ca}\n</Location>",
     ["applies to the server configuration", "neither CMIContentTrustAnchors nor CMIContentSignerKeys"]),
    ("<Location /a>\n    CMIContentTrustAnchors {ca}\n    CMIContentSignerKeys /etc\n</Location>\n"
     "<Location /b>\n    CMIContentValidation Required\n</Location>",
     ["<Location /b>", "neither CMIContentTrustAnchors"]),
    ("<Location /x>\n    CMIContentValidation Required\n    CMIContentFormats cms http-signature\n"
     "    CMIContentTrustAnchors {ca}\n</Location>",
     ["CMIContentFormats lists http-signature", "no CMIContentSignerKeys applies there"]),
    ('<Location /x>\n    CMIContentSignerIdentity "%{SIGNER_S_DN_XYZ}"\n</Location>',
     ["CMIContentSignerIdentity", "SIGNER_S_DN_XYZ", "%{SIGNER_S_DN_CN}"]),
    ('<Location /x>\n    CMIContentSignerIdentity "%{SIGNER_S_DN_CN"\n</Location>',
     ["CMIContentSignerIdentity", "cannot parse"]),
])
def test_unworkable_configuration_fails_configtest(httpd, snippet, fragments):
    httpd.configtest_refuses(*fragments, snippet=snippet.replace("{ca}", str(httpd.pki.ca_cert)))


@pytest.mark.parametrize("snippet", [
    # Anchors and keys from the server configuration.
    "CMIContentTrustAnchors {ca}\nCMIContentSignerKeys /etc\n<Location /x>\n    CMIContentValidation Required\n</Location>",
    # From an enclosing Location, written after the inner one.
    "<Location /x/y>\n    CMIContentValidation Required\n</Location>\n"
    "<Location /x>\n    CMIContentTrustAnchors {ca}\n    CMIContentSignerKeys /etc\n</Location>",
    # A <Directory> may supply them (its reach is not known from the configuration).
    "<Directory /srv>\n    CMIContentTrustAnchors {ca}\n    CMIContentSignerKeys /etc\n</Directory>\n"
    "<Location /x>\n    CMIContentValidation Required\n</Location>",
    # Only the format in use needs its setting; by default, the formats with keys are offered.
    "<Location /x>\n    CMIContentValidation Required\n    CMIContentTrustAnchors {ca}\n</Location>",
    "<Location /x>\n    CMIContentValidation Required\n    CMIContentFormats cms\n    CMIContentTrustAnchors {ca}\n"
    "</Location>",
    # Off needs nothing; so does the default.
    "<Location /x>\n    CMIContentValidation Off\n    CMIContentBindSigner On\n</Location>",
    '<Location /x>\n    CMIContentSignerIdentity "%{SIGNER_S_DN_O}/%{SIGNER_SAN_Email_0}/%{SSL_CLIENT_S_DN_CN}"\n'
    "</Location>",
])
def test_workable_configuration_passes_configtest(httpd, snippet):
    result = httpd.configtest(snippet=snippet.replace("{ca}", str(httpd.pki.ca_cert)))
    assert result.returncode == 0, result.stdout + result.stderr
