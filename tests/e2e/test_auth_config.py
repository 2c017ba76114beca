"""Bad mod_cmi_auth configuration fails `apache2 -t` with a message naming the directive and the fix."""
import pytest


def loc(body):
    return f"<Location /x>\nAuthType CMI\n{body}\nRequire valid-user\n</Location>"


@pytest.mark.parametrize("server_snippet, directive, fragment", [
    (loc("CMIAuthMechanisms cert kerberos"), "CMIAuthMechanisms", "use any of cert saml digest basic"),
    (loc("CMIAuthMechanisms cert cert"), "CMIAuthMechanisms", "listed twice"),
    (loc("CMIAuthMechanisms"), "CMIAuthMechanisms", "needs at least one"),
    (loc('CMIAuthCertUser "%{SSL_CLIENT_S_DN_CN"'), "CMIAuthCertUser", "is not a string expression"),
    (loc("CMIAuthProvider nosuchprovider"), "CMIAuthProvider", "is not a loaded authn provider"),
    (loc("CMIAuthDigestAlgorithms SHA-512-256"), "CMIAuthDigestAlgorithms", "use SHA-256 and/or MD5"),
    (loc("CMIAuthDigestAlgorithms MD5-sess"), "CMIAuthDigestAlgorithms", "use SHA-256 and/or MD5"),
    (loc("CMIAuthDigestNonceLifetime 0"), "CMIAuthDigestNonceLifetime", "from 1 to 86400"),
    (loc("CMIAuthDigestNonceLifetime 5m"), "CMIAuthDigestNonceLifetime", "from 1 to 86400"),
    ("CMIAuthReplayCache nosuchcache:x", "CMIAuthReplayCache", "cannot keep replay entries; use shmcb"),
    ("CMIAuthReplayCache shmcb:/tmp/x(100)", "CMIAuthReplayCache", "must be from 8192"),
    ("CMIAuthReplayQuota 0", "CMIAuthReplayQuota", "use 1 to 100000000"),
    ("CMIAuthDigestNonceSecret /nonexistent/secret", "CMIAuthDigestNonceSecret", "openssl rand -hex 32"),
    (loc("CMIAuthReplayCache shmcb"), "CMIAuthReplayCache", "not allowed"),
    (loc("Require cmi-mechanism cert password"), "cmi-mechanism", "use any of cert saml digest basic"),
    (loc("Require cmi-saml-attribute role"), "cmi-saml-attribute", "NAME VALUE"),
    (loc("CMISAMLIdPMetadata /nonexistent/idp.xml"), "CMISAMLIdPMetadata", "cannot read"),
    (loc("CMISAMLIdPMetadata /etc/hostname"), "CMISAMLIdPMetadata", "not well-formed XML"),
    (loc("CMISAMLClockSkew -5"), "CMISAMLClockSkew", "seconds from 0 to 3600"),
    (loc("CMISAMLRecipient http://cmc.example/cmi"), "CMISAMLRecipient", "is not an https URL"),
    (loc("CMISAMLRecipient /cmi"), "CMISAMLRecipient", "is not an https URL"),
    (loc("CMISAMLClockSkew 1h"), "CMISAMLClockSkew", "seconds from 0 to 3600"),
    (loc('CMISAMLSPEntityID ""'), "CMISAMLSPEntityID", "entity id"),
    (loc("CMISAMLOneTimeUse sometimes"), "CMISAMLOneTimeUse", "On or Off"),
    (loc("CMISAMLHolderOfKey yes-please"), "CMISAMLHolderOfKey", "On or Off"),
])


def test_bad_configuration_is_refused_at_startup(httpd, server_snippet, directive, fragment):
    httpd.configtest_refuses(directive, fragment, server_snippet=server_snippet)


@pytest.mark.parametrize("metadata, fragment", [
    ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp">'
     '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
     "</md:EntityDescriptor>", "describes no identity provider"),
    ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp">'
     '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
     "</md:EntityDescriptor>", "has no signing certificate"),
    ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp">'
     '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
     '<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
     "<ds:X509Certificate>bm90IGEgY2VydGlmaWNhdGU=</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
     "</md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>", "cannot be loaded"),
    ('<!DOCTYPE md [<!ENTITY x "y">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>',
     "without a DOCTYPE"),
])
def test_bad_idp_metadata_is_refused_at_startup(httpd, metadata, fragment):
    path = httpd.root / "conf" / "bad-idp-metadata.xml"
    path.write_text(metadata)
    httpd.configtest_refuses("CMISAMLIdPMetadata", fragment, server_snippet=loc(f'CMISAMLIdPMetadata "{path}"'))


def test_good_configuration_passes(httpd, tmp_path):
    from cmi_e2e.saml import Idp
    idp = Idp(httpd.root / "conf", "https://idp.example/config-test", "config-idp")
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    result = httpd.configtest(server_snippet=f"""
CMIAuthReplayCache shmcb
CMIAuthDigestNonceSecret "{secret}"
<Location /x>
    AuthType CMI
    AuthName "CMI"
    CMIAuthMechanisms digest cert basic saml
    CMIAuthCertUser "%{{SSL_CLIENT_S_DN_Email}}"
    CMIAuthProvider file
    CMIAuthDigestAlgorithms SHA-256
    CMIAuthDigestNonceLifetime 600
    CMISAMLIdPMetadata "{idp.metadata_path}"
    CMISAMLSPEntityID https://cmc.example/sp
    CMISAMLClockSkew 0
    CMISAMLUserAttribute mail
    CMISAMLOneTimeUse On
    CMISAMLHolderOfKey off
    <RequireAll>
        Require cmi-mechanism cert digest
        Require cmi-saml-attribute role admin "content provider"
    </RequireAll>
</Location>
""")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Syntax OK" in result.stdout + result.stderr


# --- .htaccess: the directives are server/directory configuration only ---------------

HTACCESS_SNIPPET = """
<Directory "{docroot}/htaccess">
    AllowOverride AuthConfig
</Directory>
"""


@pytest.fixture
def htaccess(httpd):
    base = httpd.docroot / "htaccess"
    for d in ("policy", "require"):
        (base / d).mkdir(parents=True, exist_ok=True)
        (base / d / "hello.txt").write_text("htaccess secret\n")
    httpd.configure(HTACCESS_SNIPPET.format(docroot=httpd.docroot))
    return base


@pytest.mark.parametrize("line", [
    "CMIAuthMechanisms basic",
    "CMIAuthProvider file",
    "CMIAuthCertUser \"%{SSL_CLIENT_S_DN_O}\"",
    "CMIAuthDigestNonceLifetime 86400",
    "CMISAMLClockSkew 3600",
    "CMISAMLOneTimeUse Off",
])
def test_directives_are_not_allowed_in_htaccess(httpd, htaccess, line):
    import requests
    (htaccess / "policy" / ".htaccess").write_text(f"AuthType CMI\n{line}\nRequire valid-user\n")
    httpd.expect_error(r"\.htaccess: \S+ not allowed here")
    offset = httpd.log_size()
    r = requests.get(httpd.url("/htaccess/policy/hello.txt"), verify=str(httpd.pki.ca_cert), timeout=30)
    assert r.status_code == 500
    assert "htaccess secret" not in r.text
    assert f"{line.split()[0]} not allowed here" in httpd.log_since(offset)


def test_require_providers_work_in_htaccess(httpd, htaccess):
    # AuthType and Require are AuthConfig; the cmi-* Require providers only narrow access.
    from cmi_e2e.clients import curl
    (htaccess / "require" / ".htaccess").write_text("AuthType CMI\nRequire cmi-mechanism cert\n")
    url = httpd.url("/htaccess/require/hello.txt")
    r = curl(url, ca=httpd.pki.ca_cert, cert=httpd.pki.client)
    assert r.status == 200 and r.body == b"htaccess secret\n"
    assert curl(url, ca=httpd.pki.ca_cert).status == 401
