"""Decoupled Upload snapshots (issue 17 item 2): a moved file the handler did not take is
back at its staged name before the client can see the response as complete. A provider
that sends a second manifest naming the same staged file right after the first one's
response — on the same connection (HTTP/1.1 keep-alive, HTTP/2) or a new one — always
finds it; so does one whose first response had a Content-Length and was all sent before
the handler ended, one whose handler took only some of the snapshots, and one whose
request went through an internal redirect or an ErrorDocument."""
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from cmi_e2e.content import write_cgi, www_owned_dir
from cmi_e2e.manifest import cms_b64, item, manifest, stage_file

ROUNDS = 50

CONFIG = """
ScriptAlias /release/ "{cgi}/"
ScriptAlias /release-copy/ "{cgi}/"
Alias /release-act/ "{docs}/"
Alias /release-err/ "{docs}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Directory "{docs}">
    Require all granted
</Directory>
<Location /release/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /release-copy/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIStagingSnapshot Copy
</Location>
<Location /release-act/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    SetHandler cmi-ingest
    Action cmi-ingest /release-cgi/ingest.sh virtual
</Location>
<Location /release-err/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    ErrorDocument 404 /release-cgi/ingest.sh
</Location>
ScriptAlias /release-cgi/ "{cgi}/"
<Location /release-lua>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    SetHandler lua-script
</Location>
LuaMapHandler /release-lua "{lua}" handle
"""

# An ingest that does not take its snapshots (it only reports them), unless asked to
# take the first one (?take) — after its header is out, so the snapshots must stay
# until its output ends, not only until the handler has passed it on.
CGI = r"""cat > /dev/null
printf 'Content-Type: text/plain\r\n\r\n'
case "$QUERY_STRING" in
*take*) sleep 0.3
        first=$(printf '%s' "$CMI_CONTENT_ITEMS" | grep -o 'path="[^"]*"' | head -n 1 | cut -d'"' -f2)
        mv "$first" "{taken}/$(basename "$(dirname "$first")")" ;;
esac
printf 'validation=%s items=%s' "$CMI_CONTENT_VALIDATION" "$CMI_CONTENT_ITEMS"
"""

# An in-process handler whose whole answer (with a Content-Length) is flushed to the
# client before the handler ends: the client has every byte it was promised and may
# send the next manifest while the handler is still at work.
LUA = """
function handle(r)
  r:requestbody()
  local body = "validation=" .. tostring(r.subprocess_env["CMI_CONTENT_VALIDATION"]) ..
               " items=" .. tostring(r.subprocess_env["CMI_CONTENT_ITEMS"])
  r.content_type = "text/plain"
  r.headers_out["Content-Length"] = tostring(#body)
  r:write(body)
  r:flush()
  r.usleep(500000)
  return apache2.OK
end
"""

@pytest.fixture(scope="module")
def server(httpd):
    cgi = httpd.root / "cgi-bin-release"
    docs = www_owned_dir(httpd.root / "htdocs-release")
    staging = www_owned_dir(httpd.root / "var" / "staging-release")
    taken = www_owned_dir(httpd.root / "var" / "release-taken")
    write_cgi(cgi / "ingest.sh", CGI.replace("{taken}", str(taken)))
    lua = httpd.root / "conf" / "release.lua"
    lua.write_text(LUA)
    mods = "".join(f'LoadModule {m}_module "{httpd.stock_dir}/mod_{m}.so"\n' for m in ("actions", "lua"))
    httpd.configure(CONFIG.format(cgi=cgi, docs=docs, staging=staging, ca=httpd.pki.ca_cert, lua=lua),
                    server_snippet=mods)
    httpd.release_staging, httpd.release_taken = staging, taken
    return httpd


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def stage(server, name: str, data: bytes) -> Path:
    return stage_file(server.release_staging, name, data)


def signed_manifest(server, tmp, name: str, data: bytes, ids=("a",)) -> bytes:
    cms = cms_b64(data, server.pki.client, tmp)
    return manifest(*(item(i, name, data, cms) for i in ids)).encode()


def post(session, server, where: str, body: bytes, query: str = "") -> requests.Response:
    return session.post(server.url(f"{where}ingest.sh{query}"), data=body,
                        headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=60)


def snapshot_dirs(text: str) -> set[str]:
    return {os.path.dirname(p) for p in re.findall(r';path="([^"]*)"', text)}


# --- the next manifest finds the staged file -----------------------------------------------

@pytest.mark.parametrize("where", ["/release/", "/release-copy/"])
@pytest.mark.parametrize("connection", ["new", "keep-alive"])
def test_a_second_manifest_right_after_the_first_finds_the_staged_file(server, tmp, where, connection):
    data = os.urandom(40_000)
    staged = stage(server, "again.bin", data)
    body = signed_manifest(server, tmp, "again.bin", data)
    session = requests.Session()
    for n in range(ROUNDS):
        if connection == "new":
            session.close()
            session = requests.Session()
        for which in ("first", "second"):
            r = post(session, server, where, body)
            assert r.status_code == 200, f"round {n}, {which} manifest: {r.status_code} {r.text[:300]}"
            assert "validation=valid" in r.text
            # No wait: the moved file is back before the response is complete.
            assert staged.read_bytes() == data, f"round {n}, {which} manifest: the staged file is not back"
            assert not any(os.path.exists(d) for d in snapshot_dirs(r.text))
    session.close()


def curl_many(server, url: str, body: bytes, rounds: int, *args: str) -> list[str]:
    """`rounds` POSTs of `body` one after the other on one curl connection; their status codes."""
    manifest_file = server.root / "var" / "release-manifest.xml"
    manifest_file.write_bytes(body)
    cmd = ["curl", "-sS", "--cacert", str(server.pki.ca_cert), "-H", "Content-Type: application/xml",
           "--data-binary", f"@{manifest_file}", "-w", "%{http_version} %{http_code} %{num_connects}\\n",
           *args] + ["-o", "/dev/null", url] * rounds
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")[:-1]


@pytest.mark.parametrize("version", ["--http1.1", "--http2"])
def test_back_to_back_manifests_on_one_connection(server, tmp, version):
    data = os.urandom(20_000)
    stage(server, "curl.bin", data)
    lines = curl_many(server, server.url("/release/ingest.sh"), signed_manifest(server, tmp, "curl.bin", data),
                      ROUNDS, version)
    expected = "2" if version == "--http2" else "1.1"
    assert len(lines) == ROUNDS
    assert all(line.split()[:2] == [expected, "200"] for line in lines), lines
    assert sum(int(line.split()[2]) for line in lines) == 1  # one connection for all of them


@pytest.mark.parametrize("connection", ["new", "keep-alive"])
def test_a_content_length_answer_sent_before_the_handler_ends(server, tmp, connection):
    # The client has the whole answer it was promised while the handler still runs;
    # its last byte waits until the snapshots are released.
    data = os.urandom(30_000)
    staged = stage(server, "linger.bin", data)
    body = signed_manifest(server, tmp, "linger.bin", data)
    with requests.Session() as first:
        for n in range(5):
            r = first.post(server.url("/release-lua"), data=body, headers={"Content-Type": "application/xml"},
                           verify=str(server.pki.ca_cert), timeout=60)
            assert r.status_code == 200 and "validation=valid" in r.text, r.text[:300]
            assert r.headers.get("Content-Length") == str(len(r.content))
            assert staged.read_bytes() == data, f"round {n}: the staged file is not back"
            second = first if connection == "keep-alive" else requests
            assert post(second, server, "/release/", body).status_code == 200


def test_a_content_length_answer_over_http2(server, tmp):
    data = os.urandom(30_000)
    stage(server, "linger-h2.bin", data)
    lines = curl_many(server, server.url("/release-lua"), signed_manifest(server, tmp, "linger-h2.bin", data), 5,
                      "--http2")
    assert [line.split()[:2] for line in lines] == [["2", "200"]] * 5, lines


# --- handlers that take some, redirects, error documents -----------------------------------

def test_snapshots_the_handler_took_stay_taken_the_others_are_back(server, tmp):
    a, b = os.urandom(10_000), os.urandom(10_000)
    sa, sb = stage(server, "take-a.bin", a), stage(server, "take-b.bin", b)
    body = manifest(item("a", "take-a.bin", a, cms_b64(a, server.pki.client, tmp)),
                    item("b", "take-b.bin", b, cms_b64(b, server.pki.client, tmp))).encode()
    r = post(requests, server, "/release/", body, "?take")
    assert r.status_code == 200, r.text[:300]
    (txdir,) = snapshot_dirs(r.text)
    assert (server.release_taken / os.path.basename(txdir)).read_bytes() == a
    assert not sa.exists()  # taken: it left the staging area with the handler
    assert sb.read_bytes() == b  # not taken: back, before the response was complete
    assert not os.path.exists(txdir)


@pytest.mark.parametrize("where,query", [("/release-act/", ""), ("/release-err/", "?missing")],
                         ids=["action-redirect", "error-document"])
def test_the_final_request_of_a_redirect_releases_the_snapshots(server, tmp, where, query):
    # Action: the manifest is validated at /release-act/ and the CGI runs on the
    # redirected request. ErrorDocument: the named file does not exist (404), the CGI
    # answers on the error document's request. Either way the answer the client sees
    # is that of the final request.
    data = os.urandom(10_000)
    staged = stage(server, "redirect.bin", data)
    body = signed_manifest(server, tmp, "redirect.bin", data)
    with requests.Session() as s:
        for n in range(10):
            r = s.post(server.url(f"{where}nothing-here{query}"), data=body,
                       headers={"Content-Type": "application/xml"}, verify=str(server.pki.ca_cert), timeout=60)
            assert r.status_code == (200 if where == "/release-act/" else 404), r.text[:300]
            assert "validation=valid" in r.text, r.text[:300]
            assert staged.read_bytes() == data, f"round {n}: the staged file is not back"
