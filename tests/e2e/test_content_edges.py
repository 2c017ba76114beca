"""mod_cmi_content edge cases: LimitRequestBody as the `too-large` problem document,
refusals before `100 Continue`, empty bodies, chunked and Content-Length framing in
both modes, and clients that abort mid-body (no leaked spool file or descriptor, no crash)."""
import os
import socket
import ssl
import subprocess
import time

import pytest
import requests

from cmi_e2e.clients import curl
from cmi_e2e.content import UploadRig, cms_sign, raw_tls_request, www_owned_dir
from cmi_e2e.httpsig import sign_request
from cmi_e2e.problems import assert_problem

DAV_ERROR = r"dav:error.*(reading the request body|Could not get next bucket brigade)"
LIMIT_ERROR = r"dav:error|AH\d+.*(larger than|limit)|cgid:error"

CONFIG = """
<Location /dav/edge/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
</Location>
<Location /dav/edge/small/>
    LimitRequestBody 1000
</Location>
ScriptAlias /cgi-edge/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /cgi-edge/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
    LimitRequestBody 100000
</Location>
"""

CGI = """touch "{marker}"
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
echo "bytes=$(wc -c | tr -d ' ')"
"""


@pytest.fixture(scope="module")
def server(httpd):
    rig = UploadRig(httpd, "edge", CGI)
    www_owned_dir(rig.dav / "small")
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, keys=rig.keys, cgi=rig.cgi, spool=rig.spool))
    httpd.edge_key, httpd.edge_spool, httpd.edge_marker = rig.key, rig.spool, rig.marker
    return httpd


def hs_headers(server, path, body, method="PUT", **kw):
    return sign_request(method, server.url(path), body, server.edge_key, "edge", "ed25519",
                        components=("@method", "@target-uri", "content-digest"), **kw)


def head(server, method, path, headers):
    lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{server.https_port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def dav(server, name):
    return server.dav_dir / "edge" / name


# --- LimitRequestBody -> 413 too-large ------------------------------------------------

def test_declared_length_over_the_limit_is_refused_before_100_continue(server):
    # The signature is not even looked at: the declared size alone decides.
    got = raw_tls_request(server.https_port, server.pki.ca_cert,
                          head(server, "PUT", "/dav/edge/small/big.bin",
                               {"Content-Length": "5000", "Expect": "100-continue"}), b"x" * 5000)
    assert got.startswith(b"HTTP/1.1 413 "), got[:200]
    assert b"100 Continue" not in got
    assert b"application/problem+json" in got and b"tag:mod-cmi,2026:too-large" in got
    assert b"LimitRequestBody 1000" in got
    assert not dav(server, "small/big.bin").exists()


@pytest.mark.parametrize("path", ["/dav/edge/small/chunked.bin", "/cgi-edge/run.sh"])
def test_chunked_body_over_the_limit_is_the_problem_document(server, tmp_path, path):
    server.expect_error(LIMIT_ERROR)
    server.edge_marker.unlink(missing_ok=True)
    size = 5000 if path.startswith("/dav") else 300_000
    body = os.urandom(size)
    (tmp_path / "b").write_bytes(body)
    method = "PUT" if path.startswith("/dav") else "POST"
    headers = hs_headers(server, path, body, method=method, headers={"Transfer-Encoding": "chunked"})
    args = ["--http1.1", "-X", method, "-T", str(tmp_path / "b")]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    r = curl(server.url(path), *args, ca=server.pki.ca_cert)
    doc = assert_problem(r, 413, "too-large")
    assert "LimitRequestBody" in doc["detail"]
    assert not dav(server, "small/chunked.bin").exists()
    assert not server.edge_marker.exists()
    assert list(server.edge_spool.iterdir()) == []


# --- refused before 100-continue ---------------------------------------------------------

@pytest.mark.parametrize("headers, code", [
    ({"CMI-Content-Signature": "!!not base64!!"}, "signature-malformed"),
    ({"Signature-Input": "sig1=(\"@method\"", "Signature": "sig1=:AAAA:", "Content-Digest": "sha-256=:AA==:"},
     "signature-malformed"),
    ({"Content-Digest": "sha-256=:AA==:"}, "signature-required"),
])
def test_bad_signature_is_refused_before_100_continue(server, headers, code):
    h = dict(headers, **{"Content-Length": "5", "Expect": "100-continue"})
    got = raw_tls_request(server.https_port, server.pki.ca_cert, head(server, "PUT", "/dav/edge/expect.bin", h),
                          b"hello")
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert b"100 Continue" not in got
    assert f"tag:mod-cmi,2026:{code}".encode() in got
    assert not dav(server, "expect.bin").exists()


def test_curl_sees_no_100_continue_for_an_unsigned_upload(server, tmp_path):
    (tmp_path / "b").write_bytes(os.urandom(2_000_000))  # curl sends Expect: 100-continue for this size
    proc = subprocess.run(["curl", "-sS", "--http1.1", "-D", "-", "-o", str(tmp_path / "out"), "--cacert",
                           str(server.pki.ca_cert), "-H", "Expect: 100-continue", "-T", str(tmp_path / "b"),
                           server.url("/dav/edge/curl-expect.bin")], capture_output=True, timeout=60)
    heads = proc.stdout.decode(errors="replace")
    assert heads.startswith("HTTP/1.1 400 "), heads + proc.stderr.decode(errors="replace")
    assert "100 Continue" not in heads
    assert b"signature-required" in (tmp_path / "out").read_bytes()
    assert not dav(server, "curl-expect.bin").exists()


# --- empty bodies, both framings, both modes ------------------------------------------------

def test_empty_bodies(server, tmp_path):
    # http-signature, Content-Length: 0
    r = requests.put(server.url("/dav/edge/empty-hs.bin"), data=b"",
                     headers=hs_headers(server, "/dav/edge/empty-hs.bin", b""), verify=str(server.pki.ca_cert),
                     timeout=30)
    assert r.status_code == 201, r.text
    assert dav(server, "empty-hs.bin").read_bytes() == b""
    # cms, chunked with only the last chunk
    sig = cms_sign(b"", server.pki.client, tmp_path)
    got = raw_tls_request(server.https_port, server.pki.ca_cert,
                          head(server, "PUT", "/dav/edge/empty-chunked.bin",
                               {"Transfer-Encoding": "chunked", "CMI-Content-Signature": sig}) + b"0\r\n\r\n",
                          read_first=False)
    assert got.startswith(b"HTTP/1.1 201 "), got[:300]
    assert dav(server, "empty-chunked.bin").read_bytes() == b""
    # spool mode: the CGI gets a verified empty body
    server.edge_marker.unlink(missing_ok=True)
    r = requests.post(server.url("/cgi-edge/run.sh"), data=b"",
                      headers=hs_headers(server, "/cgi-edge/run.sh", b"", method="POST"),
                      verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    assert "validation=valid" in r.text and "bytes=0" in r.text
    # An empty body under a signature over other bytes is a mismatch, in both modes.
    server.expect_error(DAV_ERROR)
    headers = hs_headers(server, "/dav/edge/empty-bad.bin", b"x")
    headers["Content-Length"] = "0"  # the signer's headers name the signed length
    r = requests.put(server.url("/dav/edge/empty-bad.bin"), data=b"", headers=headers,
                     verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 422, "digest-mismatch")
    assert not dav(server, "empty-bad.bin").exists()
    server.edge_marker.unlink(missing_ok=True)
    r = requests.post(server.url("/cgi-edge/run.sh"), data=b"",
                      headers={"CMI-Content-Signature": cms_sign(b"x", server.pki.client, tmp_path)},
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 422, "digest-mismatch")
    assert not server.edge_marker.exists()


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("good", [True, False])
@pytest.mark.parametrize("spool", [False, True])
def test_framing_by_mode(server, tmp_path, chunked, good, spool):
    if not good and not spool:
        server.expect_error(DAV_ERROR)
    server.edge_marker.unlink(missing_ok=True)
    body = os.urandom(70_000)
    path = "/cgi-edge/run.sh" if spool else f"/dav/edge/frame-{chunked}-{good}.bin"
    method = "POST" if spool else "PUT"
    extra = {"Transfer-Encoding": "chunked"} if chunked else None
    headers = hs_headers(server, path, body, method=method, headers=extra)
    sent = body if good else body[:-1] + bytes([body[-1] ^ 1])
    (tmp_path / "b").write_bytes(sent)
    args = ["--http1.1", "-X", method, "-T", str(tmp_path / "b")]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    r = curl(server.url(path), *args, ca=server.pki.ca_cert)
    if good:
        assert r.status in (200, 201, 204), r.body
        if spool:
            assert b"validation=valid" in r.body and f"bytes={len(body)}".encode() in r.body
        else:
            assert dav(server, f"frame-{chunked}-{good}.bin").read_bytes() == body
    else:
        assert_problem(r, 422, "digest-mismatch")
        assert not server.edge_marker.exists() if spool else not dav(server, f"frame-{chunked}-{good}.bin").exists()
    assert list(server.edge_spool.iterdir()) == []


# --- client abort ----------------------------------------------------------------------------

def children(server) -> list[int]:
    parent = int((server.root / "run" / "httpd.pid").read_text())
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def open_spool_files(server) -> list[str]:
    found = []
    for pid in children(server):
        fd_dir = f"/proc/{pid}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(f"{fd_dir}/{fd}")
                except OSError:
                    continue
                if "cmi-spool-" in target:
                    found.append(f"{pid}: {target}")
        except OSError:
            continue
    return found


@pytest.mark.parametrize("chunked", [False, True])
def test_aborted_uploads_leak_nothing_and_crash_nothing(server, chunked):
    server.expect_error(DAV_ERROR)
    offset = server.log_size()
    body = os.urandom(1_000_000)
    for i in range(6):
        path = "/cgi-edge/run.sh" if i % 2 else f"/dav/edge/abort-{chunked}-{i}.bin"
        method = "POST" if i % 2 else "PUT"
        headers = hs_headers(server, path, body, method=method,
                             headers={"Transfer-Encoding": "chunked"} if chunked else None)
        if chunked:
            headers.pop("Content-Length", None)
        ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert))
        with socket.create_connection(("127.0.0.1", server.https_port), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(head(server, method, path, headers).replace(b"Connection: close\r\n", b""))
                half = body[:len(body) // 2]
                s.sendall(b"%x\r\n" % len(half) + half + b"\r\n" if chunked else half)
                time.sleep(0.3)  # let the server read some of it (no timing assertion)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (open_spool_files(server) or list(server.edge_spool.iterdir())):
        time.sleep(0.2)
    assert open_spool_files(server) == []
    assert list(server.edge_spool.iterdir()) == []
    assert not list((server.dav_dir / "edge").glob(f"abort-{chunked}-*"))
    log = server.log_since(offset)
    assert "exit signal" not in log and "Segmentation" not in log
    # The server still serves.
    r = requests.put(server.url("/dav/edge/after-abort.bin"), data=b"ok",
                     headers=hs_headers(server, "/dav/edge/after-abort.bin", b"ok"), verify=str(server.pki.ca_cert),
                     timeout=30)
    assert r.status_code in (201, 204)
