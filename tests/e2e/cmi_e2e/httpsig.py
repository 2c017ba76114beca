"""An RFC 9421 / RFC 9530 request signer written against python3-cryptography,
independent of the C++ verifier it tests."""
import base64
import hashlib
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def new_key(alg: str):
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ecdsa-p256-sha256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ecdsa-p384-sha384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def location(path: str, keys) -> str:
    """A location that requires RFC 9421 signatures by the keys in the directory `keys`."""
    return (f"<Location {path}>\n    CMIContentValidation Required\n    CMIContentFormats http-signature\n"
            f'    CMIContentSignerKeys "{keys}"\n</Location>\n')


def content_digest(body: bytes, alg: str = "sha-256") -> str:
    h = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512, "sha": hashlib.sha1}[alg](body).digest()
    return f"{alg}=:{base64.b64encode(h).decode()}:"


def _sign(key, alg: str, base: bytes) -> bytes:
    if alg == "ed25519":
        return key.sign(base)
    if alg.startswith("ecdsa"):
        h, size = (hashes.SHA256(), 32) if alg == "ecdsa-p256-sha256" else (hashes.SHA384(), 48)
        r, s = decode_dss_signature(key.sign(base, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "rsa-pss-sha512":
        return key.sign(base, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64), hashes.SHA512())
    return key.sign(base, padding.PKCS1v15(), hashes.SHA256())


def sign_request(method: str, url: str, body: bytes, key, keyid: str, alg: str | None,
                 components=("@method", "@target-uri", "content-digest", "content-type", "content-length"),
                 headers: dict | None = None, created: int | None = None, expires: int | None = None,
                 nonce: str | None = None, digest_alg: str = "sha-256", label: str = "sig1") -> dict:
    """Returns the request headers (Content-Digest, Signature-Input, Signature, ...)."""
    parts = urlsplit(url)
    out = dict(headers or {})
    out.setdefault("Content-Type", "application/octet-stream")
    out["Content-Digest"] = content_digest(body, digest_alg)
    if "Transfer-Encoding" not in out:
        out["Content-Length"] = str(len(body))
    fields = {k.lower(): v for k, v in out.items()}
    lines = []
    for c in components:
        if c == "@method":
            v = method
        elif c == "@target-uri":
            v = url
        elif c == "@authority":
            v = parts.netloc.lower()
        elif c == "@path":
            v = parts.path
        elif c == "@query":
            v = "?" + parts.query
        elif c == "@scheme":
            v = parts.scheme
        elif c == "@request-target":
            v = parts.path + ("?" + parts.query if parts.query else "")
        else:
            v = fields[c].strip()
        lines.append(f'"{c}": {v}')
    params = "(" + " ".join(f'"{c}"' for c in components) + ")"
    params += f";created={created if created is not None else int(time.time())}"
    if expires is not None:
        params += f";expires={expires}"
    if nonce is not None:
        params += f';nonce="{nonce}"'
    params += f';keyid="{keyid}"'
    if alg:
        params += f';alg="{alg}"'
    lines.append(f'"@signature-params": {params}')
    base = "\n".join(lines).encode()
    sig = _sign(key, alg or "ed25519", base)
    out["Signature-Input"] = f"{label}={params}"
    out["Signature"] = f"{label}=:{base64.b64encode(sig).decode()}:"
    return out
