"""mod_cmi_auth `saml`: Authorization: SAML <base64>, validated with lasso.

Assertions are written by hand and signed by the xmlsec1 CLI, so every attack
variant can be built exactly."""
import base64
import re
import time

import pytest
import requests

from cmi_e2e import saml
from cmi_e2e.clients import curl
from cmi_e2e.problems import assert_problem

SP = "https://cmc.example/sp"
IDP = "https://idp.example/saml"

LOCATIONS = """
<Location /saml>
    AuthType CMI
    AuthName "CMI"
    CMISAMLIdPMetadata "{metadata}"
    CMISAMLSPEntityID {sp}
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
    Header always set X-CMI-Mech "%{{CMI_AUTH_MECH}}e"
    Header always set X-CMI-Issuer "%{{CMI_AUTH_ISSUER}}e"
    Header always set X-CMI-NameID "%{{CMI_SAML_NAMEID}}e"
    Header always set X-CMI-Assertion "%{{CMI_SAML_ASSERTION_ID}}e"
    Header always set X-CMI-Role "%{{CMI_SAML_ATTR_ROLE}}e"
    LogLevel cmi_auth:debug
</Location>
<Location /saml/othersp>
    CMISAMLSPEntityID https://other.example/sp
</Location>
<Location /saml/noskew>
    CMISAMLClockSkew 0
</Location>
<Location /saml/once>
    CMISAMLOneTimeUse On
    DirectoryIndex hello.txt
</Location>
<Location /saml/hok>
    # saml only: with cert first, the TLS client certificate itself would win.
    CMIAuthMechanisms saml
    CMISAMLHolderOfKey On
</Location>
<Location /saml/byorg>
    CMISAMLUserAttribute org
</Location>
<Location /saml/admins>
    Require cmi-saml-attribute role admin
    AuthzSendForbiddenOnFailure On
</Location>
<Location /saml/providers>
    Require cmi-saml-attribute role admin content-provider
</Location>
<Location /saml/listed>
    CMISAMLRecipient https://cmc.example/api https://cmc.example/api/v2
</Location>
<Location /saml/noconfig>
    CMISAMLSPEntityID {sp}
    CMISAMLIdPMetadata "{other_metadata}"
</Location>
"""

DIRS = ("", "othersp", "noskew", "once", "hok", "byorg", "admins", "providers", "listed", "noconfig")


@pytest.fixture(scope="module")
def idp(httpd):
    d = httpd.root / "conf"
    return saml.Idp(d, IDP, "idp")


@pytest.fixture(scope="module")
def rogue(httpd):
    # Same entity id, a key nobody trusts.
    return saml.Idp(httpd.root / "conf", IDP, "rogue")


@pytest.fixture(scope="module")
def other_idp(httpd):
    return saml.Idp(httpd.root / "conf", "https://other-idp.example", "other")


@pytest.fixture(scope="module")
def server(httpd, idp, rogue, other_idp):
    for d in DIRS:
        p = httpd.docroot / "saml" / d
        p.mkdir(parents=True, exist_ok=True)
        (p / "hello.txt").write_text(f"saml secret {d}\n")
    # In the TLS vhost: set after it, the limit would not apply there (test_auth_saml_size.py).
    httpd.configure(LOCATIONS.format(metadata=idp.metadata_path, sp=SP,
                                     other_metadata=other_idp.metadata_path),
                    vhost_snippet="LimitRequestFieldSize 65536")
    return httpd


def url(server, d=""):
    return server.url(f"/saml/{d}/hello.txt" if d else "/saml/hello.txt")


def send(server, xml_or_header, d="", cert=None):
    h = xml_or_header if xml_or_header.startswith("SAML ") else saml.header(xml_or_header)
    return requests.get(url(server, d), headers={"Authorization": h}, verify=str(server.pki.ca_cert),
                        cert=(str(cert.cert), str(cert.key)) if cert else None, timeout=30)


def spec(**kw):
    return saml.AssertionSpec(issuer=IDP, audience=SP, **kw)


def refused(r, why=None):
    doc = assert_problem(r, 401, "authentication-failed")
    assert "saml secret" not in r.text
    assert doc["detail"].startswith("saml: ")
    if why:
        assert re.search(why, doc["detail"]), doc["detail"]
    return doc


# --- accepted ---------------------------------------------------------------------

def test_signed_assertion_is_accepted_and_mapped(server, idp):
    s = spec()
    r = send(server, idp.signed_assertion(s))
    assert r.status_code == 200, r.text
    assert r.text == "saml secret \n"
    assert r.headers["X-CMI-User"] == "alice@provider-a"
    assert r.headers["X-CMI-Mech"] == "saml"
    assert r.headers["X-CMI-Issuer"] == IDP
    assert r.headers["X-CMI-NameID"] == "alice@provider-a"
    assert r.headers["X-CMI-Assertion"] == s.id
    assert r.headers["X-CMI-Role"] == "content-provider"


def test_response_made_by_lasso_idp(server, idp):
    xml, name_id = saml.lasso_response(idp, SP, url(server), {"role": ["admin", "viewer"]})
    r = send(server, xml, d="admins")
    # /saml/admins: the URL lasso put in Recipient/Destination must be this one.
    assert r.status_code == 401  # Recipient is /saml/hello.txt, not /saml/admins/...
    xml, name_id = saml.lasso_response(idp, SP, url(server, "admins"), {"role": ["admin", "viewer"]})
    r = send(server, xml, d="admins")
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == name_id
    assert r.headers["X-CMI-Mech"] == "saml"
    assert r.headers["X-CMI-Role"] == "admin, viewer"


def test_assertion_made_by_pysaml2(server, idp):
    # An independent SAML implementation: pysaml2's object model and signer.
    xml = saml.pysaml2_assertion(idp, SP, "pat@provider-a", {"role": ["admin"], "org": ["Provider P"]})
    r = send(server, xml, d="admins")
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "pat@provider-a"
    assert r.headers["X-CMI-Mech"] == "saml"
    assert r.headers["X-CMI-Issuer"] == IDP
    assert r.headers["X-CMI-Role"] == "admin"


def test_pysaml2_assertion_modified_after_signing(server, idp):
    xml = saml.pysaml2_assertion(idp, SP, "pat@provider-a", {"role": ["viewer"]})
    refused(send(server, xml.replace(">viewer<", ">admin<"), d="admins"), "does not verify")


def test_pysaml2_assertion_for_another_audience(server, idp):
    xml = saml.pysaml2_assertion(idp, "https://other.example/sp", "pat@provider-a", {"role": ["admin"]})
    refused(send(server, xml), "another audience")


def test_lasso_response_modified_after_signing(server, idp):
    xml, name_id = saml.lasso_response(idp, SP, url(server), {"role": ["viewer"]})
    refused(send(server, xml.replace(">viewer<", ">admin<")), "does not verify")


def test_signed_response_with_unsigned_assertion(server, idp):
    r = send(server, idp.sign(idp.response(spec().xml(signed=False), sign_response=True)))
    assert r.status_code == 200, r.text


def test_unsigned_response_with_signed_assertion(server, idp):
    r = send(server, idp.response(idp.signed_assertion(spec()), sign_response=False))
    assert r.status_code == 200, r.text


def test_both_signed(server, idp):
    r = send(server, idp.sign(idp.response(idp.signed_assertion(spec()), sign_response=True)))
    assert r.status_code == 200, r.text


def test_bearer_assertion_reusable_without_one_time_use(server, idp):
    a = idp.signed_assertion(spec())
    assert send(server, a).status_code == 200
    assert send(server, a).status_code == 200


def test_recipient_matching_the_request_url(server, idp):
    r = send(server, idp.signed_assertion(spec(recipient=url(server))))
    assert r.status_code == 200, r.text


def test_user_from_attribute(server, idp):
    r = send(server, idp.signed_assertion(spec()), d="byorg")
    assert r.status_code == 200 and r.headers["X-CMI-User"] == "Provider A"


def test_no_certificate_and_valid_saml_on_cert_saml_location(server, idp):
    r = curl(url(server), "-H", "Authorization: " + saml.header(idp.signed_assertion(spec())),
             ca=server.pki.ca_cert)
    assert r.status == 200 and r.header("X-CMI-Mech") == "saml"


def test_certificate_wins_on_cert_saml_location(server, idp):
    r = curl(url(server), "-H", "Authorization: " + saml.header(idp.signed_assertion(spec())),
             ca=server.pki.ca_cert, cert=server.pki.client)
    assert r.status == 200 and r.header("X-CMI-Mech") == "cert"


# --- refused ----------------------------------------------------------------------

def test_unsigned_assertion(server):
    refused(send(server, spec().xml(signed=False)), "not signed")


def test_unsigned_response_and_assertion(server, idp):
    refused(send(server, idp.response(spec().xml(signed=False), sign_response=False)), "not signed")


def test_signed_by_untrusted_key(server, rogue):
    refused(send(server, rogue.signed_assertion(spec())), "does not verify")


def test_modified_after_signing(server, idp):
    signed = idp.signed_assertion(spec(name_id="alice@provider-a"))
    refused(send(server, signed.replace("alice@provider-a", "admin@provider-a")), "does not verify")


def test_attribute_modified_after_signing(server, idp):
    signed = idp.signed_assertion(spec())
    refused(send(server, signed.replace("content-provider", "admin")), "does not verify")


def test_expired(server, idp):
    refused(send(server, idp.signed_assertion(spec(not_before=-900, not_on_or_after=-600))), "expired")


def test_confirmation_expired(server, idp):
    refused(send(server, idp.signed_assertion(spec(confirmation_not_on_or_after=-600))), "expired")


def test_not_yet_valid(server, idp):
    refused(send(server, idp.signed_assertion(spec(not_before=600, not_on_or_after=900))), "not yet valid")


def test_within_clock_skew_is_accepted(server, idp):
    assert send(server, idp.signed_assertion(spec(not_before=30))).status_code == 200


def test_wrong_audience(server, idp):
    s = saml.AssertionSpec(issuer=IDP, audience="https://someone-else.example/sp")
    refused(send(server, idp.signed_assertion(s)), "another audience")


def test_unknown_issuer(server, other_idp):
    s = saml.AssertionSpec(issuer=other_idp.entity_id, audience=SP)
    refused(send(server, other_idp.signed_assertion(s)), "not a trusted IdP")


def test_wrong_recipient(server, idp):
    refused(send(server, idp.signed_assertion(spec(recipient="https://evil.example/x"))), "Recipient")


# --- Recipient from the configuration, never from the Host header (issue 18.4) ---------

def test_recipient_named_by_a_forged_host_header_is_refused(server, idp):
    # An assertion made for another service (same audience, same path) is
    # replayed here with that service's name in the Host header: with
    # UseCanonicalName Off (httpd's default) the URL httpd builds for the
    # request carries the client's Host, so the Recipient "matched".
    port = server.https_port
    other = f"https://other-service.example:{port}/saml/hello.txt"
    a = idp.signed_assertion(spec(recipient=other))
    r = curl(url(server), "-H", "Authorization: " + saml.header(a), "-H", f"Host: other-service.example:{port}",
             ca=server.pki.ca_cert)
    doc = assert_problem(r, 401, "authentication-failed")
    assert "another Recipient" in doc["detail"]
    assert b"saml secret" not in r.body
    # The URL of this server, from its ServerName and port, is accepted with any Host.
    a = idp.signed_assertion(spec(recipient=url(server)))
    r = curl(url(server), "-H", "Authorization: " + saml.header(a), "-H", f"Host: other-service.example:{port}",
             ca=server.pki.ca_cert)
    assert r.status == 200, r.body


def test_response_destination_named_by_a_forged_host_header_is_refused(server, idp):
    port = server.https_port
    other = f"https://other-service.example:{port}/saml/hello.txt"
    resp = idp.response(idp.signed_assertion(spec()), sign_response=False).replace(
        "<samlp:Response ", f'<samlp:Response Destination="{other}" ', 1)
    r = curl(url(server), "-H", "Authorization: " + saml.header(resp), "-H", f"Host: other-service.example:{port}",
             ca=server.pki.ca_cert)
    doc = assert_problem(r, 401, "authentication-failed")
    assert "another Destination" in doc["detail"]


def test_listed_recipient_is_accepted_anywhere_in_the_location(server, idp):
    for rec in ("https://cmc.example/api", "https://cmc.example/api/v2"):
        r = send(server, idp.signed_assertion(spec(recipient=rec)), d="listed")
        assert r.status_code == 200, r.text


def test_listed_recipients_are_the_only_ones_and_required(server, idp):
    refused(send(server, idp.signed_assertion(spec(recipient=url(server, "listed"))), d="listed"),
            "another Recipient")
    refused(send(server, idp.signed_assertion(spec()), d="listed"), "names no Recipient")
    refused(send(server, idp.signed_assertion(spec(recipient="https://cmc.example/api/v3")), d="listed"),
            "another Recipient")


def test_bearer_needs_expiry_on_confirmation(server, idp):
    refused(send(server, idp.signed_assertion(spec(confirmation_not_on_or_after=None))), "NotOnOrAfter")


def test_one_time_use_replay(server, idp):
    a = idp.signed_assertion(spec())
    assert send(server, a, d="once").status_code == 200
    refused(send(server, a, d="once"), "already used")
    # Another assertion is fine.
    assert send(server, idp.signed_assertion(spec()), d="once").status_code == 200


def test_one_time_use_condition_in_assertion(server, idp):
    a = idp.signed_assertion(spec(one_time_use=True))
    assert send(server, a).status_code == 200
    refused(send(server, a), "already used")


def test_location_trusting_another_idp(server, idp):
    refused(send(server, idp.signed_assertion(spec()), d="noconfig"), "does not verify|not a trusted IdP")


# --- signature wrapping -----------------------------------------------------------

def forged(idp):
    return spec(name_id="admin@provider-a").xml(signed=False).replace("<saml:Assertion ", "<saml:Assertion ", 1)


def test_wrapping_signed_assertion_in_extensions(server, idp):
    good = idp.signed_assertion(spec())
    evil = idp.response(forged(idp), sign_response=False, extensions=good)
    refused(send(server, evil), "exactly one Assertion")


def test_wrapping_second_assertion_next_to_signed_one(server, idp):
    good = idp.signed_assertion(spec())
    evil = idp.response(good + forged(idp), sign_response=False)
    refused(send(server, evil), "exactly one Assertion")


def test_wrapping_assertion_inside_signed_assertion(server, idp):
    good = idp.signed_assertion(spec())
    evil_inner = forged(idp)
    # The forged assertion hides inside the signed one (a place the enveloped
    # signature does not cover is not possible, so the digest must break).
    evil = good.replace("<saml:AttributeStatement>", evil_inner + "<saml:AttributeStatement>")
    refused(send(server, evil))


def test_signature_referencing_another_element(server, idp):
    # A valid signature over a different element (the Response) placed in a
    # forged assertion: the Reference does not point at the assertion.
    good_response = idp.sign(idp.response(spec().xml(signed=False), sign_response=True, rid="_resp1"))
    sig = re.search(r"<ds:Signature.*?</ds:Signature>", good_response, re.S).group(0)
    s = spec(name_id="admin@provider-a")
    evil = s.xml(signed=False).replace("</saml:Issuer>", "</saml:Issuer>" + sig, 1)
    refused(send(server, evil), "does not reference the signed element")


def test_signed_response_with_unsigned_assertion_from_other_issuer(server, idp, other_idp):
    a = saml.AssertionSpec(issuer=other_idp.entity_id, audience=SP).xml(signed=False)
    refused(send(server, idp.sign(idp.response(a, sign_response=True))), "different issuers")


def test_comment_injected_into_name_id(server, idp):
    s = spec(name_id_xml="admin<!---->@provider-a")
    r = send(server, idp.signed_assertion(s))
    refused(r, "NameID is not plain text")
    assert "admin@provider-a" not in r.headers.get("X-CMI-User", "")


def test_doctype_and_entities(server, idp):
    a = idp.signed_assertion(spec())
    evil = '<!DOCTYPE x [<!ENTITY who "admin">]>' + a
    refused(send(server, evil), "DOCTYPE")


def test_external_entity(server, idp):
    a = spec(name_id_xml="&xxe;").xml(signed=False)
    evil = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + a
    r = send(server, evil)
    refused(r, "DOCTYPE")
    assert "root:" not in r.text


def test_truncated_base64(server, idp):
    h = saml.header(idp.signed_assertion(spec()))
    refused(send(server, h[:-3]), "base64")


def test_base64_of_garbage(server):
    refused(send(server, "SAML " + base64.b64encode(b"\x00\x01not xml at all").decode()), "well-formed")


def test_one_mebibyte_header_is_refused(server):
    h = "SAML " + base64.b64encode(b"<a>" + b"x" * (768 * 1024) + b"</a>").decode()
    try:
        r = send(server, h)
    except requests.exceptions.ConnectionError:
        return  # httpd may close the connection while the header is still being sent
    assert r.status_code in (400, 401, 413, 431), r.status_code
    assert "saml secret" not in r.text


# --- holder-of-key ----------------------------------------------------------------

def cert_der(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)


def test_holder_of_key_bound_to_presented_certificate(server, idp):
    s = spec(method=saml.HOK, hok_cert_der=cert_der(server.pki.client.cert), confirmation_not_on_or_after=None)
    r = send(server, idp.signed_assertion(s), d="hok", cert=server.pki.client)
    assert r.status_code == 200, r.text


def test_holder_of_key_with_another_certificate(server, idp):
    s = spec(method=saml.HOK, hok_cert_der=cert_der(server.pki.client.cert))
    r = send(server, idp.signed_assertion(s), d="hok", cert=server.pki.client_b)
    refused(r, "holder-of-key")


def test_holder_of_key_without_certificate(server, idp):
    s = spec(method=saml.HOK, hok_cert_der=cert_der(server.pki.client.cert))
    refused(send(server, idp.signed_assertion(s), d="hok"), "holder-of-key")


def test_bearer_refused_where_holder_of_key_is_required(server, idp):
    r = send(server, idp.signed_assertion(spec()), d="hok", cert=server.pki.client)
    refused(r, "holder-of-key")


# --- authorization by attribute ------------------------------------------------------

def test_require_attribute_refuses(server, idp):
    server.expect_error(r"AH01631: user alice@provider-a: authorization failure")
    r = send(server, idp.signed_assertion(spec()), d="admins")
    assert_problem(r, 403, "forbidden")


def test_require_attribute_grants(server, idp):
    r = send(server, idp.signed_assertion(spec()), d="providers")
    assert r.status_code == 200


def test_require_attribute_any_of_several_values(server, idp):
    s = spec(attributes={"role": ["viewer", "admin"]})
    r = send(server, idp.signed_assertion(s), d="admins")
    assert r.status_code == 200, r.text


# --- lasso survives a graceful restart ------------------------------------------------

def test_graceful_restart_keeps_working(server, idp):
    # The harness waits until the new generation serves (connections right
    # after the signal may be refused while httpd re-reads its configuration).
    offset = server.log_size()
    server.signal_restart(graceful=True)
    r = send(server, idp.signed_assertion(spec()))
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice@provider-a"
    assert server.proc.poll() is None
    log = server.log_since(offset)
    assert "Segmentation fault" not in log and "exit signal" not in log


# --- the validated-assertion cache ------------------------------------------------------

def test_reused_assertion_is_answered_from_the_cache(server, idp):
    a = idp.signed_assertion(spec())
    offset = server.log_size()
    # The cache is per process: ten uses cannot all land in different children.
    for _ in range(10):
        r = send(server, a)
        assert r.status_code == 200 and r.headers["X-CMI-User"] == "alice@provider-a"
    assert "saml: assertion from the validated-assertion cache" in server.log_since(offset)


def test_cached_assertion_is_still_checked_against_the_audience(server, idp):
    a = idp.signed_assertion(spec())
    for _ in range(5):
        assert send(server, a).status_code == 200
    refused(send(server, a, d="othersp"), "another audience")


def test_cached_holder_of_key_assertion_needs_the_same_certificate(server, idp):
    s = spec(method=saml.HOK, hok_cert_der=cert_der(server.pki.client.cert))
    a = idp.signed_assertion(s)
    for _ in range(5):
        assert send(server, a, d="hok", cert=server.pki.client).status_code == 200
    refused(send(server, a, d="hok", cert=server.pki.client_b), "holder-of-key")


def test_cached_assertion_expires(server, idp):
    a = idp.signed_assertion(spec(not_on_or_after=3, confirmation_not_on_or_after=3))
    for _ in range(5):
        assert send(server, a, d="noskew").status_code == 200
    time.sleep(4)
    for _ in range(5):
        refused(send(server, a, d="noskew"), "expired")


def test_cached_one_time_assertion_is_still_one_time(server, idp):
    a = idp.signed_assertion(spec())
    assert send(server, a).status_code == 200  # validated and cached (reusable here)
    assert send(server, a, d="once").status_code == 200
    refused(send(server, a, d="once"), "already used")


def test_one_time_assertion_survives_subrequests_and_internal_redirects(server, idp):
    # /saml/once/ is answered through mod_dir's subrequest for hello.txt: the
    # same request must not count as a replay of itself.
    r = requests.get(server.url("/saml/once/"), headers={"Authorization": saml.header(idp.signed_assertion(spec()))},
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert r.text == "saml secret once\n"


def test_saml_over_plain_http_is_refused(server, idp):
    r = requests.get(server.url("/saml/hello.txt", tls=False),
                     headers={"Authorization": saml.header(idp.signed_assertion(spec()))}, timeout=30)
    doc = refused(r, "only accepted over TLS")
    assert "WWW-Authenticate" not in r.headers
    assert doc["status"] == 401
