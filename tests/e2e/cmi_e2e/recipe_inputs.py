"""What the docs' readers bring: the administrator's certificates (docs/deployment.md)
and a provider's credentials and files (docs/client-guide.md)."""
import datetime
import os
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DIGEST_PASSWORD = "b-Digest-passw0rd"


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(cn, key, issuer_cert, issuer_key, ca=False, ekus=(), san=None, age_days=0):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=age_days)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "recipe test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=not ca, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True))
    if ekus:
        b = b.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def _write(path: Path, data: bytes, mode=0o644):
    path.write_bytes(data)
    path.chmod(mode)


def make(admin: Path, provider: Path, server_name: str):
    """admin/: cmc.example.com.pem/.key, provider-ca.pem, content-ca.pem, provider-a-ed25519.pub;
    provider/: provider.pem/.key (provider-a), provider-b.pem/.key, signing-key.pem, cmc-ca.pem,
    cmc.netrc (provider-b's Digest password), song-*.mp3."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("recipe test CA", ca_key, None, None, ca=True)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(server_name, server_key, ca, ca_key, ekus=[ExtendedKeyUsageOID.SERVER_AUTH], san=server_name)
    _write(admin / f"{server_name}.pem", pem(server))
    _write(admin / f"{server_name}.key", _pem_key(server_key), 0o600)
    for name in ("provider-ca.pem", "content-ca.pem"):
        _write(admin / name, pem(ca))
    _write(provider / "cmc-ca.pem", pem(ca))
    providers = {}
    for stem, cn in (("provider", "provider-a"), ("provider-b", "provider-b")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(cn, key, ca, ca_key, ekus=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION])
        _write(provider / f"{stem}.pem", pem(cert))
        _write(provider / f"{stem}.key", _pem_key(key), 0o600)
        providers[cn] = (provider / f"{stem}.pem", provider / f"{stem}.key")
    # for the troubleshooting cases: expired (this CA), and from a CA the CMC does not know
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _cert("rogue CA", rogue_key, None, None, ca=True)
    client_eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
    for stem, issuer, age in (("expired", (ca, ca_key), 60), ("rogue", (rogue, rogue_key), 0)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(provider / f"{stem}.pem", pem(_cert("provider-a", key, *issuer, ekus=client_eku, age_days=age)))
        _write(provider / f"{stem}.key", _pem_key(key), 0o600)
    signing = ed25519.Ed25519PrivateKey.generate()
    _write(provider / "signing-key.pem", _pem_key(signing), 0o600)
    _write(admin / "provider-a-ed25519.pub", signing.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    _write(provider / "cmc.netrc", f"machine {server_name} login provider-b password {DIGEST_PASSWORD}\n".encode(),
           0o600)
    for i in range(1, 6):
        _write(provider / f"song-{i}.mp3", f"song {i} ".encode() * 100 + os.urandom(1000))
    shutil.chown(admin, "root", "root")
    return providers
