"""A small RFC 7616 Digest client (qop=auth, SHA-256 or MD5), independent of the server code."""
import hashlib
import os
import re

import requests

_PARAM = re.compile(r'([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


def challenges(resp) -> list[dict]:
    """Every WWW-Authenticate challenge of a response, as {"scheme": ..., params...}."""
    out = []
    for value in resp.raw.headers.getlist("WWW-Authenticate"):
        scheme, _, rest = value.partition(" ")
        params = {"scheme": scheme}
        for name, val in _PARAM.findall(rest):
            if val.startswith('"'):
                val = re.sub(r"\\(.)", r"\1", val[1:-1])
            params[name.lower()] = val
        out.append(params)
    return out


def digest_challenge(resp, algorithm: str) -> dict:
    for c in challenges(resp):
        if c["scheme"].lower() == "digest" and c.get("algorithm", "MD5").upper() == algorithm.upper():
            return c
    raise AssertionError(f"no Digest {algorithm} challenge in {challenges(resp)}")


def _h(algorithm: str, s: str) -> str:
    return (hashlib.sha256 if algorithm.upper() == "SHA-256" else hashlib.md5)(s.encode()).hexdigest()


def authorization(chal: dict, user: str, password: str, method: str, uri: str, nc: int = 1,
                  cnonce: str | None = None, algorithm: str | None = None) -> str:
    algorithm = algorithm or chal.get("algorithm", "MD5")
    cnonce = cnonce or os.urandom(8).hex()
    realm, nonce = chal["realm"], chal["nonce"]
    ha1 = _h(algorithm, f"{user}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    ncs = f"{nc:08x}"
    response = _h(algorithm, f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
    quoted_user = user.replace("\\", "\\\\").replace('"', '\\"')  # RFC 9110 quoted-string
    return (f'Digest username="{quoted_user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm={algorithm}, qop=auth, nc={ncs}, cnonce="{cnonce}", response="{response}"')


_LOCATION = """
<Location {path}>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms digest
    AuthUserFile "{users}"
    Require valid-user
</Location>
"""


def location(path: str, realm: str, users) -> str:
    """A location that takes Digest credentials of the users file `users`, nothing else."""
    return _LOCATION.format(path=path, realm=realm, users=users)


def users_file(httpd, name: str, realm: str, user: str, password: str, page: str | None = None):
    """conf/<name>.digest with one SHA-256 entry (what cmi-htdigest writes), readable by the
    children; with `page`, the document /<name>/hello.txt holding it."""
    if page is not None:
        (httpd.docroot / name).mkdir(exist_ok=True)
        (httpd.docroot / name / "hello.txt").write_text(page)
    path = httpd.root / "conf" / f"{name}.digest"
    ha1 = _h("SHA-256", f"{user}:{realm}:{password}")
    path.write_text(f"{user}:{realm}:{ha1}\n")
    path.chmod(0o644)
    return path


def get(url: str, header: str | None, ca) -> requests.Response:
    headers = {"Authorization": header} if header else {}
    return requests.get(url, headers=headers, verify=str(ca), timeout=30, stream=False)
