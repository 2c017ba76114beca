"""Bad-input catalogue, part 2: HTTP/2 uploads (mod_http2 on) with each
self-contained validation format, valid and tampered, and an HTTP/1.1 upload
cut into very many small chunks — all against the mixed-load configuration."""
import pytest

from cmi_e2e.clients import curl
from cmi_e2e.content import raw_tls_request, tamper_signature
from cmi_e2e import httpsig
from cmi_e2e.load import BODY, MixedLoad


@pytest.fixture(scope="module")
def server(httpd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-h2")
    mix = MixedLoad(httpd, tmp)
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(httpd.root / "logs" / "audit-h2.log"))
    httpd.mix, httpd.tmp = mix, tmp
    return httpd


def h2_put(server, path, headers: dict, body: bytes = BODY, early_answer_ok: bool = False):
    src = server.tmp / "body.bin"
    src.write_bytes(body)
    args = ["--http2", "-X", "PUT", "--data-binary", f"@{src}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    return curl(server.url(path), *args, ca=server.pki.ca_cert, early_answer_ok=early_answer_ok)


@pytest.mark.parametrize("fmt", ["cms", "http-signature"])
def test_h2_upload_valid_and_tampered(server, fmt):
    server.expect_error(r"dav:error.*reading the request body")
    mix = server.mix
    path = f"/lt/dav/h2-{fmt}.bin"
    if fmt == "cms":
        good = {"CMI-Content-Signature": mix.cms_good, "Content-Type": "application/octet-stream"}
        bad = dict(good, **{"CMI-Content-Signature": tamper_signature(mix.cms_good)})
    else:
        url = server.url(path)
        good = httpsig.sign_request("PUT", url, BODY, mix.sig_key, "load-ed", "ed25519")
        bad = httpsig.sign_request("PUT", url, BODY + b"x", mix.sig_key, "load-ed", "ed25519")
        for h in (good, bad):
            h.pop("Content-Length")  # curl sends it (h2: content-length pseudo-checked by mod_http2)
    r = h2_put(server, path, good)
    assert r.http_version == "2" and r.status in (201, 204), (r.status, r.body[:300])
    assert (server.dav_dir / "lt" / f"h2-{fmt}.bin").read_bytes() == BODY
    # A tampered CMS is refused from its header, before the body is read: the
    # answer can come while curl is still sending (see clients.CURL_H2_STREAM_RESET).
    r = h2_put(server, path.replace(".bin", "-bad.bin"), bad, early_answer_ok=True)
    assert r.http_version == "2" and r.status in (400, 422), (r.status, r.body[:300])
    assert not (server.dav_dir / "lt" / f"h2-{fmt}-bad.bin").exists()


def test_http11_upload_in_twenty_thousand_one_byte_chunks(server):
    body = (b"0123456789abcdef" * 1250)  # 20,000 bytes
    from cmi_e2e.content import cms_sign
    sig = cms_sign(body, server.pki.client, server.tmp)
    chunks = b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"
    head = (b"PUT /lt/dav/chunks.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
            b"CMI-Content-Signature: " + sig.encode() + b"\r\n\r\n")
    reply = raw_tls_request(server.https_port, server.pki.ca_cert, head + chunks, read_first=False, timeout=60)
    assert reply.startswith(b"HTTP/1.1 201") or reply.startswith(b"HTTP/1.1 204"), reply[:300]
    assert (server.dav_dir / "lt" / "chunks.bin").read_bytes() == body
