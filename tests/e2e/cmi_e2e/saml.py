"""A test SAML IdP: assertions written by hand and signed with the xmlsec1 CLI
(an implementation independent of lasso), plus metadata for mod_cmi_auth."""
import base64
import datetime
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
HOK = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"

SIGNATURE_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{ref}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
    '</ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>')


def instant(offset_s: int = 0) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + uuid.uuid4().hex


def signature_template(ref: str) -> str:
    return SIGNATURE_TEMPLATE.replace("{ref}", ref)


@dataclass
class AssertionSpec:
    issuer: str
    audience: str
    name_id: str = "alice@provider-a"
    name_id_xml: str | None = None  # raw NameID content (for injection tests)
    id: str = field(default_factory=new_id)
    not_before: int = -60
    not_on_or_after: int = 300
    method: str = BEARER
    recipient: str | None = None
    confirmation_not_on_or_after: int | None = 300
    hok_cert_der: bytes | None = None
    one_time_use: bool = False
    attributes: dict = field(default_factory=lambda: {"role": ["content-provider"], "org": ["Provider A"]})

    def xml(self, signed: bool = True) -> str:
        scd_attrs = ""
        if self.confirmation_not_on_or_after is not None:
            scd_attrs += f' NotOnOrAfter="{instant(self.confirmation_not_on_or_after)}"'
        if self.recipient:
            scd_attrs += f" Recipient={quoteattr(self.recipient)}"
        key_info = ""
        if self.hok_cert_der is not None:
            key_info = ('<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>'
                        + base64.b64encode(self.hok_cert_der).decode() + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>")
        attrs = "".join(
            f'<saml:Attribute Name={quoteattr(k)}>'
            + "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in vs)
            + "</saml:Attribute>" for k, vs in self.attributes.items())
        name_id = self.name_id_xml if self.name_id_xml is not None else escape(self.name_id)
        return (
            f'<saml:Assertion xmlns:saml="{SAML}" ID="{self.id}" Version="2.0" IssueInstant="{instant()}">'
            f"<saml:Issuer>{escape(self.issuer)}</saml:Issuer>"
            + (signature_template(self.id) if signed else "")
            + f"<saml:Subject><saml:NameID>{name_id}</saml:NameID>"
            f'<saml:SubjectConfirmation Method="{self.method}">'
            f"<saml:SubjectConfirmationData{scd_attrs}>{key_info}</saml:SubjectConfirmationData>"
            f"</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{instant(self.not_before)}" NotOnOrAfter="{instant(self.not_on_or_after)}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(self.audience)}</saml:Audience></saml:AudienceRestriction>"
            + ("<saml:OneTimeUse/>" if self.one_time_use else "")
            + "</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{instant()}"><saml:AuthnContext><saml:AuthnContextClassRef>'
            "urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement>"
            "</saml:Assertion>")


class Idp:
    """An IdP with an RSA key; writes its metadata and signs with xmlsec1."""

    def __init__(self, directory: Path, entity_id: str, name: str = "idp", scopes=(), regexp_scopes=()):
        self.dir = directory
        self.scopes, self.regexp_scopes = list(scopes), list(regexp_scopes)
        # Fresh file names for every key: a new IdP is a configuration change.
        name = f"{name}-{uuid.uuid4().hex[:8]}"
        self.entity_id = entity_id
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} signing")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
        self.key_path = directory / f"{name}.key"
        self.cert_path = directory / f"{name}.pem"
        self.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.metadata_path = directory / f"{name}-metadata.xml"
        self.metadata_path.write_text(self.metadata())

    def metadata(self) -> str:
        b64 = base64.b64encode(self.cert_der).decode()
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(self.entity_id)}>'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            + self.scope_extensions()
            +             '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://idp.example/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>")

    def scope_extensions(self) -> str:
        """shibmd:Scope elements (Shibboleth metadata) naming the scopes of this IdP's users."""
        if not self.scopes and not self.regexp_scopes:
            return ""
        scope = '<shibmd:Scope xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" regexp="{}">{}</shibmd:Scope>'
        return ("<md:Extensions>" + "".join(scope.format("false", escape(s)) for s in self.scopes)
                + "".join(scope.format("true", escape(s)) for s in self.regexp_scopes) + "</md:Extensions>")

    def sign(self, xml: str) -> str:
        """Signs every signature template in `xml` (xmlsec1 CLI)."""
        src = self.dir / f"tosign-{uuid.uuid4().hex}.xml"
        src.write_text(xml)
        out = subprocess.run(
            ["xmlsec1", "--sign", "--privkey-pem", f"{self.key_path},{self.cert_path}",
             "--id-attr:ID", f"{SAML}:Assertion", "--id-attr:ID", f"{SAMLP}:Response", str(src)],
            capture_output=True, text=True)
        src.unlink()
        if out.returncode != 0:
            raise RuntimeError("xmlsec1 --sign failed: " + out.stderr)
        text = out.stdout
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[1].lstrip("\n")
        return text

    def signed_assertion(self, spec: AssertionSpec) -> str:
        return self.sign(spec.xml())

    def response(self, assertion_xml: str, sign_response: bool, issuer: str | None = None,
                 rid: str | None = None, extensions: str = "") -> str:
        rid = rid or new_id()
        issuer = self.entity_id if issuer is None else issuer
        return (f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
                f'IssueInstant="{instant()}"><saml:Issuer>{escape(issuer)}</saml:Issuer>'
                + (signature_template(rid) if sign_response else "")
                + (f"<samlp:Extensions>{extensions}</samlp:Extensions>" if extensions else "")
                + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
                + assertion_xml + "</samlp:Response>")


def location(path: str, metadata, sp: str, extra: str = "") -> str:
    """An AuthType CMI location taking SAML assertions of the IdP in `metadata`."""
    return (f"<Location {path}>\n    AuthType CMI\n    CMIAuthMechanisms saml\n"
            f'    CMISAMLIdPMetadata "{metadata}"\n    CMISAMLSPEntityID {sp}\n'
            f"    Require valid-user\n{extra}</Location>\n")


def one_time_location(path: str, metadata, sp: str, extra: str = "") -> str:
    """The same, for one-time assertions."""
    return location(path, metadata, sp, "    CMISAMLOneTimeUse On\n" + extra)


def header(xml: str) -> str:
    return "SAML " + base64.b64encode(xml.encode()).decode()


def lasso_response(idp: Idp, sp_entity_id: str, acs_url: str, attributes: dict) -> tuple[str, str]:
    """A Response made by python3-lasso as an IdP (IdP-initiated, HTTP-POST):
    signed Response and signed Assertion, rsa-sha256. Returns (xml, NameID)."""
    import lasso
    sp_md = idp.dir / f"sp-{uuid.uuid4().hex}.xml"
    sp_md.write_text(
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(sp_entity_id)}>'
        '<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService index="0" isDefault="true" '
        f'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location={quoteattr(acs_url)}/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>")
    server = lasso.Server(str(idp.metadata_path), str(idp.key_path), None, str(idp.cert_path))
    server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256  # lasso's default is rsa-sha1
    server.addProvider(lasso.PROVIDER_ROLE_SP, str(sp_md))
    login = lasso.Login(server)
    login.initIdpInitiatedAuthnRequest(sp_entity_id)
    login.request.nameIdPolicy.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_PERSISTENT
    login.request.nameIdPolicy.allowCreate = True
    login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
    login.processAuthnRequestMsg(None)
    login.validateRequestMsg(True, True)
    login.buildAssertion(lasso.SAML2_AUTHN_CONTEXT_X509, instant(), None, instant(-60), instant(300))
    statement = lasso.Saml2AttributeStatement()
    attrs = []
    for name, values in attributes.items():
        a = lasso.Saml2Attribute()
        a.name = name
        vals = []
        for v in values:
            av = lasso.Saml2AttributeValue()
            t = lasso.MiscTextNode.newWithString(v)
            t.textChild = True
            av.any = [t]
            vals.append(av)
        a.attributeValue = vals
        attrs.append(a)
    statement.attribute = attrs
    login.assertion.attributeStatement = [statement]
    login.buildAuthnResponseMsg()
    sp_md.unlink()
    return base64.b64decode(login.msgBody).decode(), login.assertion.subject.nameID.content


def pysaml2_assertion(idp: Idp, audience: str, name_id: str, attributes: dict, not_on_or_after: int = 300) -> str:
    """A signed Assertion built with python3-pysaml2's SAML object model and signed
    by its SecurityContext (rsa-sha256, exclusive c14n). Returns the XML."""
    from saml2 import saml as s2
    from saml2 import xmldsig
    from saml2.sigver import CryptoBackendXmlSec1, SecurityContext, get_xmlsec_binary, pre_signature_part
    crypto = CryptoBackendXmlSec1(get_xmlsec_binary())
    sec = SecurityContext(crypto, key_file=str(idp.key_path), cert_file=str(idp.cert_path),
                          key_type="pem", cert_type="pem")
    aid = new_id()
    assertion = s2.Assertion(
        id=aid, version="2.0", issue_instant=instant(),
        issuer=s2.Issuer(text=idp.entity_id, format=s2.NAMEID_FORMAT_ENTITY),
        subject=s2.Subject(
            name_id=s2.NameID(text=name_id),
            subject_confirmation=[s2.SubjectConfirmation(
                method=s2.SCM_BEARER,
                subject_confirmation_data=s2.SubjectConfirmationData(not_on_or_after=instant(not_on_or_after)))]),
        conditions=s2.Conditions(
            not_before=instant(-60), not_on_or_after=instant(not_on_or_after),
            audience_restriction=[s2.AudienceRestriction(audience=[s2.Audience(text=audience)])]),
        authn_statement=[s2.AuthnStatement(
            authn_instant=instant(),
            authn_context=s2.AuthnContext(authn_context_class_ref=s2.AuthnContextClassRef(text=s2.AUTHN_PASSWORD)))],
        attribute_statement=[s2.AttributeStatement(attribute=[
            s2.Attribute(name=k, attribute_value=[s2.AttributeValue(text=v) for v in vs])
            for k, vs in attributes.items()])])
    assertion.signature = pre_signature_part(aid, sec.my_cert, 1, sign_alg=xmldsig.SIG_RSA_SHA256,
                                             digest_alg=xmldsig.DIGEST_SHA256)
    signed = sec.sign_statement(str(assertion), node_name=f"{SAML}:Assertion", node_id=aid)
    if signed.startswith("<?xml"):
        signed = signed.split("?>", 1)[1].lstrip("\n")
    return signed
