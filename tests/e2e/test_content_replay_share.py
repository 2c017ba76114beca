"""One content signer cannot fill the content replay cache for the others.

Every accepted CMS signature takes two entries of CMIContentReplayCache (the
signature, and the signature with its target) for up to signingTime +
CMIContentSignatureMaxAge + 60 s. They were charged to nobody: one provider
with a signing certificate, sending fresh signatures (the body need not even
arrive: the entries are made before it is read), filled the cache and every
other provider's signed upload got 503 for minutes. Each entry is charged to
its signer, who holds at most its share (1/8 of a local table) and beyond it
gets 503 `validation-unavailable` alone."""
import http.client
import re
import ssl

import pytest

from cmi_e2e.cms_build import CmsSigner
from cmi_e2e.content import www_owned_dir

CONFIG = """
<Location /dav/share/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Location>
"""


@pytest.fixture
def server(httpd, request):
    www_owned_dir(httpd.dav_dir / "share")
    cache = httpd.root / "run" / f"content-share-{request.node.name}.cache"
    offset = httpd.log_size()
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert),
                    server_snippet=f'CMIContentReplayCache "shmcb:{cache}(65536)"\nLogLevel warn cmi_content:info\n')
    m = re.search(r"replay cache \S+: room for (\d+) entries, (\d+) per owner", httpd.log_since(offset))
    assert m, httpd.log_since(offset)
    httpd.room, httpd.share = int(m.group(1)), int(m.group(2))
    yield httpd
    httpd.configure("")


def put(conn, path, body, signature):
    conn.request("PUT", path, body=body, headers={"CMI-Content-Signature": signature,
                                                  "Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    return r.status, r.read()


def test_one_signer_cannot_fill_the_content_replay_cache(server):
    server.expected_errors.append(re.compile(r"CMI30002: the signer holds its share of replay cache"))
    ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    conn = http.client.HTTPSConnection("localhost", server.https_port, context=ctx, timeout=60)
    mallory = CmsSigner(server.pki.client)
    accepted = 0
    for i in range(server.room):  # two entries each: without shares the table is full half-way
        body = f"flood {i}\n".encode()
        status, answer = put(conn, f"/dav/share/f{i}.txt", body, mallory.sign(body))
        if status in (201, 204):
            accepted += 1
            continue
        assert status == 503, answer
        assert b"validation-unavailable" in answer
        break
    conn.close()
    # Before: 500 and more (the whole table), then 503 for every signer.
    assert server.share // 2 - 1 <= accepted <= server.share // 2, (accepted, server.share)
    # Another provider still uploads.
    conn = http.client.HTTPSConnection("localhost", server.https_port, context=ctx, timeout=60)
    body = b"provider b's song\n"
    status, answer = put(conn, "/dav/share/b.txt", body, CmsSigner(server.pki.client_b).sign(body))
    conn.close()
    assert status == 201, answer
    assert (server.dav_dir / "share" / "b.txt").read_bytes() == body
