"""Helpers for mod_cmi_content tests: signing with real tools, CGI scripts, raw requests."""
import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from cmi_e2e.config import harness_config


def cms_sign(data: bytes, cred, tmp: Path, md: str | None = None) -> str:
    """The CMI-Content-Signature value, made by the openssl CLI as a provider would."""
    src, out = tmp / "content.bin", tmp / "content.p7s"
    src.write_bytes(data)
    cmd = ["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(src),
           "-signer", str(cred.cert), "-inkey", str(cred.key), "-out", str(out)]
    if md:
        cmd += ["-md", md]
    subprocess.run(cmd, check=True, capture_output=True)
    return base64.b64encode(out.read_bytes()).decode()


def tamper_signature(header: str) -> str:
    """Flips the last byte of the DER: the signature value of the only SignerInfo."""
    der = bytearray(base64.b64decode(header))
    der[-1] ^= 0x01
    return base64.b64encode(bytes(der)).decode()


def flip_last_byte(data: bytes) -> bytes:
    """The body with its last byte changed, whatever that byte was (a fixed
    replacement byte equals a random body's last byte once in 256 runs)."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


def www_owned_dir(path: Path) -> Path:
    """A directory the httpd children (the configured httpd user when run as root) may write to."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        cfg = harness_config()
        shutil.chown(path, cfg.httpd_user, cfg.httpd_group)
    return path


_BOUND_LOCATION = """
<Location /dav/bound/>
    AuthType Basic
    AuthName "cmi"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    CMIContentBindSigner On
</Location>
"""


def bound_location(httpd, htpasswd_name: str) -> str:
    """/dav/bound/ (a WebDAV directory made here): Basic users provider-a and provider-b
    (password "secret") whose uploads must be signed by themselves. The configuration text."""
    htpasswd = httpd.root / "conf" / htpasswd_name
    sha = base64.b64encode(hashlib.sha1(b"secret").digest()).decode()
    htpasswd.write_text(f"provider-a:{{SHA}}{sha}\nprovider-b:{{SHA}}{sha}\n")
    www_owned_dir(httpd.dav_dir / "bound")
    return _BOUND_LOCATION.format(htpasswd=htpasswd)


def write_cgi(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def raw_tls_request(port: int, ca: Path, head: bytes, body: bytes | None = None,
                    read_first: bool = True, timeout: float = 20) -> bytes:
    """Sends a request head over TLS; with read_first, reads the first answer before
    any body is sent (for Expect: 100-continue). Returns all bytes received."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(head)
            got = b""
            if read_first:
                got = s.recv(65536)
                if got.startswith(b"HTTP/1.1 100") and body is not None:
                    s.sendall(body)
            elif body is not None:
                s.sendall(body)
            try:
                while chunk := s.recv(65536):
                    got += chunk
            except (TimeoutError, socket.timeout, ssl.SSLError, ConnectionResetError):
                pass
            return got


class UploadRig:
    """What an upload test module sets up on the shared httpd, under one name:
    an Ed25519 signer key published in conf/<name>-keys/<name>.pem (for
    CMIContentSignerKeys), the CGI cgi-bin-<name>/run.sh made from `cgi` (its
    "{marker}" is a file the CGI touches when it runs), a spool directory and
    dav/<name>, all writable by the children."""

    def __init__(self, httpd, name: str, cgi: str):
        from .httpsig import new_key, public_pem
        root = httpd.root
        self.keys = root / "conf" / f"{name}-keys"
        self.keys.mkdir(exist_ok=True)
        self.key = new_key("ed25519")
        (self.keys / f"{name}.pem").write_bytes(public_pem(self.key))
        self.cgi = root / f"cgi-bin-{name}"
        self.marker = www_owned_dir(root / "var" / f"{name}-markers") / "ran"
        write_cgi(self.cgi / "run.sh", cgi.format(marker=self.marker))
        self.spool = www_owned_dir(root / "var" / f"spool-{name}")
        self.dav = www_owned_dir(httpd.dav_dir / name)


def cmi_sign(*args: str) -> dict:
    """Runs tools/cmi-sign; returns the headers it prints."""
    build = Path(os.environ.get("CMI_BUILD_DIR", Path(__file__).resolve().parents[3] / "build"))
    proc = subprocess.run([str(build / "tools" / "cmi-sign"), *args], capture_output=True, text=True, check=True)
    return dict(line.split(": ", 1) for line in proc.stdout.splitlines())
