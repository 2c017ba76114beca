"""The validated-assertion cache cannot be made to grow a child without bound
(issue 21.2).

One valid bearer assertion with 500 attribute values (about 65 KB once
parsed), replayed with ?q=1, ?q=2, … and under ever new paths: the cache key
held the request's URL (the recipients), so every query was a new entry of the
same document, up to 10 000 entries a child — hundreds of MB. The key now
leaves the URL out (the Recipient is checked on every use instead), and the
cache is bounded in bytes, not only in entries."""
import concurrent.futures
import os
from pathlib import Path

import pytest
import requests

from cmi_e2e import saml
from cmi_e2e.load import SINGLE_CHILD

SP = "https://cmc.example/memory"
REQUESTS = 1500



@pytest.fixture(scope="module")
def server(httpd):
    idp = saml.Idp(httpd.root / "conf", "https://idp.example/memory", "memory-idp")
    (httpd.docroot / "mem").mkdir(exist_ok=True)
    (httpd.docroot / "mem" / "hello.txt").write_text("memory page\n")
    # A large assertion needs a large header limit (set inside the TLS vhost).
    # One child serves everything: its growth is what is measured.
    httpd.configure(saml.location("/mem", idp.metadata_path, SP),
                    server_snippet=SINGLE_CHILD, vhost_snippet="LimitRequestFieldSize 131072")
    values = {f"attribute{i}": [f"value {i} " + "x" * 60] for i in range(500)}
    xml = idp.signed_assertion(saml.AssertionSpec(issuer=idp.entity_id, audience=SP, attributes=values,
                                                  not_on_or_after=600, confirmation_not_on_or_after=600))
    httpd.big_assertion = saml.header(xml)
    assert 60000 < len(httpd.big_assertion) < 131072
    yield httpd
    httpd.configure("")


def children_rss_kb(parent: int) -> dict:
    out = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(parent) and "VmRSS" in fields:
            out[int(status.parent.name)] = int(fields["VmRSS"].split()[0])
    return out


def hammer(server, paths):
    def one(chunk):
        s = requests.Session()
        codes = set()
        for p in chunk:
            r = s.get(server.url(p), headers={"Authorization": server.big_assertion},
                      verify=str(server.pki.ca_cert), timeout=60)
            codes.add(r.status_code)
        return codes
    chunks = [paths[i::4] for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return set().union(*pool.map(one, chunks))


@pytest.mark.longrun  # RSS: meaningless under ASan (quarantine, shadow memory); ./dev test runs it
def test_child_memory_stays_bounded_under_distinct_queries(server):
    # Warm every worker thread up with the same URL: what malloc keeps from
    # parsing 65 KB documents is not what is measured.
    assert hammer(server, ["/mem/hello.txt"] * 200) == {200}
    before = children_rss_kb(server.proc.pid)
    queries = [f"/mem/hello.txt?q={i}" for i in range(REQUESTS // 2)]
    paths = [f"/mem/{i}/x.txt" for i in range(REQUESTS // 2)]  # authenticated before mod_dir/404
    assert hammer(server, queries) == {200}
    assert hammer(server, paths) == {404}
    after = children_rss_kb(server.proc.pid)
    grown_mb = (sum(after.values()) - sum(before.values())) / 1024
    # One entry per document: a few MB of noise, where an entry per URL grew
    # the child by about 70 KB x 1500 = 100 MB.
    assert grown_mb < 16, f"the child grew by {grown_mb:.0f} MB over {REQUESTS} distinct URLs"
