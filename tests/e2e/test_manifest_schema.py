"""The manifest schema shipped in docs/ (xmllint --schema, independent of our parser)."""
import os
import subprocess

import pytest

SRC = os.environ.get("CMI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
XSD = os.path.join(SRC, "docs", "schema", "cmi-manifest-1.xsd")
EXAMPLE = os.path.join(SRC, "docs", "examples", "manifest.xml")


def validates(path):
    r = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", XSD, path], capture_output=True, text=True)
    return r.returncode == 0


def test_shipped_example_validates():
    assert validates(EXAMPLE)


@pytest.mark.parametrize("loc,ok", [
    ("provider-a/song-1.mp3", True), (".hidden/a..b", True),
    ("../../etc/passwd", False), ("/etc/passwd", False), ("a/./b", False), ("a//b", False), ("a/..", False),
])
def test_location_rules(tmp_path, loc, ok):
    doc = tmp_path / "m.xml"
    doc.write_text('<Manifest xmlns="urn:mod-cmi:manifest:1"><ContentItem id="a">'
                   f'<Location>{loc}</Location></ContentItem></Manifest>')
    assert validates(str(doc)) is ok


def test_duplicate_ids_and_unknown_algorithm_fail(tmp_path):
    doc = tmp_path / "m.xml"
    doc.write_text('<Manifest xmlns="urn:mod-cmi:manifest:1">'
                   '<ContentItem id="a"><Location>x</Location></ContentItem>'
                   '<ContentItem id="a"><Location>y</Location></ContentItem></Manifest>')
    assert not validates(str(doc))
    doc.write_text('<Manifest xmlns="urn:mod-cmi:manifest:1"><ContentItem id="a"><Location>x</Location>'
                   '<Digest algorithm="sha-1">AAAA</Digest></ContentItem></Manifest>')
    assert not validates(str(doc))
