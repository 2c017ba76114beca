"""A detached CMS SignedData (RFC 5652) built field by field with python3-cryptography
doing the signing: for what `openssl cms -sign` cannot be told to make — a chosen
signingTime or none, and re-encodings of one signature (more certificates, the other
ECDSA `s`) as an attacker holding a captured upload could make them."""
import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_RSA_SHA256 = "1.2.840.113549.1.1.11"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(parts)))  # DER: SET OF sorted by encoding


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def integer(n: int) -> bytes:
    b = n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True) if n else b"\x00"
    return tlv(0x02, b)


def utc_time(t: datetime.datetime) -> bytes:
    return tlv(0x17, t.astimezone(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ").encode())


def attribute(type_oid: str, value: bytes) -> bytes:
    return seq(oid(type_oid), set_of(value))


class CmsSigner:
    """Signs like a provider: SHA-256, signed attributes, the signer certificate carried."""

    def __init__(self, cred):
        self.cert = x509.load_pem_x509_certificate(cred.cert.read_bytes())
        self.key = serialization.load_pem_private_key(cred.key.read_bytes(), None)

    def signed_attrs(self, body: bytes, signing_time=True) -> list[bytes]:
        attrs = [attribute(OID_CONTENT_TYPE, oid(OID_DATA)),
                 attribute(OID_MESSAGE_DIGEST, tlv(0x04, hashlib.sha256(body).digest()))]
        if signing_time is True:
            signing_time = datetime.datetime.now(datetime.timezone.utc)
        if signing_time:
            attrs.append(attribute(OID_SIGNING_TIME, utc_time(signing_time)))
        return attrs

    def signature(self, attrs: list[bytes]) -> bytes:
        tbs = set_of(*attrs)  # signed as a SET (RFC 5652 §5.4), sent as [0] IMPLICIT
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
        assert isinstance(self.key, rsa.RSAPrivateKey)
        return self.key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())

    def encode(self, attrs: list[bytes], sig: bytes, extra_certs: tuple = ()) -> str:
        """base64 DER of the ContentInfo: the CMI-Content-Signature value."""
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        sig_alg = OID_ECDSA_SHA256 if isinstance(self.key, ec.EllipticCurvePrivateKey) else OID_RSA_SHA256
        signer_info = seq(
            integer(1),
            seq(self.cert.issuer.public_bytes(), integer(self.cert.serial_number)),
            seq(oid(OID_SHA256)),
            tlv(0xA0, b"".join(sorted(attrs))),
            seq(oid(sig_alg)),
            tlv(0x04, sig))
        certs = [cert_der] + [c.public_bytes(serialization.Encoding.DER) for c in extra_certs]
        signed_data = seq(
            integer(1),
            set_of(seq(oid(OID_SHA256))),
            seq(oid(OID_DATA)),
            tlv(0xA0, b"".join(sorted(certs))),
            set_of(signer_info))
        return base64.b64encode(seq(oid(OID_SIGNED_DATA), tlv(0xA0, signed_data))).decode()

    def sign(self, body: bytes, signing_time=True) -> str:
        attrs = self.signed_attrs(body, signing_time)
        return self.encode(attrs, self.signature(attrs))


def other_ecdsa_s(sig_der: bytes) -> bytes:
    """The same P-256 signature with s replaced by n - s: it verifies just the same."""
    r, s = decode_dss_signature(sig_der)
    return encode_dss_signature(r, P256_ORDER - s)


def _read_tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, length of content) of the DER element at `at`."""
    n = der[at + 1]
    start = at + 2
    if n & 0x80:
        n, start = int.from_bytes(der[start:start + (n & 0x7F)], "big"), start + (n & 0x7F)
    return der[at], start, n


def without_leading_signature_byte(der: bytes) -> bytes:
    """A CMS (one SignerInfo, no unsigned attributes) whose signature value, its last
    element, loses its first byte: re-encoded with every enclosing length adjusted."""
    tag, start, n = _read_tlv(der, 0)
    content = der[start:start + n]
    if tag == 0x04:
        return tlv(tag, content[1:])
    last = at = 0
    while at < len(content):
        last = at
        _, s, m = _read_tlv(content, at)
        at = s + m
    return tlv(tag, content[:last] + without_leading_signature_byte(content[last:]))
