"""mod_cmi_content (issue 17 item 3): one manifest, one reading. A value the validator
reads is one text node — a comment, processing instruction, CDATA section or element
inside it is refused, since another parser would read another value; elements of the
manifest namespace the validator does not read are refused unless declared metadata;
non-ASCII ids and locations reach the handler intact; the whole item list is in a file."""
import os
import re
import urllib.parse

import pytest

from cmi_e2e.content import www_owned_dir
from cmi_e2e.manifest import NS, IngestRig, cms_b64, digest_b64, item, manifest, xmlsec1_sign

CONFIG = """
ScriptAlias /one/ "{cgi}/"
ScriptAlias /one-meta/ "{cgi}/"
<Directory "{cgi}">
    Require all granted
</Directory>
<Location /one/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /one-meta/>
    CMIDecoupledManifest On
    CMIStagingRoot "{staging}"
    CMIContentTrustAnchors "{ca}"
    CMIManifestMetadataPath "/m:Manifest/m:ContentItem/m:Title"
</Location>
"""

CGI = """touch "{marker}"
cat > /dev/null
echo "Content-Type: text/plain; charset=utf-8"
echo
echo "items=$CMI_CONTENT_ITEMS"
echo "file=$(cat "$CMI_CONTENT_ITEMS_FILE")"
"""


@pytest.fixture(scope="module")
def server(httpd):
    rig = IngestRig(httpd, "one-reading", CGI)
    www_owned_dir(rig.staging / "provider-a")
    httpd.configure(CONFIG.format(cgi=rig.cgi, staging=rig.staging, ca=httpd.pki.ca_cert))
    return rig


def env(r) -> dict:
    return dict(line.split("=", 1) for line in r.content.decode().splitlines() if "=" in line)


def sf_text(value: str) -> str:
    """An RFC 8941 String or RFC 9651 Display String, decoded."""
    if value.startswith('%"'):
        return urllib.parse.unquote(value[2:-1], encoding="utf-8", errors="strict")
    return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def param(items: str, name: str) -> str:
    m = re.search(r";" + name + r'=(%?"(?:[^"\\]|\\.)*")', items)
    assert m, items
    return sf_text(m.group(1))


# --- one text node -------------------------------------------------------------------------

@pytest.mark.parametrize("inner", ["<!-- -->", "<?cmi x?>", "<![CDATA[]]>", "<b/>"],
                         ids=["comment", "processing-instruction", "cdata", "element"])
def test_a_location_read_two_ways_is_refused(server, tmp, inner):
    # To the validator (all text) "provider-a/song.mp3"; to a handler reading the
    # first text node, "provider-a/song".
    data = os.urandom(5000)
    server.stage("provider-a/song.mp3", data)
    server.stage("provider-a/song", b"something else")
    body = manifest(item("s", f"provider-a/song{inner}.mp3", data, cms_b64(data, server.httpd.pki.client, tmp)))
    doc = server.refused(server.post("/one/", body), 400, "manifest-malformed")
    assert "text only" in doc["detail"]


def test_a_signed_hash_read_two_ways_is_refused(server, tmp):
    data = os.urandom(5000)
    server.stage("provider-a/hash.bin", data)
    cms = cms_b64(data, server.httpd.pki.client, tmp)
    body = manifest(f'<ContentItem id="h"><Location>provider-a/hash.bin</Location><SignedHash format="cms">'
                    f'{cms[:40]}<!-- -->{cms[40:]}</SignedHash></ContentItem>')
    server.refused(server.post("/one/", body), 400, "manifest-malformed")
    # entities and character references are still one text node
    body = manifest(item("h&amp;1", "provider-a/hash&#46;bin", data, cms))
    assert server.post("/one/", body).status_code == 200


# --- nothing unread ------------------------------------------------------------------------

def test_unread_manifest_elements_are_refused_unless_metadata(server, tmp):
    data = os.urandom(3000)
    server.stage("provider-a/meta.bin", data)
    cms = cms_b64(data, server.httpd.pki.client, tmp)
    with_title = manifest(item("m", "provider-a/meta.bin", data, cms).replace(
        "</ContentItem>", "<Title>Song <Lang>en</Lang></Title></ContentItem>"))
    with_target = manifest(item("m", "provider-a/meta.bin", data, cms).replace(
        "</ContentItem>", "<Target>/publish/elsewhere</Target></ContentItem>"))
    doc = server.refused(server.post("/one/", with_title), 400, "manifest-malformed")
    assert "Title" in doc["detail"] and "CMIManifestMetadataPath" in doc["detail"]
    server.refused(server.post("/one/", with_target), 400, "manifest-malformed")
    assert server.post("/one-meta/", with_title).status_code == 200
    server.refused(server.post("/one-meta/", with_target), 400, "manifest-malformed")
    # another namespace is not the manifest's
    other = manifest(item("m", "provider-a/meta.bin", data, cms).replace(
        "</ContentItem>", '<x:Note xmlns:x="urn:example:notes">n</x:Note></ContentItem>'))
    # The accepted manifest above moved the file into its snapshot; it goes back to its
    # staged name only after that response: stage it again rather than race that.
    server.stage("provider-a/meta.bin", data)
    r = server.post("/one/", other)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("trick", ["default-namespace", "no-namespace", "inside-metadata"])
def test_an_element_named_like_a_manifest_element_is_refused_in_any_namespace(server, tmp, trick):
    # To the validator one Location; to a reader that ignores namespaces (DOM
    # getElementsByTagName, a regex) two, the second naming other bytes — or, inside
    # declared metadata, a second item to a reader of //m:ContentItem.
    data = os.urandom(3000)
    server.stage("provider-a/named.bin", data)
    server.stage("provider-a/other.bin", b"not what was signed")
    cms = cms_b64(data, server.httpd.pki.client, tmp)
    if trick == "default-namespace":
        body = manifest(item("n", "provider-a/named.bin", data, cms).replace(
            "</ContentItem>", '<Location xmlns="urn:example:x">provider-a/other.bin</Location></ContentItem>'))
    elif trick == "no-namespace":  # the manifest under a prefix, and an unprefixed element in no namespace
        body = (f'<m:Manifest xmlns:m="{NS}"><m:ContentItem id="n"><m:Location>provider-a/named.bin</m:Location>'
                f'<Location>provider-a/other.bin</Location><m:SignedHash format="cms">{cms}</m:SignedHash>'
                '</m:ContentItem></m:Manifest>')
    else:  # /one-meta/ declares Title as metadata: what it holds may not pose as an item
        body = manifest(item("n", "provider-a/named.bin", data, cms).replace(
            "</ContentItem>", '<Title>t<ContentItem id="x"><Location>provider-a/other.bin</Location></ContentItem>'
                              '</Title></ContentItem>'))
    where = "/one-meta/" if trick == "inside-metadata" else "/one/"
    doc = server.refused(server.post(where, body), 400, "manifest-malformed")
    assert "has the name of a manifest element" in doc["detail"]


# --- intact text, the whole list -----------------------------------------------------------

def test_non_ascii_ids_and_locations_reach_the_handler_intact(server, tmp):
    data = os.urandom(4000)
    name = "provider-a/für Élise – 1.mp3"
    server.stage(name, data)
    body = manifest(item("é-1", name, data, cms_b64(data, server.httpd.pki.client, tmp)))
    r = server.post("/one/", body)
    assert r.status_code == 200, r.text
    items = env(r)["items"]
    assert items.startswith('%"%c3%a9-1";result=valid;location=%"provider-a/f%c3%bcr %c3%89lise %e2%80%93 1.mp3"')
    assert param(items, "location") == name
    assert env(r)["file"] == items
    assert "%c3%bc" in items and "?" not in items


def test_an_item_list_too_large_for_the_environment_is_in_a_file(server, tmp):
    # 1200 items: the full list is over 64 KiB; the environment gets the compact
    # form, the file named by CMI_CONTENT_ITEMS_FILE the whole of it.
    www_owned_dir(server.staging / "many")
    data = b"same bytes"
    for i in range(1200):
        server.stage(f"many/{i:05d}.bin", data)
    # Digests under one XML-DSig keep 1200 items within CMIManifestMaxSize
    body = xmlsec1_sign(manifest(*(item(f"item-{i:05d}", f"many/{i:05d}.bin", data) for i in range(1200))),
                        server.httpd.pki.client, tmp)
    r = server.post("/one/", body)
    assert r.status_code == 200, r.text[:300]
    e = env(r)
    assert e["items"].split(", ")[7] == '"item-00007";result=valid'
    full = e["file"].split(", ")
    assert len(full) == 1200
    assert full[7].startswith(f'"item-00007";result=valid;location="many/00007.bin";alg=sha-256;digest=:{digest_b64(data)}:;path="/')
