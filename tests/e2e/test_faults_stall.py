"""Faults: a client that stalls mid-body on a validated upload. mod_reqtimeout's body
timeout applies: the server gives the connection up (408 or close) instead of holding a
worker, nothing is stored, no spool file is left, the CGI never runs, and the server
goes on answering."""
import os
import socket
import ssl
import time

import pytest
import requests

from cmi_e2e.content import UploadRig
from cmi_e2e.httpsig import sign_request

# mod_reqtimeout gives up on the body; the handler then logs its failed read.
STALL_ERRORS = r"dav:error|cgid:error|AH01382|AH01392|mod_cmi_content"

CONFIG = """
<Location /dav/stall/>
    CMIContentValidation Required
    CMIContentSignerKeys "{keys}"
</Location>
ScriptAlias /cgi-stall/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /cgi-stall/>
    CMIContentValidation Required
    CMIContentSignerKeys "{keys}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
</Location>
"""

CGI = """touch "{marker}"
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
"""

BODY_TIMEOUT = 2  # seconds without body bytes before mod_reqtimeout gives up


@pytest.fixture(scope="module")
def server(httpd):
    rig = UploadRig(httpd, "stall", CGI)
    reqtimeout = (f'LoadModule reqtimeout_module "{httpd.stock_dir}/mod_reqtimeout.so"\n'
                  f"RequestReadTimeout header=10 body={BODY_TIMEOUT}\n")
    httpd.configure(CONFIG.format(keys=rig.keys, cgi=rig.cgi, spool=rig.spool), server_snippet=reqtimeout)
    httpd.stall_key, httpd.stall_spool, httpd.stall_marker = rig.key, rig.spool, rig.marker
    return httpd


def stalled_upload(server, method, path, body: bytes) -> bytes:
    """Sends the signed head and half the body, then nothing. Returns what the server
    sent before it closed the connection; a socket timeout (server still holding the
    connection long after mod_reqtimeout's limit) fails the test."""
    headers = sign_request(method, server.url(path), body, server.stall_key, "stall", "ed25519",
                           components=("@method", "@target-uri", "content-digest"))
    assert headers["Content-Length"] == str(len(body))
    lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{server.https_port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + ["", ""]
    ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    with socket.create_connection(("127.0.0.1", server.https_port), timeout=10 * BODY_TIMEOUT + 20) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall("\r\n".join(lines).encode() + body[: len(body) // 2])
            got = b""
            try:
                while chunk := s.recv(65536):
                    got += chunk
            except (ssl.SSLError, ConnectionResetError):
                pass  # a reset is a close too
            except (TimeoutError, socket.timeout):
                pytest.fail("the server still held the stalled connection long after RequestReadTimeout")
            return got


def assert_gave_up(reply: bytes):
    # 408 from mod_reqtimeout, or the connection simply closed: never a success.
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408 "), reply[:200]


def test_stalled_upload_to_dav_is_given_up_and_stores_nothing(server):
    server.expect_error(STALL_ERRORS)
    body = os.urandom(200_000)
    assert_gave_up(stalled_upload(server, "PUT", "/dav/stall/stalled.bin", body))
    assert not (server.dav_dir / "stall" / "stalled.bin").exists()


def test_stalled_upload_in_spool_mode_runs_no_cgi_and_leaves_no_spool_file(server):
    server.expect_error(STALL_ERRORS)
    server.stall_marker.unlink(missing_ok=True)
    body = os.urandom(200_000)
    assert_gave_up(stalled_upload(server, "POST", "/cgi-stall/run.sh", body))
    assert not server.stall_marker.exists()
    deadline = time.monotonic() + 10  # the child removes its spool file as the request ends
    while list(server.stall_spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(server.stall_spool.iterdir()) == []


def test_server_still_answers_after_stalled_clients(server):
    body = b"after the stall"
    headers = sign_request("PUT", server.url("/dav/stall/after.bin"), body, server.stall_key, "stall", "ed25519",
                           components=("@method", "@target-uri", "content-digest"))
    r = requests.put(server.url("/dav/stall/after.bin"), data=body, headers=headers,
                     verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code in (201, 204), r.text
    assert (server.dav_dir / "stall" / "after.bin").read_bytes() == body
