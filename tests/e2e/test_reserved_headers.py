"""Client-sent headers that pose as mod_cmi's variables never reach a backend (issue 21 item 5).

A backend behind mod_proxy that maps headers to variables (WSGI and CGI: HTTP_CMI_TRANSACTION_ID
for CMI-Transaction-ID, CMI_Transaction_ID and Cmi.Transaction.Id alike; Rack, PHP; Node
lower-cases) must be able to trust CMI-Transaction-ID and whatever identity or validation
result the administrator forwards. Every client header whose name, without case and
punctuation, is one of ours goes, on every request where any of our modules is loaded,
with or without CMIAudit, over HTTP/1.1 and HTTP/2. The backend here is a small HTTP
server on 127.0.0.1 that answers with the headers it received."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SOURCE_DIR
from cmi_e2e.clients import curl
from cmi_e2e.content import cms_sign, raw_tls_request, www_owned_dir
from cmi_e2e.problems import UUID7

SPOOFED = [(name, f"spoof-{i}") for i, name in enumerate([
    "CMI_Transaction_ID", "Cmi.Transaction.Id", "cmi-transaction-id", "CMITRANSACTIONID",
    "CMI-User", "CMI_USER", "cmi.auth.mech", "CMI-Auth-Issuer", "CMI_Content_Validation",
    "CMI-Content-Signer", "Cmi-Content-Items", "CMI_SAML_ATTR_role", "CMI-SAML-NameID", "CMI-Refusal",
])]
KEPT = [("CMI-Client-Transaction-ID", "client-42"), ("X-CMI-User", "not ours"), ("X-Other", "kept")]

LOCATIONS = """
LogLevel info ssl:warn http2:warn proxy:warn proxy_http:warn
<Location /rsv/audit>
    CMIAudit On
    ProxyPass http://127.0.0.1:{port}/audit
</Location>
<Location /rsv/tls>
    CMIRequireTLS On
    ProxyPass http://127.0.0.1:{port}/tls
</Location>
<Location /rsv/auth>
    AuthType CMI
    AuthName "reserved"
    CMIAuthMechanisms cert
    Require valid-user
    # The way to hand the identity to a backend: set after the client's header is gone.
    RequestHeader set CMI-User "%{{CMI_USER}}e"
    ProxyPass http://127.0.0.1:{port}/auth
</Location>
<Location /rsv/content>
    CMIContentValidation Optional
    CMIContentTrustAnchors "{ca}"
    ProxyPass http://127.0.0.1:{port}/content
</Location>
<Location /rsv/none>
    ProxyPass http://127.0.0.1:{port}/none
</Location>
# The whole body read before the proxy sends the headers on: trailers are in by then.
<Location /rsv/spool>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentSpool On
    CMIContentSpoolDir "{spool}"
    ProxyPass http://127.0.0.1:{port}/spool
</Location>
"""


class Echo(BaseHTTPRequestHandler):
    """Answers every request with the header lines it received, in order."""

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def server(httpd, backend):
    modules = httpd.stock_dir
    spool = www_owned_dir(httpd.root / "rsv-spool")
    httpd.configure(LOCATIONS.format(port=backend, ca=httpd.pki.ca_cert, spool=spool),
                    server_snippet=f'LoadModule proxy_module "{modules}/mod_proxy.so"\n'
                                   f'LoadModule proxy_http_module "{modules}/mod_proxy_http.so"\n'
                                   # trailers become headers when the body's end is read
                                   "MergeTrailers On\n")
    return httpd


def normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def send(server, location: str, *extra: str, cert=None):
    args = [a for name, value in SPOOFED + KEPT for a in ("-H", f"{name}: {value}")]
    r = curl(server.url(f"/rsv/{location}/x"), *args, *extra, ca=server.pki.ca_cert, cert=cert)
    assert r.status == 200, r.body
    return r, r.json()


def assert_no_spoofed_header(received):
    ours = {normalised(n) for n, _ in SPOOFED}
    values = {v for _, v in SPOOFED}
    for name, value in received:
        assert not (normalised(name) in ours and value in values), f"the backend got {name}: {value}"
    got = {n.lower(): v for n, v in received}
    for name, value in KEPT:
        assert got.get(name.lower()) == value, f"{name} was removed"


@pytest.mark.parametrize("protocol", ["--http1.1", "--http2"])
@pytest.mark.parametrize("location", ["audit", "tls", "content", "none"])
def test_spoofed_variants_do_not_reach_the_backend(server, location, protocol):
    r, received = send(server, location, protocol)
    assert r.http_version == ("2" if protocol == "--http2" else "1.1")
    assert_no_spoofed_header(received)
    txids = [v for n, v in received if normalised(n) == "cmitransactionid"]
    if location == "audit":
        # Only ours, the one the response carries.
        assert txids == [r.header("CMI-Transaction-ID")]
        assert UUID7.match(txids[0])
    else:
        assert txids == []


def test_the_identity_the_administrator_forwards_is_the_authenticated_one(server):
    r, received = send(server, "auth", cert=server.pki.client)
    assert_no_spoofed_header(received)
    assert [v for n, v in received if normalised(n) == "cmiuser"] == ["provider-a"]


def test_each_removal_is_logged_with_the_name_only(server):
    offset = server.log_size()
    send(server, "tls", "--http1.1")  # HTTP/2 names arrive lower case, mod_http2 capitalises them
    log = server.log_since(offset)
    for name, value in SPOOFED:
        assert f"removed the client's request header '{name}'" in log
        assert value not in log


def contract_env_keys() -> list[str]:
    """Every key docs/architecture.md's Notes contract says a module puts in the environment."""
    keys = []
    for line in (SOURCE_DIR / "docs" / "architecture.md").read_text().splitlines():
        m = re.match(r"^\| `(CMI_[A-Z0-9_]+)(<[A-Z]+>)?` \| ([^|]*) \|", line)
        if m and "env" in m.group(3):
            keys.append(m.group(1) + ("ROLE" if m.group(2) else ""))
    return keys


def test_every_environment_key_of_the_notes_contract_is_stripped(server):
    keys = contract_env_keys()
    assert {"CMI_TRANSACTION_ID", "CMI_USER", "CMI_CONTENT_ITEMS", "CMI_SAML_ATTR_ROLE"} <= set(keys), keys
    spellings = [(n, f"contract-{i}-{j}") for i, k in enumerate(keys)
                 for j, n in enumerate((k, k.replace("_", "-"), k.replace("_", ".").lower()))]
    args = [a for name, value in spellings for a in ("-H", f"{name}: {value}")]
    r = curl(server.url("/rsv/tls/x"), "--http1.1", *args, ca=server.pki.ca_cert)
    assert r.status == 200, r.body
    leaked = [(n, v) for n, v in r.json() if v.startswith("contract-")]
    assert leaked == [], f"the backend got {leaked}"


@pytest.mark.parametrize("location", ["spool", "none"])
def test_spoofed_names_in_request_trailers_do_not_reach_the_backend(server, location, tmp_path):
    """Trailers of a chunked body arrive when its end is read, long after post_read_request;
    with `MergeTrailers On` httpd adds them to the request's headers then. Where the whole body
    is read before the proxy sends the headers on (spool mode, a manifest), CMI_Transaction_ID,
    CMI-Content-Validation and CMI.User sent as trailers reached the backend."""
    body = b"hello"
    head = (f"POST /rsv/{location}/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            f"Connection: close\r\nCMI-Content-Signature: {cms_sign(body, server.pki.client, tmp_path)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in KEPT) + "\r\n").encode()
    trailers = "".join(f"{name}: {value}\r\n" for name, value in SPOOFED).encode()
    answer = raw_tls_request(server.https_port, server.pki.ca_cert,
                             head + b"5\r\nhello\r\n0\r\n" + trailers + b"\r\n", read_first=False)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert_no_spoofed_header(json.loads(answer.split(b"\r\n\r\n", 1)[1]))


@pytest.mark.parametrize("protocol", ["--http1.1", "--http2"])
def test_a_request_body_keeps_our_transaction_id_for_the_backend(server, protocol):
    """mod_proxy_http reads a small body to its end before it sends the headers on. The guard
    against reserved trailers ran there over all the request's headers, so it removed our own
    CMI-Transaction-ID (set after post_read_request) as if a client had sent it as a trailer,
    and said so in the error log for every request whose body was read to its end."""
    offset = server.log_size()
    r = curl(server.url("/rsv/audit/x"), protocol, "-H", "X-Other: kept", data=b"hello",
             ca=server.pki.ca_cert)
    assert r.status == 200, r.body
    received = r.json()
    assert [v for n, v in received if normalised(n) == "cmitransactionid"] == [r.header("CMI-Transaction-ID")]
    assert "removed the client's request trailer" not in server.log_since(offset)
