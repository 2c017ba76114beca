"""Real clients: curl and openssl s_client, run as a user would run them."""
import json
import subprocess
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)  # lower-case name -> list of values
    body: bytes = b""
    http_version: str = ""  # "1.1", "2"

    def header(self, name: str):
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def json(self):
        return json.loads(self.body)


def _parse_headers(raw: str) -> tuple[int, dict, str]:
    # With redirects or 100-continue curl writes several header blocks: keep the last.
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip()]
    lines = blocks[-1].split("\n") if blocks else ["HTTP/1.1 000"]
    version, status = lines[0].split()[0].split("/")[1], int(lines[0].split()[1])
    headers: dict = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, version


# curl 7.88's exit code when an HTTP/2 stream is reset. A server may answer an
# upload before it has all of it and then reset the stream with NO_ERROR
# (RFC 9113 §8.1, "clients MUST NOT discard responses" for it); this curl
# still calls that an error, after writing the whole response.
CURL_H2_STREAM_RESET = 92


def curl(url: str, *args: str, ca=None, cert=None, data: bytes | None = None,
         timeout: float = 30, early_answer_ok: bool = False) -> Response:
    """One request with curl; args are extra curl options (e.g. "-X", "PUT").
    early_answer_ok: a response followed by a stream reset (see above) counts. When
    the reset arrives in the same read as the response, this curl drops the response
    too (error 92, nothing written, although httpd sent HEADERS, DATA with END_STREAM
    and then RST_STREAM NO_ERROR): the request is then sent again, a few times.
    Only for requests whose repetition changes nothing (a refusal, an idempotent PUT)."""
    tries = 20  # a loaded machine makes the same-read case common: five were seen to fail
    for attempt in range(tries):
        resp = _curl_once(url, *args, ca=ca, cert=cert, data=data, timeout=timeout, early_answer_ok=early_answer_ok)
        if resp is not None:
            return resp
        time.sleep(0.05 * attempt)  # another moment, another interleaving of the two frames
    raise RuntimeError(f"curl failed ({CURL_H2_STREAM_RESET}) {tries} times without a response")


def _curl_once(url: str, *args: str, ca=None, cert=None, data: bytes | None = None,
               timeout: float = 30, early_answer_ok: bool = False) -> Response | None:
    with tempfile.TemporaryDirectory() as tmp:
        body_path = Path(tmp) / "body"
        cmd = ["curl", "-sS", "-D", "-", "-o", str(body_path), "--max-time", str(timeout)]
        if ca:
            cmd += ["--cacert", str(ca)]
        if cert:
            cmd += ["--cert", str(cert.cert), "--key", str(cert.key)]
        if data is not None and "-T" not in args:
            cmd += ["--data-binary", "@-"]  # with -T - the data is the upload instead
        cmd += list(args) + [url]
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout + 5)
        content = body_path.read_bytes() if body_path.exists() else b""
    answered = proc.stdout.startswith(b"HTTP/")
    if early_answer_ok and proc.returncode == CURL_H2_STREAM_RESET and not answered:
        return None
    if proc.returncode != 0 and not (early_answer_ok and proc.returncode == CURL_H2_STREAM_RESET):
        raise RuntimeError(f"curl failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    status, headers, version = _parse_headers(proc.stdout.decode(errors="replace"))
    return Response(status, headers, content, version)


def s_client_request(port: int, request: bytes, *tls_args: str, ca=None,
                     timeout: float = 20) -> bytes:
    """Sends a raw HTTP request through `openssl s_client`; returns what came back."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
           "-quiet", "-verify_return_error"]
    if ca:
        cmd += ["-CAfile", str(ca)]
    cmd += list(tls_args)
    proc = subprocess.run(cmd, input=request, capture_output=True, timeout=timeout)
    return proc.stdout
