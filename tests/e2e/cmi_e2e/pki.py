"""A throw-away PKI for one test session: CA, server, and client certificates."""
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Credential:
    cert: Path
    key: Path
    subject_cn: str


def _name(cn, org="mod_cmi tests"):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _write(directory: Path, stem: str, key, cert) -> tuple[Path, Path]:
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class Pki:
    """Everything is made once, in `directory`."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc)
        self._now = now

        self._ca_key, self._ca_cert = self._make_ca("mod_cmi test CA")
        self.ca_cert, self.ca_key = _write(self.dir, "ca", self._ca_key, self._ca_cert)
        rogue_key, rogue_cert = self._make_ca("rogue CA", org="not trusted")
        self.rogue_ca_cert, _ = _write(self.dir, "rogue-ca", rogue_key, rogue_cert)

        san = x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ])
        self.server = self._issue("server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH, san=san)
        # A provider's certificate: TLS client authentication and content signing
        # (emailProtection: a clientAuth-only certificate may not sign content).
        provider = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
        self.client = self._issue("client", "provider-a", provider)
        self.client_b = self._issue("client-b", "provider-b", provider)
        self.expired_client = self._issue(
            "client-expired", "provider-expired", ExtendedKeyUsageOID.CLIENT_AUTH,
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1))
        self.untrusted_client = self._issue(
            "client-untrusted", "provider-rogue", ExtendedKeyUsageOID.CLIENT_AUTH,
            issuer=(rogue_key, rogue_cert))

    def _make_ca(self, cn, org="mod_cmi tests"):
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(cn, org)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(days=1))
            .not_valid_after(self._now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    def new_ca(self, stem, cn):
        """Another CA (key, certificate), its certificate written to <stem>.pem."""
        key, cert = self._make_ca(cn)
        _write(self.dir, stem, key, cert)
        return key, cert

    def issue(self, stem, cn, ekus, key=None, issuer=None):
        """An end-entity certificate of the test CA (or `issuer`): `ekus` a list of
        ExtendedKeyUsage OIDs, None for no extension; `key` any private key (default P-256)."""
        return self._issue(stem, cn, ekus, issuer=issuer, key=key)

    def crl(self, path: Path, revoked=(), issuer=None, next_update_days=7):
        """A PEM CRL of the test CA (or `issuer`) revoking the certificates `revoked`."""
        ca_key, ca_cert = issuer or (self._ca_key, self._ca_cert)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(ca_cert.subject)
                   .last_update(self._now - datetime.timedelta(days=1))
                   .next_update(self._now + datetime.timedelta(days=next_update_days)))
        for cred in revoked:
            cert = x509.load_pem_x509_certificate(cred.cert.read_bytes())
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                .revocation_date(self._now - datetime.timedelta(hours=1)).build())
        path.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return path

    def _issue(self, stem, cn, eku, san=None, issuer=None, not_before=None, not_after=None, key=None):
        ca_key, ca_cert = issuer or (self._ca_key, self._ca_cert)
        key = key or ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self._now - datetime.timedelta(days=1))
            .not_valid_after(not_after or self._now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
        )
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku if isinstance(eku, list) else [eku]),
                                            critical=False)
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_path, key_path = _write(self.dir, stem, key, cert)
        return Credential(cert=cert_path, key=key_path, subject_cn=cn)
