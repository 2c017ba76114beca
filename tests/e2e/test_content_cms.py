"""mod_cmi_content (CMI §6.4), format `cms`: signed uploads to mod_dav and CGIs."""
import base64
import hashlib
import os
import socket
import ssl
import subprocess
import time

import pytest
import requests

from cmi_e2e.clients import curl
from cmi_e2e.content import (bound_location, cmi_sign, cms_sign, flip_last_byte, raw_tls_request, tamper_signature,
                             write_cgi, www_owned_dir)
from cmi_e2e.problems import assert_problem

DAV_ERROR = r"dav:error.*(reading the request body|Could not get next bucket brigade)"

CONFIG = """
<Location /dav/>
    CMIContentValidation Required
    CMIContentFormats cms
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /dav/limited/>
    LimitRequestBody 1000
</Location>
<Location /dav/sha256only/>
    CMIContentDigestAlgorithms sha-256
</Location>
ScriptAlias /cgi-spool-limited/ "{cgi}/"
<Location /cgi-spool-limited/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
    LimitRequestBody 1000
</Location>
ScriptAlias /cgi/ "{cgi}/"
ScriptAlias /cgi-spool/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /cgi/>
    CMIContentValidation Optional
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /cgi-spool/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
</Location>
"""

ENV_CGI = """echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
echo "format=$CMI_CONTENT_FORMAT"
echo "signer=$CMI_CONTENT_SIGNER"
echo "digest=$CMI_CONTENT_DIGEST"
echo "length=$CONTENT_LENGTH"
echo "body=$(sha256sum | cut -d' ' -f1)"
"""

MARKER_CGI = """touch "{marker}"
cat > /dev/null
echo "Content-Type: text/plain"
echo
echo "validation=$CMI_CONTENT_VALIDATION"
"""


@pytest.fixture(scope="module")
def server(httpd, tmp_path_factory):
    root = httpd.root
    cgi = root / "cgi-bin"
    spool = www_owned_dir(root / "var" / "spool")
    markers = www_owned_dir(root / "var" / "markers")
    write_cgi(cgi / "env.sh", ENV_CGI)
    write_cgi(cgi / "marker.sh", MARKER_CGI.format(marker=markers / "ran"))
    for d in ("limited", "sha256only"):
        www_owned_dir(httpd.dav_dir / d)
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, cgi=cgi, spool=spool, dav=httpd.dav_dir)
                    + bound_location(httpd, "htpasswd"))
    httpd.spool_dir, httpd.marker = spool, markers / "ran"
    return httpd


def put(server, path, data, headers=None, auth=None):
    return requests.put(server.url(path), data=data, headers=headers or {},
                        verify=str(server.pki.ca_cert), timeout=60, auth=auth)


def signed(server, tmp, data, cred=None, md=None):
    return {"CMI-Content-Signature": cms_sign(data, cred or server.pki.client, tmp, md)}


def no_file(server, name):
    return not (server.dav_dir / name).exists() and not list(server.dav_dir.glob(f"*{name}*"))


def refused_upload(server, tmp, name, status, code, cred=None, md=None):
    """A PUT of /dav/<name> signed with `cred`/`md` is refused with `code` and leaves no file."""
    data = b"content"
    doc = assert_problem(put(server, f"/dav/{name}", data, signed(server, tmp, data, cred, md)), status, code)
    assert no_file(server, name)
    return doc


# --- success --------------------------------------------------------------------

def test_openssl_signed_upload_with_curl_is_created(server, tmp):
    data = os.urandom(200_000)
    (tmp / "upload.bin").write_bytes(data)
    header = cms_sign(data, server.pki.client, tmp)
    r = curl(server.url("/dav/curl.bin"), "-T", str(tmp / "upload.bin"),
             "-H", f"CMI-Content-Signature: {header}", ca=server.pki.ca_cert)
    assert r.status == 201, r.body
    assert (server.dav_dir / "curl.bin").read_bytes() == data


@pytest.mark.parametrize("md", ["sha256", "sha512"])
def test_cmi_sign_cms_upload_with_curl(server, tmp, md):
    data = os.urandom(123_456)
    (tmp / "upload.bin").write_bytes(data)
    headers = cmi_sign("cms", "--cert", str(server.pki.client_b.cert), "--key", str(server.pki.client_b.key),
                       "--md", md, str(tmp / "upload.bin"))
    r = curl(server.url(f"/dav/cmi-sign-{md}.bin"), "-T", str(tmp / "upload.bin"),
             "-H", f"CMI-Content-Signature: {headers['CMI-Content-Signature']}", ca=server.pki.ca_cert)
    assert r.status == 201, r.body
    assert (server.dav_dir / f"cmi-sign-{md}.bin").read_bytes() == data
    # The same header over other bytes is refused (on its target: elsewhere it is
    # refused before the body as signature-reused).
    (tmp / "other.bin").write_bytes(data[::-1])
    server.expect_error(DAV_ERROR)
    r = curl(server.url(f"/dav/cmi-sign-{md}.bin"), "-T", str(tmp / "other.bin"),
             "-H", f"CMI-Content-Signature: {headers['CMI-Content-Signature']}", ca=server.pki.ca_cert)
    assert_problem(r, 422, "digest-mismatch")
    assert (server.dav_dir / f"cmi-sign-{md}.bin").read_bytes() == data


def test_chunked_upload_is_created(server, tmp):
    data = os.urandom(300_000)
    (tmp / "upload.bin").write_bytes(data)
    # Other test modules share the DAV root and may have made a file of that name.
    (server.dav_dir / "chunked.bin").unlink(missing_ok=True)
    header = cms_sign(data, server.pki.client, tmp)
    r = curl(server.url("/dav/chunked.bin"), "--http1.1", "-T", str(tmp / "upload.bin"),
             "-H", "Transfer-Encoding: chunked", "-H", f"CMI-Content-Signature: {header}",
             ca=server.pki.ca_cert)
    assert r.status == 201, r.body
    assert (server.dav_dir / "chunked.bin").read_bytes() == data


def test_requests_upload_with_sha512_and_empty_body(server, tmp):
    data = b"song-1 bytes\n" * 1000
    r = put(server, "/dav/sha512.bin", data, signed(server, tmp, data, md="sha512"))
    assert r.status_code == 201
    assert (server.dav_dir / "sha512.bin").read_bytes() == data
    r = put(server, "/dav/empty.bin", b"", signed(server, tmp, b""))
    assert r.status_code == 201
    assert (server.dav_dir / "empty.bin").read_bytes() == b""


# --- refusals ---------------------------------------------------------------------

def test_flipped_byte_is_digest_mismatch_and_leaves_no_file(server, tmp):
    server.expect_error(DAV_ERROR)
    data = os.urandom(100_000)
    header = signed(server, tmp, data)
    flipped = bytearray(data)
    flipped[54_321] ^= 0x40
    offset = server.log_size()
    r = put(server, "/dav/flipped.bin", bytes(flipped), header)
    doc = assert_problem(r, 422, "digest-mismatch")
    assert no_file(server, "flipped.bin")
    assert doc["transaction_id"] in server.log_since(offset)


def test_flipped_last_byte_with_content_length(server, tmp):
    server.expect_error(DAV_ERROR)
    data = bytearray(os.urandom(90_000))
    header = signed(server, tmp, bytes(data))
    data[-1] ^= 0x80
    r = put(server, "/dav/flipped-last.bin", bytes(data), header)
    assert_problem(r, 422, "digest-mismatch")
    assert no_file(server, "flipped-last.bin")


def flipped_upload(server, tmp, size: int, at: int):
    """`size` random bytes, signed, then byte `at` flipped, in a file for curl -T; (the
    file, the CMI-Content-Signature value)."""
    data = bytearray(os.urandom(size))
    header = cms_sign(bytes(data), server.pki.client, tmp)
    data[at] ^= 0x01
    (tmp / "upload.bin").write_bytes(data)
    return tmp / "upload.bin", header


def test_flipped_byte_in_chunked_upload(server, tmp):
    server.expect_error(DAV_ERROR)
    upload, header = flipped_upload(server, tmp, 150_000, -1)
    r = curl(server.url("/dav/flipped-chunked.bin"), "--http1.1", "-T", str(upload),
             "-H", "Transfer-Encoding: chunked", "-H", f"CMI-Content-Signature: {header}",
             ca=server.pki.ca_cert)
    assert_problem(r, 422, "digest-mismatch")
    assert no_file(server, "flipped-chunked.bin")


def test_flipped_byte_over_http2(server, tmp):
    server.expect_error(DAV_ERROR)
    upload, header = flipped_upload(server, tmp, 70_000, 0)
    r = curl(server.url("/dav/flipped-h2.bin"), "--http2", "-T", str(upload),
             "-H", f"CMI-Content-Signature: {header}", ca=server.pki.ca_cert)
    assert r.http_version == "2"
    assert_problem(r, 422, "digest-mismatch")
    assert no_file(server, "flipped-h2.bin")


@pytest.mark.parametrize("good", [True, False])
def test_http2_upload_of_unknown_length(server, tmp, good):
    # `-T -` streams stdin: no Content-Length, the body ends with the h2 stream.
    if not good:
        server.expect_error(DAV_ERROR)
    data = os.urandom(250_000)
    header = cms_sign(data, server.pki.client, tmp)
    body = data if good else data[:-1] + bytes([data[-1] ^ 1])
    name = f"h2-stdin-{good}.bin"
    r = curl(server.url(f"/dav/{name}"), "--http2", "-T", "-", "-H", f"CMI-Content-Signature: {header}",
             ca=server.pki.ca_cert, data=body)
    assert r.http_version == "2"
    if good:
        assert r.status == 201, r.body
        assert (server.dav_dir / name).read_bytes() == data
    else:
        assert_problem(r, 422, "digest-mismatch")
        assert no_file(server, name)


def test_existing_file_survives_a_failed_overwrite(server, tmp):
    server.expect_error(DAV_ERROR)
    good = b"version 1\n"
    assert put(server, "/dav/keep.txt", good, signed(server, tmp, good)).status_code == 201
    r = put(server, "/dav/keep.txt", b"version 2\n", signed(server, tmp, b"version 3\n"))
    assert_problem(r, 422, "digest-mismatch")
    assert (server.dav_dir / "keep.txt").read_bytes() == good


@pytest.mark.parametrize("good", [True, False])
def test_handler_error_before_reading_is_kept(server, tmp, good):
    # mod_dav answers 409 (no parent collection) without reading the body; httpd
    # then discards the body through our filter, which must not replace the 409.
    server.expect_error(r"dav:error.*no-such-collection")
    data = os.urandom(30_000)
    header = signed(server, tmp, data)
    body = data if good else flip_last_byte(data)
    offset = server.log_size()
    r = put(server, "/dav/no-such-collection/x.bin", body, header)
    assert r.status_code == 409, r.text
    assert not (server.dav_dir / "no-such-collection").exists()
    # The discarded body was still judged, and a mismatch is on record.
    assert ("digest-mismatch" in server.log_since(offset)) is not good


def test_tampered_signature_is_signature_invalid(server, tmp):
    data = b"content"
    header = {"CMI-Content-Signature": tamper_signature(cms_sign(data, server.pki.client, tmp))}
    r = put(server, "/dav/tampered.bin", data, header)
    assert_problem(r, 422, "signature-invalid")
    assert no_file(server, "tampered.bin")


def test_untrusted_ca_is_signer_untrusted(server, tmp):
    doc = refused_upload(server, tmp, "rogue.bin", 403, "signer-untrusted", cred=server.pki.untrusted_client)
    assert "not trusted" in doc["detail"]


def test_expired_signer_is_refused(server, tmp):
    doc = refused_upload(server, tmp, "expired.bin", 403, "signer-untrusted", cred=server.pki.expired_client)
    assert "expired" in doc["detail"]


def test_sha1_is_refused(server, tmp):
    doc = refused_upload(server, tmp, "sha1.bin", 400, "signature-malformed", md="sha1")
    assert "SHA1" in doc["detail"].upper()


def test_sha512_refused_where_only_sha256_is_configured(server, tmp):
    data = b"content"
    r = put(server, "/dav/sha256only/x.bin", data, signed(server, tmp, data, md="sha512"))
    assert_problem(r, 400, "signature-malformed")
    r = put(server, "/dav/sha256only/y.bin", data, signed(server, tmp, data))
    assert r.status_code == 201


def test_missing_signature_where_required(server):
    r = put(server, "/dav/unsigned.bin", b"content")
    doc = assert_problem(r, 400, "signature-required")
    assert "CMI-Content-Signature" in doc["detail"]
    assert no_file(server, "unsigned.bin")


def test_requests_without_content_need_no_signature(server, tmp):
    data = b"to be deleted"
    assert put(server, "/dav/delete-me.bin", data, signed(server, tmp, data)).status_code == 201
    r = requests.delete(server.url("/dav/delete-me.bin"), headers={"Content-Length": "0"},
                        verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 204, r.text
    r = requests.request("MKCOL", server.url("/dav/new-collection/"), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 201, r.text
    r = requests.get(server.url("/dav/keep.txt"), verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code in (200, 404)
    # A body on any method is content and needs a signature.
    r = requests.request("PROPFIND", server.url("/dav/"), data=b"<propfind/>", headers={"Depth": "0"},
                         verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 400, "signature-required")


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"not DER").decode(), ""])
def test_malformed_signature(server, value):
    r = put(server, "/dav/malformed.bin", b"content", {"CMI-Content-Signature": value})
    assert_problem(r, 400, "signature-malformed")
    assert no_file(server, "malformed.bin")


def test_missing_signature_is_refused_before_100_continue(server):
    head = (f"PUT /dav/expect.bin HTTP/1.1\r\nHost: localhost:{server.https_port}\r\n"
            "Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    got = raw_tls_request(server.https_port, server.pki.ca_cert, head, b"hello")
    assert got.startswith(b"HTTP/1.1 400 "), got[:200]
    assert b"100 Continue" not in got
    assert b"tag:mod-cmi,2026:signature-required" in got
    assert no_file(server, "expect.bin")


def test_signed_upload_with_100_continue(server, tmp):
    data = b"hello"
    header = cms_sign(data, server.pki.client, tmp)
    head = (f"PUT /dav/expect-ok.bin HTTP/1.1\r\nHost: localhost:{server.https_port}\r\n"
            f"Content-Length: 5\r\nExpect: 100-continue\r\nCMI-Content-Signature: {header}\r\n"
            "Connection: close\r\n\r\n").encode()
    got = raw_tls_request(server.https_port, server.pki.ca_cert, head, data)
    assert got.startswith(b"HTTP/1.1 100 Continue"), got[:200]
    assert b"HTTP/1.1 201 " in got
    assert (server.dav_dir / "expect-ok.bin").read_bytes() == data


def test_limit_request_body_is_413(server, tmp):
    server.expect_error(DAV_ERROR)
    data = os.urandom(5000)
    r = put(server, "/dav/limited/big.bin", data, signed(server, tmp, data))
    assert_problem(r, 413, "too-large")
    assert no_file(server, "limited/big.bin")


def test_location_without_trust_anchors_fails_configtest(server):
    # Required + cms and no CMIContentTrustAnchors anywhere that can reach the
    # location: httpd refuses the configuration, naming the directive and the fix
    # (at run time such a location would fail closed with 500 on every upload).
    snippet = """
<Location /dav/>
    CMIContentValidation Required
    CMIContentFormats cms
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /misconfigured/>
    CMIContentValidation Required
    CMIContentFormats cms
</Location>
""".format(ca=server.pki.ca_cert)
    out = server.configtest_refuses("<Location /misconfigured/>", "CMIContentTrustAnchors /path/to/content-ca.pem",
                                    "CMIContentFormats http-signature", snippet=snippet)
    assert "<Location /dav/>" not in out
    # The fix it names works: restricting the formats with keys in place passes.
    result = server.configtest(snippet=snippet.replace(
        "<Location /misconfigured/>\n    CMIContentValidation Required\n    CMIContentFormats cms",
        "<Location /misconfigured/>\n    CMIContentValidation Required\n    CMIContentFormats http-signature\n"
        "    CMIContentSignerKeys /etc"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_spool_mode_limit_request_body_is_413_and_cgi_never_runs(server, tmp):
    server.marker.unlink(missing_ok=True)
    data = os.urandom(5000)
    r = requests.post(server.url("/cgi-spool-limited/marker.sh"), data=data, headers=signed(server, tmp, data),
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 413, "too-large")
    assert not server.marker.exists()
    assert list(server.spool_dir.iterdir()) == []


# --- signer binding -----------------------------------------------------------------

def test_bound_signer_equal_to_user_passes(server, tmp):
    data = b"bound"
    r = put(server, "/dav/bound/a.bin", data, signed(server, tmp, data), auth=("provider-a", "secret"))
    assert r.status_code == 201


def test_other_users_signature_is_signer_not_bound(server, tmp):
    data = b"bound"
    r = put(server, "/dav/bound/b.bin", data, signed(server, tmp, data), auth=("provider-b", "secret"))
    doc = assert_problem(r, 403, "signer-not-bound")
    assert "provider-a" in doc["detail"]
    assert no_file(server, "bound/b.bin")


# --- CGI: Optional, and spool mode ----------------------------------------------------

def cgi_fields(text):
    return dict(line.split("=", 1) for line in text.strip().splitlines() if "=" in line)


def test_optional_without_signature_reaches_cgi_as_absent(server):
    r = requests.post(server.url("/cgi/env.sh"), data=b"unsigned", verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200, r.text
    fields = cgi_fields(r.text)
    assert fields["validation"] == "absent"
    assert fields["body"] == hashlib.sha256(b"unsigned").hexdigest()


def test_optional_with_bad_signature_is_still_refused(server, tmp):
    r = requests.post(server.url("/cgi/env.sh"), data=b"x",
                      headers={"CMI-Content-Signature": "bm9wZQ=="},
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 400, "signature-malformed")


def test_stream_mode_cgi_with_mismatch_gets_our_problem(server, tmp):
    # Stream mode suits atomic handlers; a CGI still gets its read failing and
    # the client our 422, never the CGI's output (use spool mode for CGIs).
    server.expect_error(r"cgid:error.*(Error reading request entity data|request body)")
    data = os.urandom(20_000)
    r = requests.post(server.url("/cgi/env.sh"), data=flip_last_byte(data), headers=signed(server, tmp, data),
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 422, "digest-mismatch")
    assert "validation=" not in r.text


def test_spool_mode_cgi_sees_verified_body(server, tmp):
    data = os.urandom(500_000)
    (tmp / "upload.bin").write_bytes(data)
    header = cms_sign(data, server.pki.client, tmp)
    r = curl(server.url("/cgi-spool/env.sh"), "--http1.1", "-X", "POST", "-T", str(tmp / "upload.bin"),
             "-H", "Transfer-Encoding: chunked", "-H", f"CMI-Content-Signature: {header}",
             ca=server.pki.ca_cert)
    assert r.status == 200, r.body
    fields = cgi_fields(r.body.decode())
    assert fields["validation"] == "valid"
    assert fields["format"] == "cms"
    assert fields["signer"] == "provider-a"
    assert fields["digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"
    assert fields["length"] == str(len(data))
    assert fields["body"] == hashlib.sha256(data).hexdigest()
    assert list(server.spool_dir.iterdir()) == []


def test_spool_mode_failure_never_runs_the_cgi(server, tmp):
    server.marker.unlink(missing_ok=True)
    data = os.urandom(100_000)
    header = signed(server, tmp, data)
    r = requests.post(server.url("/cgi-spool/marker.sh"), data=flip_last_byte(data), headers=header,
                      verify=str(server.pki.ca_cert), timeout=30)
    assert_problem(r, 422, "digest-mismatch")
    assert not server.marker.exists()
    assert list(server.spool_dir.iterdir()) == []
    # The same CGI with the right body runs (so the marker check can fail).
    r = requests.post(server.url("/cgi-spool/marker.sh"), data=data, headers=header,
                      verify=str(server.pki.ca_cert), timeout=30)
    assert r.status_code == 200 and "validation=valid" in r.text
    assert server.marker.exists()


def upload_aborted_half_way(server, dav_name, head_for, send_half):
    """A PUT to the spooling CGI and one to mod_dav, each sending `head_for()` (header
    lines; a signature binds to one target, so one signing each) and half its body
    (`send_half(socket)`), then disconnecting: no spool file is left, the CGI never
    ran, and mod_dav saw its read fail and kept no file."""
    offset = server.log_size()
    for target in ("/cgi-spool/marker.sh", f"/dav/{dav_name}"):
        head = head_for()
        server.marker.unlink(missing_ok=True)
        ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert))
        with socket.create_connection(("127.0.0.1", server.https_port), timeout=60) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(f"PUT {target} HTTP/1.1\r\nHost: localhost\r\n{head}\r\n".encode())
                send_half(s)
                time.sleep(0.5)  # let the server read what was sent (no timing assertion)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and list(server.spool_dir.iterdir()):
            time.sleep(0.1)
        assert list(server.spool_dir.iterdir()) == []
        assert not server.marker.exists()
    # mod_dav notices the abort when its read fails; wait for that before judging.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and f"/dav/{dav_name}" not in server.log_since(offset):
        time.sleep(0.1)
    assert f"reading the request body (URI: /dav/{dav_name})" in server.log_since(offset)
    assert no_file(server, dav_name)


def test_client_abort_leaves_no_spool_file_and_no_dav_file(server, tmp):
    server.expect_error(DAV_ERROR)
    data = os.urandom(2_000_000)
    def head():
        return f"Content-Length: {len(data)}\r\nCMI-Content-Signature: {cms_sign(data, server.pki.client, tmp)}\r\n"
    upload_aborted_half_way(server, "aborted.bin", head, lambda s: s.sendall(data[:len(data) // 2]))


def big_file(tmp, name):
    """100 MiB: one random MiB, shifted by one byte per MiB."""
    path = tmp / name
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(100):
            f.write(block[i:] + block[:i])
    return path


def cms_header_of(server, tmp, path):
    """The CMS header of a file, by the openssl CLI (streamed)."""
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(path),
                    "-signer", str(server.pki.client.cert), "-inkey", str(server.pki.client.key),
                    "-out", str(tmp / f"{path.name}.p7s")], check=True)
    return base64.b64encode((tmp / f"{path.name}.p7s").read_bytes()).decode()


def test_large_chunked_upload_validates(server, tmp):
    path = big_file(tmp, "big.bin")
    header = cms_header_of(server, tmp, path)
    r = curl(server.url("/dav/big.bin"), "--http1.1", "-T", str(path), "-H", "Transfer-Encoding: chunked",
             "-H", f"CMI-Content-Signature: {header}", ca=server.pki.ca_cert, timeout=120)
    assert r.status == 201, r.body
    assert (server.dav_dir / "big.bin").stat().st_size == 100 << 20
    (server.dav_dir / "big.bin").unlink()


def test_chunked_100_mib_upload_aborted_half_way_leaves_nothing(server, tmp):
    # The acceptance case at its stated size: a signed 100 MiB chunked upload whose
    # client disconnects after 50 MiB.
    server.expect_error(DAV_ERROR)
    path = big_file(tmp, "big-abort.bin")

    def send_50_mib(s):
        with open(path, "rb") as f:
            for _ in range(50):
                chunk = f.read(1 << 20)
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    upload_aborted_half_way(
        server, "aborted-100m.bin",
        lambda: f"Transfer-Encoding: chunked\r\nCMI-Content-Signature: {cms_header_of(server, tmp, path)}\r\n",
        send_50_mib)


# --- configuration --------------------------------------------------------------------

@pytest.mark.parametrize("snippet, directive, fragment", [
    ("CMIContentValidation Sometimes", "CMIContentValidation", "Off, Optional or Required"),
    ("CMIContentFormats cms pgp", "CMIContentFormats", "cms and/or http-signature"),
    ("CMIContentDigestAlgorithms sha-256 sha-1", "CMIContentDigestAlgorithms", "sha-256 and/or sha-512"),
    ("CMIContentTrustAnchors /nonexistent/ca.pem", "CMIContentTrustAnchors", "cannot read"),
    ("CMIContentTrustAnchors /etc/hostname", "CMIContentTrustAnchors", "no PEM certificate"),
    ("CMIContentSpoolDir /nonexistent/spool", "CMIContentSpoolDir", "not a directory"),
    ("CMIContentSignerKeys /etc/hostname", "CMIContentSignerKeys", "not a directory"),
])
def test_bad_directive_fails_configtest(httpd, snippet, directive, fragment):
    httpd.configtest_refuses(directive, fragment, snippet=f"<Location /x>\n    {snippet}\n</Location>\n")


def test_good_configuration_passes(httpd):
    result = httpd.configtest(snippet=f"""
<Location /x>
    CMIContentValidation Required
    CMIContentFormats cms http-signature
    CMIContentDigestAlgorithms sha-256 sha-512
    CMIContentTrustAnchors "{httpd.pki.ca_cert}"
    CMIContentSignerKeys /etc
    CMIContentBindSigner On
    CMIContentSpool On
    CMIContentSpoolDir /tmp
</Location>
""")
    assert result.returncode == 0, result.stdout + result.stderr
