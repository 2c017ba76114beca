"""Mixed load for the long-run tests (leaks, restarts, valgrind): one
configuration that puts every module and every refusal path on one server, and
a keep-alive client (several processes, http.client) that cycles through a fixed
mix of requests and checks each answer's status.

    mix = MixedLoad(httpd, tmp_dir)
    httpd.configure(mix.snippet(), server_snippet=mix.server_snippet(single_child=True))
    counts = mix.run(10_000)            # {scenario: {status: n}}
"""
import base64
import hashlib
import http.client
import multiprocessing
import os
import signal
import ssl
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from . import digest, httpsig, saml
from .content import cms_sign, tamper_signature, www_owned_dir

REALM = "CMI load"
SP = "https://cmc.example/sp"
BODY = b"load test content\n" * 64           # what the signed uploads carry
OTHER_BODY = b"other content\n" * 64

# One worker child with a fixed number of threads: its RSS is the figure.
SINGLE_CHILD = """
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 16
    MaxRequestWorkers 16
    MinSpareThreads 1
    MaxSpareThreads 16
    MaxConnectionsPerChild 0
</IfModule>
"""

LOCATIONS = """
LimitRequestFieldSize 65536
<AuthnProviderAlias file load-digest>
    AuthUserFile "{conf}/load.digest"
</AuthnProviderAlias>
<AuthnProviderAlias file load-basic>
    AuthUserFile "{conf}/load.passwd"
</AuthnProviderAlias>
Alias /lt/dav/ "{dav}/"
<Directory "{dav}">
    Dav On
    Require all granted
</Directory>
<Location /lt>
    CMIRequireTLS On
    CMIStrictTransportSecurity "max-age=600"
    CMIAudit On
    CMIAuditOperation Report
</Location>
<Location /lt/redirect>
    CMIInsecureAction redirect
</Location>
<Location /lt/v13>
    CMITLSMinProtocol TLSv1.3
</Location>
<Location /lt/auth>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms cert saml digest basic
    CMIAuthProvider load-digest load-basic
    CMIAuthDigestNonceLifetime 3600
    CMISAMLIdPMetadata "{saml_metadata}"
    CMISAMLSPEntityID {sp}
    Require valid-user
</Location>
<Location /lt/auth/certonly>
    Require cmi-mechanism cert
    AuthzSendForbiddenOnFailure On
</Location>
<Location /lt/dav/>
    CMIAuditOperation ContentUpload
    CMIAuditReceipts On
    CMIContentValidation Required
    CMIContentFormats cms http-signature
    CMIContentTrustAnchors "{ca}"
    CMIContentSignerKeys "{keys}"
    # The mix sends each CMS signature again and again (to its one target) for the whole run.
    CMIContentSignatureMaxAge 86400
</Location>
<Location /lt/dav/limited/>
    LimitRequestBody 1000
</Location>
<Location /lt/dav/bound/>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms basic
    CMIAuthProvider load-basic
    Require valid-user
    CMIContentBindSigner On
</Location>
"""


@dataclass
class Req:
    """One request of the mix. `conn`: plain | tls | tls12 | cert."""
    name: str
    conn: str
    method: str
    path: str
    expect: tuple
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    dynamic: str = ""  # "digest" | "httpsig": made fresh per request


class MixedLoad:
    def __init__(self, httpd, tmp: Path):
        self.httpd = httpd
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = httpd.root / "conf"
        self.conf = conf
        pki = httpd.pki
        # Users: Digest (SHA-256) and Basic ({SHA}: cheap, so the load is not bcrypt).
        subprocess.run([str(httpd.source_tool("cmi-htdigest")), "-c", str(conf / "load.digest"), REALM, "alice"],
                       input=b"wonder land", check=True)
        sha = base64.b64encode(hashlib.sha1(b"basic secret").digest()).decode()
        (conf / "load.passwd").write_text(f"carol:{{SHA}}{sha}\nprovider-b:{{SHA}}{sha}\n")
        for f in ("load.digest", "load.passwd"):
            (conf / f).chmod(0o644)  # read by the children
        # SAML: a trusted IdP and an assertion valid for the whole run.
        self.idp = saml.Idp(conf, "https://idp.load.example/saml", name="load-idp")
        spec = saml.AssertionSpec(issuer=self.idp.entity_id, audience=SP, not_on_or_after=7200,
                                  confirmation_not_on_or_after=7200)
        self.saml_good = saml.header(self.idp.signed_assertion(spec))
        bad = self.idp.signed_assertion(saml.AssertionSpec(issuer=self.idp.entity_id, audience=SP,
                                                           name_id="bob@provider-a"))
        self.saml_bad = saml.header(bad.replace("bob@provider-a", "eve@provider-a"))  # signature breaks
        # RFC 9421 signer key.
        self.keys = conf / "load-keys"
        self.keys.mkdir(exist_ok=True)
        self.sig_key = httpsig.new_key("ed25519")
        (self.keys / "load-ed.pem").write_bytes(httpsig.public_pem(self.sig_key))
        # CMS signatures made with the openssl CLI; a signature is accepted on one
        # target only, so the mismatch scenario has its own.
        self.cms_good = cms_sign(BODY, pki.client, self.tmp)
        self.cms_for_c = cms_sign(BODY, pki.client, self.tmp)
        self.cms_untrusted = cms_sign(BODY, pki.untrusted_client, self.tmp)
        self.dav = www_owned_dir(httpd.dav_dir / "lt")
        for d in ("limited", "bound"):
            www_owned_dir(self.dav / d)
        for d in ("lt", "lt/v13", "lt/auth", "lt/auth/certonly", "lt/redirect"):
            (httpd.docroot / d).mkdir(parents=True, exist_ok=True)
            (httpd.docroot / d / "hello.txt").write_text("hello load\n")

    # --- configuration --------------------------------------------------------
    def snippet(self) -> str:
        pki = self.httpd.pki
        return LOCATIONS.format(conf=self.conf, realm=REALM, dav=self.dav, saml_metadata=self.idp.metadata_path,
                                sp=SP, ca=pki.ca_cert, keys=self.keys)

    def server_snippet(self, audit_log: Path, single_child: bool = True, extra: str = "") -> str:
        # Replay caches sized for the run: a full shmcb refuses (503) rather than evicting.
        run = self.httpd.root / "run"
        caches = (f'CMIAuthReplayCache "shmcb:{run}/load-auth-replay(16000000)"\n'
                  f'CMIContentReplayCache "shmcb:{run}/load-content-replay(16000000)"\n')
        return (f'CMIAuditLog "{audit_log}"\nCMIAuditNode load\n' + caches + (SINGLE_CHILD if single_child else "")
                + extra)

    # Error-log lines the refusals of the mix make (regexes for httpd.expect_error).
    EXPECTED_ERRORS = [
        r"AH01631: user carol: authorization failure",           # forbidden (authz_core)
        r"dav:error.*reading the request body",                  # refused uploads, seen by mod_dav
    ]

    def expect_errors(self):
        for pattern in self.EXPECTED_ERRORS:
            self.httpd.expect_error(pattern)

    # --- the mix --------------------------------------------------------------
    def mix(self) -> list[Req]:
        ok = (200,)
        cms_put = {"Content-Type": "application/octet-stream"}
        basic = "Basic " + base64.b64encode(b"carol:basic secret").decode()
        bad_basic = "Basic " + base64.b64encode(b"carol:wrong").decode()
        bound = "Basic " + base64.b64encode(b"provider-b:basic secret").decode()
        return [
            # mod_cmi_tls
            Req("tls-ok", "tls", "GET", "/lt/hello.txt", ok),
            Req("tls-required", "plain", "POST", "/lt/hello.txt", (403,), body=b"x"),
            Req("tls-redirect", "plain", "GET", "/lt/redirect/hello.txt", (308,)),
            Req("tls-too-weak", "tls12", "GET", "/lt/v13/hello.txt", (403,)),
            Req("tls13-ok", "tls", "GET", "/lt/v13/hello.txt", ok),
            # mod_cmi_auth
            Req("auth-required", "tls", "GET", "/lt/auth/hello.txt", (401,)),
            Req("basic-ok", "tls", "GET", "/lt/auth/hello.txt", ok, {"Authorization": basic}),
            Req("basic-failed", "tls", "GET", "/lt/auth/hello.txt", (401,), {"Authorization": bad_basic}),
            Req("digest-ok", "tls", "GET", "/lt/auth/hello.txt", ok, dynamic="digest"),
            Req("digest-garbage", "tls", "GET", "/lt/auth/hello.txt", (400, 401),
                {"Authorization": 'Digest username="alice", nonce="\x7f", response=,,,'}),
            Req("saml-ok", "tls", "GET", "/lt/auth/hello.txt", ok, {"Authorization": self.saml_good}),
            Req("saml-bad", "tls", "GET", "/lt/auth/hello.txt", (401,), {"Authorization": self.saml_bad}),
            Req("saml-garbage", "tls", "GET", "/lt/auth/hello.txt", (401,), {"Authorization": "SAML !!notbase64"}),
            Req("cert-ok", "cert", "GET", "/lt/auth/certonly/hello.txt", ok),
            Req("forbidden", "tls", "GET", "/lt/auth/certonly/hello.txt", (403,), {"Authorization": basic}),
            # mod_cmi_content (+ mod_cmi_audit receipts on /lt/dav)
            Req("cms-ok", "tls", "PUT", "/lt/dav/a.bin", (201, 204),
                dict(cms_put, **{"CMI-Content-Signature": self.cms_good}), BODY),
            Req("signature-required", "tls", "PUT", "/lt/dav/b.bin", (400,), dict(cms_put), BODY),
            Req("digest-mismatch", "tls", "PUT", "/lt/dav/c.bin", (422,),
                dict(cms_put, **{"CMI-Content-Signature": self.cms_for_c}), OTHER_BODY),
            Req("signature-invalid", "tls", "PUT", "/lt/dav/d.bin", (422,),
                dict(cms_put, **{"CMI-Content-Signature": tamper_signature(self.cms_good)}), BODY),
            Req("signature-malformed", "tls", "PUT", "/lt/dav/e.bin", (400,),
                dict(cms_put, **{"CMI-Content-Signature": base64.b64encode(b"\x30\x03\x02\x01\x01").decode()}),
                BODY),
            Req("signer-untrusted", "tls", "PUT", "/lt/dav/f.bin", (403,),
                dict(cms_put, **{"CMI-Content-Signature": self.cms_untrusted}), BODY),
            Req("signer-not-bound", "tls", "PUT", "/lt/dav/bound/g.bin", (403,),
                dict(cms_put, **{"CMI-Content-Signature": self.cms_good, "Authorization": bound}), BODY),
            Req("too-large", "tls", "PUT", "/lt/dav/limited/h.bin", (413,),
                dict(cms_put, **{"CMI-Content-Signature": self.cms_good}), BODY),
            Req("httpsig-ok", "tls", "PUT", "/lt/dav/i.bin", (201, 204), body=BODY, dynamic="httpsig"),
            # each process's first use of its nonce passes, every later one is a replay
            Req("httpsig-replayed", "tls", "PUT", "/lt/dav/j.bin", (201, 204, 422), body=BODY,
                dynamic="httpsig-replay"),
            # hostile but well-formed enough to reach the modules
            Req("client-txid-bad", "tls", "GET", "/lt/hello.txt", (400,), {"CMI-Client-Transaction-ID": "bad id\x01"}),
            Req("utf8-uri", "tls", "GET", "/lt/%C3%28%FF.txt", (404,)),
        ]

    def run(self, total: int, processes: int = 2, connections: int = 2) -> dict:
        """Sends `total` requests (the mix round-robin) from `processes` processes,
        each with `connections` keep-alive connections per kind. Returns
        {scenario: Counter(status)}; raises AssertionError on an unexpected status."""
        mix = self.mix()
        share = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
        args = [(self._client_state(), mix, n, i, connections) for i, n in enumerate(share)]
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes) as pool:
            results = pool.map(_worker, args)
        out: dict = {}
        bad = []
        for counts, errors in results:
            for (name, status), n in counts.items():
                out.setdefault(name, Counter())[status] += n
            bad += errors
        replays = out.get("httpsig-replayed", Counter())
        if replays[201] + replays[204] > processes:
            bad.append(f"httpsig-replayed: a replayed nonce was accepted: {dict(replays)}")
        assert not bad, "unexpected answers:\n" + "\n".join(bad[:20])
        return out

    def _client_state(self) -> dict:
        pki = self.httpd.pki
        return dict(http_port=self.httpd.http_port, https_port=self.httpd.https_port, ca=str(pki.ca_cert),
                    cert=(str(pki.client.cert), str(pki.client.key)),
                    sig_key_pem=self.sig_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))


# --- the client (runs in worker processes) -------------------------------------
def _context(state: dict, kind: str):
    ctx = ssl.create_default_context(cafile=state["ca"])
    if kind == "tls12":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if kind == "cert":
        ctx.load_cert_chain(*state["cert"])
    return ctx


class _Conns:
    def __init__(self, state: dict):
        self.state = state
        self.ctx = {k: _context(state, k) for k in ("tls", "tls12", "cert")}
        self.pool: dict = {}

    def get(self, kind: str, slot: int):
        key = (kind, slot)
        c = self.pool.get(key)
        if c is None:
            if kind == "plain":
                c = http.client.HTTPConnection("127.0.0.1", self.state["http_port"], timeout=60)
            else:
                c = http.client.HTTPSConnection("localhost", self.state["https_port"], timeout=60,
                                                context=self.ctx[kind])
            self.pool[key] = c
        return c

    def drop(self, kind: str, slot: int):
        c = self.pool.pop((kind, slot), None)
        if c is not None:
            c.close()

    def close(self):
        for c in self.pool.values():
            c.close()
        self.pool.clear()


def _digest_header(conns: _Conns, state: dict, path: str) -> str:
    if "digest_chal" not in state:
        c = conns.get("tls", 0)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        chal = None
        for value in r.headers.get_all("WWW-Authenticate") or []:
            if value.startswith("Digest ") and "SHA-256" in value:
                chal = {"scheme": "Digest"}
                for name, val in digest._PARAM.findall(value[7:]):
                    chal[name.lower()] = val[1:-1] if val.startswith('"') else val
        assert chal, "no Digest SHA-256 challenge"
        state["digest_chal"], state["digest_nc"] = chal, 0
        if r.will_close:
            conns.drop("tls", 0)
    state["digest_nc"] += 1
    return digest.authorization(state["digest_chal"], "alice", "wonder land", "GET", path, nc=state["digest_nc"],
                                algorithm="SHA-256")


def _httpsig_headers(state: dict, path: str, body: bytes, replay: bool) -> dict:
    url = f"https://localhost:{state['https_port']}{path}"
    if not replay:
        return httpsig.sign_request("PUT", url, body, state["sig_key"], "load-ed", "ed25519", nonce=uuid.uuid4().hex)
    # A captured request sent again verbatim: one signature (one nonce, one `created`)
    # per process, so its nonce is remembered as long as the signature is acceptable.
    if "replay_headers" not in state:
        state["replay_headers"] = httpsig.sign_request("PUT", url, body, state["sig_key"], "load-ed", "ed25519",
                                                       nonce=uuid.uuid4().hex)
    return dict(state["replay_headers"])


def _worker(args) -> tuple:
    state, mix, n, index, connections = args
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = dict(state)
    state["sig_key"] = serialization.load_pem_private_key(state["sig_key_pem"], None)
    conns = _Conns(state)
    counts: Counter = Counter()
    errors = []
    try:
        for i in range(n):
            req = mix[(i + index * 7) % len(mix)]
            slot = i % connections
            headers = dict(req.headers)
            if req.dynamic == "digest":
                headers["Authorization"] = _digest_header(conns, state, req.path)
            elif req.dynamic.startswith("httpsig"):
                headers.update(_httpsig_headers(state, req.path, req.body, req.dynamic == "httpsig-replay"))
            status = None
            for attempt in range(2):  # a kept-alive connection the server closed meanwhile: once more
                c = conns.get(req.conn, slot)
                try:
                    c.request(req.method, req.path, body=req.body, headers=headers)
                    r = c.getresponse()
                    r.read()
                    status = r.status
                    if r.will_close:
                        conns.drop(req.conn, slot)
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        http.client.CannotSendRequest, ssl.SSLEOFError) as e:
                    conns.drop(req.conn, slot)
                    if attempt == 1:
                        errors.append(f"{req.name}: {type(e).__name__}: {e}")
            if status is None:
                continue
            counts[(req.name, status)] += 1
            if status not in req.expect and len(errors) < 50:
                errors.append(f"{req.name}: {req.method} {req.path} -> {status}, expected {req.expect}")
    finally:
        conns.close()
    return counts, errors


# --- measuring httpd -----------------------------------------------------------
def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def children(parent: int) -> list[int]:
    """The worker children of an httpd parent (not the single-threaded cgid daemon)."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if _status_field(int(p.name), "PPid") == parent and _status_field(int(p.name), "Threads") > 1:
                out.append(int(p.name))
        except (OSError, KeyError):
            continue
    return sorted(out)


def rss_kib(pid: int) -> int:
    """Resident memory of the process's own: VmRSS less shared memory (RssShmem),
    which is the scoreboard and the shmcb replay caches filling up, not a leak."""
    return _status_field(pid, "VmRSS") - _status_field(pid, "RssShmem")


def rss_detail(pid: int) -> str:
    return ", ".join(f"{k} {_status_field(pid, k)} KiB" for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"))


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def httpd_pid(httpd) -> int:
    return httpd.proc.pid  # started -DFOREGROUND: the parent itself


def wait_for_children(parent: int, count: int = 1, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        kids = children(parent)
        if len(kids) == count or time.monotonic() > deadline:
            return kids
        time.sleep(0.1)

