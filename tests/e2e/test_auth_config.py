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
    ("CMIAuthReplayCache nosuchcache:x", "CMIAuthReplayCache", "is not a loaded socache provider"),
    ("CMIAuthDigestNonceSecret /nonexistent/secret", "CMIAuthDigestNonceSecret", "openssl rand -hex 32"),
    (loc("CMIAuthReplayCache shmcb"), "CMIAuthReplayCache", "not allowed"),
    (loc("Require cmi-mechanism cert password"), "cmi-mechanism", "use any of cert saml digest basic"),
    (loc("Require cmi-saml-attribute role"), "cmi-saml-attribute", "NAME VALUE"),
])
def test_bad_configuration_is_refused_at_startup(httpd, server_snippet, directive, fragment):
    result = httpd.configtest(server_snippet=server_snippet)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert directive in out, out
    assert fragment in out, out


def test_good_configuration_passes(httpd, tmp_path):
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
    <RequireAll>
        Require cmi-mechanism cert digest
        Require cmi-saml-attribute role admin "content provider"
    </RequireAll>
</Location>
""")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Syntax OK" in result.stdout + result.stderr
