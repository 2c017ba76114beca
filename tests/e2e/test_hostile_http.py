"""Bad-input catalogue, HTTP/1.1 over TLS, raw bytes against the mixed-load
configuration (every module on): smuggling shapes, NUL bytes, invalid UTF-8,
repeated and over-long headers. Every answer is a refusal or a single
well-formed response; nothing is stored; nothing reaches the error log at
error level beyond the expected."""
import re

import pytest

from cmi_e2e.content import raw_tls_request
from cmi_e2e.load import MixedLoad

STATUS = re.compile(rb"^HTTP/1\.1 (\d{3})", re.M)


@pytest.fixture(scope="module")
def server(httpd, tmp_path_factory):
    mix = MixedLoad(httpd, tmp_path_factory.mktemp("hostile"))
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(httpd.root / "logs" / "audit-hostile.log"))
    httpd.mix = mix
    return httpd


def send(server, head: bytes, body: bytes = b"") -> bytes:
    return raw_tls_request(server.https_port, server.pki.ca_cert, head + body, read_first=False, timeout=10)


def statuses(reply: bytes) -> list[int]:
    return [int(s) for s in STATUS.findall(reply)]


def test_two_different_content_lengths_refused(server):
    reply = send(server, b"PUT /lt/dav/smuggle1.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                         b"Content-Length: 40\r\n\r\n", b"hello" + b"x" * 35)
    assert statuses(reply) == [400], reply[:300]
    assert not (server.dav_dir / "lt" / "smuggle1.bin").exists()


def test_content_length_with_chunked_does_not_smuggle_a_second_request(server):
    smuggled = b"GET /lt/auth/certonly/hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    body = b"0\r\n\r\n" + smuggled
    reply = send(server, b"PUT /lt/dav/smuggle2.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n", body)
    codes = statuses(reply)
    assert len(codes) == 1 and codes[0] in (400, 403), reply[:400]  # one answer: the smuggled GET never ran
    assert not (server.dav_dir / "lt" / "smuggle2.bin").exists()


def test_nul_byte_in_a_header_refused(server):
    reply = send(server, b"GET /lt/hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Evil: a\x00b\r\n\r\n")
    assert statuses(reply) == [400], reply[:300]


def test_invalid_utf8_client_transaction_id_is_ignored_not_echoed(server):
    # docs/architecture.md §Audit trail: only 1-128 of [A-Za-z0-9._:-] are recorded and
    # echoed; anything else is ignored.
    reply = send(server, b"GET /lt/hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                         b"CMI-Client-Transaction-ID: \xc3\x28\xff\xfe\r\n\r\n")
    assert statuses(reply) == [200], reply[:300]
    head = reply.split(b"\r\n\r\n", 1)[0].lower()
    assert b"cmi-client-transaction-id" not in head and b"cmi-transaction-id" in head


def test_repeated_signature_headers_do_not_pass(server):
    mix = server.mix
    body = b"load test content\n" * 64
    head = (b"PUT /lt/dav/twice.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
            b"CMI-Content-Signature: " + mix.cms_good.encode() + b"\r\n"
            b"CMI-Content-Signature: " + mix.cms_untrusted.encode() + b"\r\n\r\n")
    codes = statuses(send(server, head, body))
    assert len(codes) == 1 and codes[0] in (400, 403, 422), codes
    assert not (server.dav_dir / "lt" / "twice.bin").exists()


def test_over_long_header_refused_before_the_modules(server):
    reply = send(server, b"GET /lt/auth/hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: SAML "
                 + b"A" * 70000 + b"\r\n\r\n")
    assert statuses(reply) == [400], reply[:300]
