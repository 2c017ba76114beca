"""SAML identities are scoped by their IdP (issue 18.3).

REMOTE_USER was the NameID whichever trusted IdP signed it, so one trusted IdP
could log in as another IdP's users; and two metadata entries with one
entityID merged their keys, so a second (rogue) description could sign for the
first. Now: an IdP whose metadata lists shibmd:Scope may only assert names
`name@scope` with one of its scopes (as Shibboleth checks scoped values);
`CMISAMLIdPMetadata file alias` makes its users `name@alias`; a section that
trusts several IdPs refuses to start unless each is scoped or aliased; a
duplicate entityID refuses to start."""
import pytest
import requests

from cmi_e2e import saml
from cmi_e2e.problems import assert_problem

SP = "https://cmc.example/scope"

LOCATIONS = """
<Location /scoped>
    AuthType CMI
    CMIAuthMechanisms saml
    CMISAMLIdPMetadata "{a}"
    CMISAMLIdPMetadata "{b}"
    CMISAMLSPEntityID {sp}
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
    Header always set X-CMI-Issuer "%{{CMI_AUTH_ISSUER}}e"
</Location>
<Location /aliased>
    AuthType CMI
    CMIAuthMechanisms saml
    CMISAMLIdPMetadata "{c}" partner-c
    CMISAMLIdPMetadata "{d}" partner-d
    CMISAMLSPEntityID {sp}
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
</Location>
<Location /aliased/byattr>
    CMISAMLUserAttribute uid
</Location>
"""


@pytest.fixture(scope="module")
def idps(httpd):
    conf = httpd.root / "conf"
    return {
        "a": saml.Idp(conf, "https://idp.provider-a.example", "scope-a", scopes=["provider-a.example"]),
        "b": saml.Idp(conf, "https://idp.provider-b.example", "scope-b",
                      scopes=["provider-b.example", "b.example"]),
        "c": saml.Idp(conf, "https://idp.partner-c.example", "alias-c"),
        "d": saml.Idp(conf, "https://idp.partner-d.example", "alias-d"),
    }


@pytest.fixture(scope="module")
def server(httpd, idps):
    for d in ("scoped", "aliased", "aliased/byattr"):
        (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
        (httpd.docroot / d / "hello.txt").write_text("scoped page\n")
    httpd.configure(LOCATIONS.format(sp=SP, **{k: v.metadata_path for k, v in idps.items()}))
    yield httpd
    httpd.configure("")


def login(server, idp, name_id, d="scoped", **kw):
    xml = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP, name_id=name_id, **kw))
    return requests.get(server.url(f"/{d}/hello.txt"), headers={"Authorization": saml.header(xml)},
                        verify=str(server.pki.ca_cert), timeout=30)


def refused(r, why):
    doc = assert_problem(r, 401, "authentication-failed")
    assert why in doc["detail"], doc["detail"]
    assert "scoped page" not in r.text


def test_an_idp_names_its_own_users(server, idps):
    r = login(server, idps["a"], "alice@provider-a.example")
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "alice@provider-a.example"
    assert r.headers["X-CMI-Issuer"] == idps["a"].entity_id
    for name in ("bob@provider-b.example", "carol@b.example"):
        assert login(server, idps["b"], name).headers["X-CMI-User"] == name


def test_an_idp_cannot_name_another_idps_user(server, idps):
    # IdP B, trusted here too, asserts a user of provider A.
    refused(login(server, idps["b"], "alice@provider-a.example"), "not one of the IdP's")


@pytest.mark.parametrize("name", ["alice", "alice@", "@provider-a.example", "alice@provider-a.example.evil",
                                  "alice@PROVIDER-A.example", "alice@sub.provider-a.example"])
def test_names_outside_the_scope_are_refused(server, idps, name):
    r = login(server, idps["a"], name)
    assert r.status_code == 401, r.text
    assert "scoped page" not in r.text


def test_user_attribute_is_qualified_too(server, idps):
    # The name may come from an attribute (CMISAMLUserAttribute): the same rules.
    idp = idps["c"]
    xml = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP, name_id="ignored",
                                                  attributes={"uid": ["dora"]}))
    r = requests.get(server.url("/aliased/byattr/hello.txt"), headers={"Authorization": saml.header(xml)},
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200 and r.headers["X-CMI-User"] == "dora@partner-c"


def test_aliases_keep_the_same_name_apart(server, idps):
    # Two IdPs without scopes, each with its alias: "bob" of C is not "bob" of D.
    c = login(server, idps["c"], "bob", d="aliased")
    d = login(server, idps["d"], "bob", d="aliased")
    assert c.status_code == 200 and d.status_code == 200
    assert c.headers["X-CMI-User"] == "bob@partner-c"
    assert d.headers["X-CMI-User"] == "bob@partner-d"


# --- refused at start-up -------------------------------------------------------------

def section(*lines):
    body = "\n".join(f"    {line}" for line in lines)
    return f"<Location /x>\n    AuthType CMI\n{body}\n    CMISAMLSPEntityID {SP}\n    Require valid-user\n</Location>"


def assert_configtest_fails(httpd, snippet, *fragments):
    httpd.configtest_refuses("CMISAMLIdPMetadata", *fragments, snippet=snippet)


def test_duplicate_entity_id_is_refused(httpd, idps):
    # A second description of IdP A with another key: its keys would have merged,
    # so whoever holds the rogue key could sign as A.
    rogue = saml.Idp(httpd.root / "conf", idps["a"].entity_id, "rogue-a", scopes=["provider-a.example"])
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{idps["a"].metadata_path}"',
                                           f'CMISAMLIdPMetadata "{rogue.metadata_path}"'),
                            "is described twice", idps["a"].entity_id)


def test_duplicate_entity_id_in_one_file_is_refused(httpd, idps):
    a = idps["a"]
    both = httpd.root / "conf" / "twice-metadata.xml"
    entity = a.metadata()
    both.write_text('<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
                    + entity + entity + "</md:EntitiesDescriptor>")
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{both}"'), "is described twice")


def test_several_unscoped_idps_are_refused(httpd, idps):
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{idps["c"].metadata_path}"',
                                           f'CMISAMLIdPMetadata "{idps["d"].metadata_path}"'),
                            "could name another IdP's users", idps["c"].entity_id)
    # One unscoped IdP beside a scoped one is just as ambiguous.
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{idps["a"].metadata_path}"',
                                           f'CMISAMLIdPMetadata "{idps["c"].metadata_path}"'),
                            "could name another IdP's users")


def test_one_unscoped_idp_alone_is_fine(httpd, idps):
    result = httpd.configtest(snippet=section(f'CMISAMLIdPMetadata "{idps["c"].metadata_path}"'))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("alias, fragment", [("two words", "takes 1-2 arguments"), ("bad/alias", "is not a name")])
def test_bad_alias_is_refused(httpd, idps, alias, fragment):
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{idps["c"].metadata_path}" {alias}'), fragment)


def test_alias_for_a_file_of_several_idps_is_refused(httpd, idps):
    many = httpd.root / "conf" / "federation-metadata.xml"
    many.write_text('<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
                    + idps["c"].metadata() + idps["d"].metadata() + "</md:EntitiesDescriptor>")
    assert_configtest_fails(httpd, section(f'CMISAMLIdPMetadata "{many}" federation'), "an alias names one")


def test_regexp_scopes_are_not_honoured(httpd):
    # A name matching only a regular-expression scope is refused; start-up says so.
    idp = saml.Idp(httpd.root / "conf", "https://idp.regexp.example", "regexp",
                   scopes=["regexp.example"], regexp_scopes=[r"^.*\.regexp\.example$"])
    result = httpd.configtest(snippet=section(f'CMISAMLIdPMetadata "{idp.metadata_path}"'))
    assert result.returncode == 0
    assert 'regexp="true" not honoured' in result.stdout + result.stderr
