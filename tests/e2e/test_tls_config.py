"""Bad mod_cmi_tls configuration fails `apache2 -t` with a message naming the directive."""
import pytest


@pytest.mark.parametrize("server_snippet, directive, fragment", [
    ("CMITrustedProxy 10.0.0.0/33", "CMITrustedProxy", "not an IP address or CIDR block"),
    ("CMITrustedProxy proxy.example.com", "CMITrustedProxy", "not an IP address or CIDR block"),
    ("CMITrustedProxy 10.1", "CMITrustedProxy", "not an IP address or CIDR block"),
    ("CMIForwardedProto X-Real-Proto", "CMIForwardedProto", "use X-Forwarded-Proto or Forwarded"),
    ("<Location /x>\nCMITLSMinProtocol TLSv1.1\n</Location>", "CMITLSMinProtocol", "use TLSv1.2 or TLSv1.3"),
    ("<Location /x>\nCMIInsecureAction allow\n</Location>", "CMIInsecureAction", "use deny or redirect"),
    ("<Location /x>\nCMIInsecureAction redirect http://example.com\n</Location>", "CMIInsecureAction",
     "not an https base URL"),
    ("<Location /x>\nCMIStrictTransportSecurity forever\n</Location>", "CMIStrictTransportSecurity",
     "not a Strict-Transport-Security value"),
    ("<Location /x>\nCMIRequireTLS maybe\n</Location>", "CMIRequireTLS", "On or Off"),
    ("<Location /x>\nCMITrustedProxy 127.0.0.1\n</Location>", "CMITrustedProxy", "not allowed in <Location> context"),
])
def test_bad_configuration_is_refused_at_startup(httpd, server_snippet, directive, fragment):
    httpd.configtest_refuses(directive, fragment, server_snippet=server_snippet)


def test_good_configuration_passes(httpd):
    result = httpd.configtest(server_snippet="""
CMITrustedProxy 10.0.0.0/8 192.0.2.7 2001:db8::/32
CMIForwardedProto Forwarded
<Location /x>
    CMIRequireTLS On
    CMIInsecureAction redirect https://cmi.example.com:8443/
    CMITLSMinProtocol tlsv1.3
    CMIStrictTransportSecurity "max-age=31536000; includeSubDomains"
</Location>
""")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Syntax OK" in result.stdout + result.stderr
