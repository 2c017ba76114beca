"""mod_cmi_content and WebDAV (issue 22): no content enters a validated location without
validation. COPY and MOVE are judged where mod_dav looks their Destination up (a
subrequest), whatever the source; every other method has its row in the policy table
of docs/content-validation.md, each tested here against mod_dav over HTTP/1.1 and HTTP/2."""
import os
import re

import pytest

from cmi_e2e.audit import records_of
from cmi_e2e.clients import curl
from cmi_e2e.content import cms_sign, www_owned_dir
from cmi_e2e.problems import assert_problem

CONFIG = """
<Location /dav/i22/>
    CMIAudit On
    CMIAuditOperation DavPolicy
</Location>
<Location /dav/i22/signed/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /dav/i22/optional/>
    CMIContentValidation Optional
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /dav/i22/within/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentCopyWithin On
</Location>
<Location /dav/i22/patchable/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
    CMIContentExtensionMethods PATCH
</Location>
# Validated sections below a place a collection can be copied or moved to.
<Location /dav/i22/deep/signed/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Location>
<Location /dav/i22/fresh/>
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Location>
<Directory "{dav}/i22/dirdeep/signed">
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Directory>
<Directory "{dav}/i22/byname">
    <Files "*.cgi">
        CMIContentValidation Required
        CMIContentTrustAnchors "{ca}"
    </Files>
</Directory>
# One directory under two URLs: validation configured where the content lives.
Alias /dav-i22-alias/ "{dav}/i22/"
<Directory "{dav}/i22/dirsigned">
    CMIContentValidation Required
    CMIContentTrustAnchors "{ca}"
</Directory>
"""

PROTOS = ["--http1.1", "--http2"]
LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            b'<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>p</D:owner></D:lockinfo>')
PROPPATCH = (b'<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x">'
             b'<D:set><D:prop><Z:note>hello</Z:note></D:prop></D:set></D:propertyupdate>')
# mod_dav's own error-level lines for requests it could not carry out (not ours).
DAV_ERRORS = r"dav:error"


@pytest.fixture(scope="module")
def server(httpd):
    root = www_owned_dir(httpd.dav_dir / "i22")
    for d in ("open", "signed", "optional", "within", "patchable", "dirsigned", "byname"):
        www_owned_dir(root / d)
    httpd.i22 = root
    httpd.i22_log = httpd.root / "logs" / "audit-i22.log"
    httpd.configure(CONFIG.format(ca=httpd.pki.ca_cert, dav=httpd.dav_dir),
                    server_snippet=f'CMIAuditLog "{httpd.i22_log}"\n')
    return httpd


def dav(server, method, path, proto, *args, data=None, headers=None):
    opts = ["-X", method, proto]
    for k, v in (headers or {}).items():
        opts += ["-H", f"{k}: {v}"]
    return curl(server.url(path), *opts, *args, ca=server.pki.ca_cert, data=data, early_answer_ok=True)


def signed(server, tmp_path, body):
    return {"CMI-Content-Signature": cms_sign(body, server.pki.client, tmp_path)}


def put_unsigned(server, path, body=b"unsigned content\n"):
    r = dav(server, "PUT", path, "--http1.1", data=body)
    assert r.status in (201, 204), r.body
    return body


def put_signed(server, tmp_path, path, body):
    r = dav(server, "PUT", path, "--http1.1", data=body, headers=signed(server, tmp_path, body))
    assert r.status in (201, 204), r.body


def copy(server, method, src, dst, proto, **headers):
    return dav(server, method, src, proto, headers={"Destination": server.url(dst), **headers})


def tag(proto):
    return proto.strip("-").replace(".", "")


def end_record(server, r):
    recs = records_of(server.i22_log, r.header("CMI-Transaction-ID"))
    return [x for x in recs if x["ev"] == "end"][0]


# --- COPY and MOVE into a validated location ---------------------------------------

@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize("into", ["signed", "optional"])
def test_copy_or_move_of_unvalidated_file_into_validated_location_is_refused(server, method, proto, into):
    src = f"/dav/i22/open/{method}-{into}-{tag(proto)}.txt"
    put_unsigned(server, src)
    dst = f"/dav/i22/{into}/{method}-{tag(proto)}.txt"
    r = copy(server, method, src, dst, proto)
    doc = assert_problem(r, 403, "copy-refused")
    assert dst in doc["detail"]
    assert not (server.i22 / into / f"{method}-{tag(proto)}.txt").exists()
    assert (server.i22 / "open" / f"{method}-{into}-{tag(proto)}.txt").exists()  # MOVE removed nothing


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_depth_infinity_collection_copy_is_refused(server, method, proto):
    tree = f"/dav/i22/open/tree-{method}-{tag(proto)}/"
    assert dav(server, "MKCOL", tree, "--http1.1").status == 201
    for name in ("a.txt", "b.txt"):
        put_unsigned(server, tree + name)
    r = copy(server, method, tree, f"/dav/i22/signed/sub-{method}-{tag(proto)}/", proto, Depth="infinity")
    assert_problem(r, 403, "copy-refused")
    assert not (server.i22 / "signed" / f"sub-{method}-{tag(proto)}").exists()
    assert sorted(p.name for p in (server.i22 / "open" / f"tree-{method}-{tag(proto)}").iterdir()) == \
        ["a.txt", "b.txt"]


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_overwrite_onto_existing_validated_collection_is_refused(server, tmp_path, method, proto):
    name = f"coll-{method}-{tag(proto)}"
    assert dav(server, "MKCOL", f"/dav/i22/signed/{name}/", "--http1.1").status == 201
    good = os.urandom(2000)
    put_signed(server, tmp_path, f"/dav/i22/signed/{name}/kept.bin", good)
    tree = f"/dav/i22/open/over-{method}-{tag(proto)}/"
    assert dav(server, "MKCOL", tree, "--http1.1").status == 201
    put_unsigned(server, tree + "evil.txt")
    r = copy(server, method, tree, f"/dav/i22/signed/{name}/", proto, Depth="infinity", Overwrite="T")
    assert_problem(r, 403, "copy-refused")
    coll = server.i22 / "signed" / name
    assert sorted(p.name for p in coll.iterdir()) == ["kept.bin"]
    assert (coll / "kept.bin").read_bytes() == good
    assert (server.i22 / "open" / f"over-{method}-{tag(proto)}" / "evil.txt").exists()


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_between_two_validated_trees_is_refused(server, tmp_path, method):
    body = os.urandom(1000)
    put_signed(server, tmp_path, f"/dav/i22/signed/from-{method}.bin", body)
    r = copy(server, method, f"/dav/i22/signed/from-{method}.bin", f"/dav/i22/within/to-{method}.bin", "--http2")
    assert_problem(r, 403, "copy-refused")
    assert not (server.i22 / "within" / f"to-{method}.bin").exists()
    # ... and within one tree, without CMIContentCopyWithin, too.
    r = copy(server, method, f"/dav/i22/signed/from-{method}.bin", f"/dav/i22/signed/to-{method}.bin", "--http2")
    assert_problem(r, 403, "copy-refused")
    assert not (server.i22 / "signed" / f"to-{method}.bin").exists()
    assert (server.i22 / "signed" / f"from-{method}.bin").read_bytes() == body


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_within_one_tree_with_copy_within_is_allowed_and_audited(server, tmp_path, method, proto):
    body = os.urandom(1500)
    src, dst = f"/dav/i22/within/src-{method}-{tag(proto)}.bin", f"/dav/i22/within/dst-{method}-{tag(proto)}.bin"
    put_signed(server, tmp_path, src, body)
    r = copy(server, method, src, dst, proto)
    assert r.status == 201, r.body
    assert (server.i22 / "within" / f"dst-{method}-{tag(proto)}.bin").read_bytes() == body
    assert (server.i22 / "within" / f"src-{method}-{tag(proto)}.bin").exists() == (method == "COPY")
    end = end_record(server, r)
    assert end["method"] == method and end["uri"] == src and end["destination"] == dst
    assert end["status"] == 201 and end["refusal"] is None


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_out_of_a_validated_location_is_allowed(server, tmp_path, method):
    body = os.urandom(800)
    put_signed(server, tmp_path, f"/dav/i22/signed/out-{method}.bin", body)
    r = copy(server, method, f"/dav/i22/signed/out-{method}.bin", f"/dav/i22/open/out-{method}.bin", "--http2")
    assert r.status == 201, r.body
    assert (server.i22 / "open" / f"out-{method}.bin").read_bytes() == body


def test_refused_copy_is_audited_with_source_destination_and_refusal(server):
    src, dst = "/dav/i22/open/audited.txt", "/dav/i22/signed/audited.txt"
    put_unsigned(server, src)
    r = copy(server, "COPY", src, dst, "--http1.1")
    assert_problem(r, 403, "copy-refused")
    end = end_record(server, r)
    assert end["method"] == "COPY" and end["uri"] == src and end["destination"] == dst
    assert end["status"] == 403 and end["refusal"] == "copy-refused"


def test_destination_spelled_differently_is_still_refused(server):
    # mod_dav resolves the Destination itself (percent-encoding, dot segments, a
    # second slash): the check is made on what it resolved, not on the header text.
    put_unsigned(server, "/dav/i22/open/spelled.txt")
    for dst in ("/dav/i22/%73igned/sp1.txt", "/dav/i22/open/../signed/sp2.txt", "/dav/i22//signed/sp3.txt"):
        r = copy(server, "COPY", "/dav/i22/open/spelled.txt", dst, "--http1.1")
        assert r.status in (400, 403), (dst, r.status, r.body)
        if r.status == 403:
            assert_problem(r, 403, "copy-refused")
    assert sorted(p.name for p in (server.i22 / "signed").iterdir() if p.name.startswith("sp")) == []


def unsigned_tree(server, path):
    """A collection holding a file and a sub-collection `signed/` with a file."""
    for coll in (path, path + "signed/"):
        assert dav(server, "MKCOL", coll, "--http1.1").status == 201
    put_unsigned(server, path + "evil.cgi")
    put_unsigned(server, path + "signed/evil.txt")


def files_under(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize("dst", ["/dav/i22/deep/", "/dav/i22/fresh", "/dav/i22/dirdeep/", "/dav/i22/byname/pkg/"],
                         ids=["above-location", "location-without-slash", "above-directory", "files-by-name"])
def test_collection_copied_above_a_validated_section_is_refused(server, method, proto, dst):
    # mod_dav looks up only the Destination itself; the members land below it, in
    # sections that validate: signed/ (a <Location>, a <Directory>), the location's own
    # path without its trailing slash, or a <Files "*.cgi"> of the destination's tree.
    tree = f"/dav/i22/open/above-{method}-{tag(proto)}-{dst.strip('/').replace('/', '-')}/"
    unsigned_tree(server, tree)
    r = copy(server, method, tree, dst, proto, Depth="infinity", Overwrite="T")
    doc = assert_problem(r, 403, "copy-refused")
    assert "collection" in doc["detail"]
    target = server.i22 / dst.removeprefix("/dav/i22/").rstrip("/")
    assert not target.exists() or files_under(target) == []
    assert files_under(server.dav_dir / tree.removeprefix("/dav/").rstrip("/")) == ["evil.cgi", "signed/evil.txt"]


def test_collection_copied_where_nothing_below_validates_is_allowed(server):
    # Depth 0 copies the collection without its members; elsewhere a tree may be copied
    # (the <Files "*.cgi"> applies only in its own directory's tree).
    unsigned_tree(server, "/dav/i22/open/free/")
    r = copy(server, "COPY", "/dav/i22/open/free/", "/dav/i22/deep/", "--http1.1", Depth="0")
    assert r.status == 201, r.body
    assert files_under(server.i22 / "deep") == []
    r = copy(server, "COPY", "/dav/i22/open/free/", "/dav/i22/open/free-copy/", "--http1.1", Depth="infinity")
    assert r.status == 201, r.body
    assert files_under(server.i22 / "open" / "free-copy") == ["evil.cgi", "signed/evil.txt"]


def test_collection_copy_where_a_regex_section_validates_is_refused(server):
    # Whether a <LocationMatch> applies below a destination cannot be known from the
    # configuration: a collection copy is refused anywhere while one validates.
    snippet, server_snippet = server.snippet, server.server_snippet
    try:
        server.configure(snippet + f"""
<LocationMatch "^/dav/i22/rx/.*/signed/">
    CMIContentValidation Required
    CMIContentTrustAnchors "{server.pki.ca_cert}"
</LocationMatch>
""", server_snippet)
        unsigned_tree(server, "/dav/i22/open/rx/")
        r = copy(server, "COPY", "/dav/i22/open/rx/", "/dav/i22/rx/a/", "--http1.1")
        doc = assert_problem(r, 403, "copy-refused")
        assert "<LocationMatch ^/dav/i22/rx/.*/signed/>" in doc["detail"]
        assert not (server.i22 / "rx").exists()
        # A single file is judged where it lands.
        r = copy(server, "COPY", "/dav/i22/open/rx/evil.cgi", "/dav/i22/open/rx-file.cgi", "--http1.1")
        assert r.status == 201, r.body
    finally:
        server.configure(snippet, server_snippet)


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_directory_validated_under_two_urls_is_refused_under_both(server, method):
    put_unsigned(server, f"/dav/i22/open/two-urls-{method}.txt")
    for dst in (f"/dav/i22/dirsigned/{method}-1.txt", f"/dav-i22-alias/dirsigned/{method}-2.txt"):
        r = copy(server, method, f"/dav/i22/open/two-urls-{method}.txt", dst, "--http1.1")
        assert_problem(r, 403, "copy-refused")
    assert sorted(p.name for p in (server.i22 / "dirsigned").iterdir()) == []
    assert_problem(dav(server, "PUT", f"/dav-i22-alias/dirsigned/{method}-3.txt", "--http1.1", data=b"x"), 400,
                   "signature-required")


# --- the method-by-method table -----------------------------------------------------

@pytest.mark.parametrize("proto", PROTOS)
def test_row_put(server, tmp_path, proto):
    r = dav(server, "PUT", f"/dav/i22/signed/put-{tag(proto)}.bin", proto, data=b"unsigned")
    assert_problem(r, 400, "signature-required")
    body = os.urandom(3000)
    r = dav(server, "PUT", f"/dav/i22/signed/put-{tag(proto)}.bin", proto, data=body,
            headers=signed(server, tmp_path, body))
    assert r.status == 201, r.body


@pytest.mark.parametrize("proto", PROTOS)
def test_row_partial_put(server, tmp_path, proto):
    # mod_dav writes a PUT with Content-Range into the existing file: the signature
    # would cover four bytes, and the stored file would be signed by nobody.
    path, good = f"/dav/i22/signed/partial-{tag(proto)}.bin", os.urandom(1000)
    put_signed(server, tmp_path, path, good)
    patch = b"EVIL"
    for headers in ({}, signed(server, tmp_path, patch)):
        r = dav(server, "PUT", path, proto, data=patch, headers={"Content-Range": "bytes 10-13/*", **headers})
        doc = assert_problem(r, 400, "partial-update-refused")
        assert "Content-Range" in doc["detail"]
    assert (server.i22 / "signed" / f"partial-{tag(proto)}.bin").read_bytes() == good


@pytest.mark.parametrize("proto", PROTOS)
def test_row_post(server, tmp_path, proto):
    r = dav(server, "POST", "/dav/i22/signed/", proto, data=b"unsigned")
    assert_problem(r, 400, "signature-required")
    body = b"signed post"
    r = dav(server, "POST", "/dav/i22/signed/", proto, data=body, headers=signed(server, tmp_path, body))
    # Validated: what mod_dav then does with a POST (nothing; not allowed) is its business.
    assert r.header("Content-Type") is None or "problem" not in r.header("Content-Type"), r.body


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("method", ["PATCH", "BIND", "ORDERPATCH", "X-CUSTOM"])
def test_row_extension_methods_are_refused(server, tmp_path, method, proto):
    body = b"patch bytes"
    for headers in ({}, signed(server, tmp_path, body)):
        r = dav(server, method, "/dav/i22/signed/ext.bin", proto, data=body, headers=headers)
        doc = assert_problem(r, 405, "method-refused")
        assert method in doc["detail"] and "CMIContentExtensionMethods" in doc["detail"]
        allow = r.header("Allow").split(",")
        assert "PUT" in allow and method not in allow
    # Outside validated locations nothing changes (mod_dav's or httpd's own answer).
    server.expect_error(r"AH00135: Invalid method in request")
    r = dav(server, method, "/dav/i22/open/ext.bin", proto, data=body)
    assert r.status >= 400 and "problem" not in (r.header("Content-Type") or "")


@pytest.mark.parametrize("proto", PROTOS)
def test_row_extension_method_configured_is_validated(server, tmp_path, proto):
    server.expect_error(DAV_ERRORS)
    r = dav(server, "PATCH", "/dav/i22/patchable/x.bin", proto, data=b"unsigned")
    assert_problem(r, 400, "signature-required")
    body = b"signed patch"
    r = dav(server, "PATCH", "/dav/i22/patchable/x.bin", proto, data=body, headers=signed(server, tmp_path, body))
    assert r.status in (405, 501)  # validated; mod_dav itself does not implement PATCH


@pytest.mark.parametrize("method", ["COPY", "PUT", "HEAD"])
def test_extension_methods_cannot_name_a_method_with_its_own_rules(server, method):
    # Listing COPY would change nothing (COPY keeps its own rules): httpd -t says so
    # rather than let an administrator believe it let COPY through unchecked.
    server.configtest_refuses("CMIContentExtensionMethods", f"'{method}' is one of HTTP's and WebDAV's own methods",
                              snippet=f"<Location /x/>\n    CMIContentValidation Required\n"
                                      f"    CMIContentExtensionMethods PATCH {method}\n</Location>\n")


@pytest.mark.parametrize("proto", PROTOS)
def test_row_mkcol(server, proto):
    r = dav(server, "MKCOL", f"/dav/i22/signed/mk-{tag(proto)}/", proto)
    assert r.status == 201, r.body
    assert (server.i22 / "signed" / f"mk-{tag(proto)}").is_dir()
    r = dav(server, "MKCOL", f"/dav/i22/signed/mkb-{tag(proto)}/", proto, data=b"<x/>")
    assert_problem(r, 400, "signature-required")
    assert not (server.i22 / "signed" / f"mkb-{tag(proto)}").exists()


@pytest.mark.parametrize("proto", PROTOS)
def test_row_delete(server, tmp_path, proto):
    put_signed(server, tmp_path, f"/dav/i22/signed/del-{tag(proto)}.bin", b"x")
    r = dav(server, "DELETE", f"/dav/i22/signed/del-{tag(proto)}.bin", proto)
    assert r.status == 204, r.body
    assert not (server.i22 / "signed" / f"del-{tag(proto)}.bin").exists()


def xml_body_needs_a_signature(server, tmp_path, method, name, proto, body, content):
    """On a signed file /dav/i22/signed/<name>-<proto>.bin holding `content`, a WebDAV
    request whose body is protocol XML: refused unsigned, like any body in a validated
    location; (the file's path, mod_dav's answer to the signed one)."""
    path = f"/dav/i22/signed/{name}-{tag(proto)}.bin"
    put_signed(server, tmp_path, path, content)
    xml = {"Content-Type": "application/xml"}
    assert_problem(dav(server, method, path, proto, data=body, headers=xml), 400, "signature-required")
    return path, dav(server, method, path, proto, data=body, headers={**xml, **signed(server, tmp_path, body)})


@pytest.mark.parametrize("proto", PROTOS)
def test_row_lock_and_unlock(server, tmp_path, proto):
    path, r = xml_body_needs_a_signature(server, tmp_path, "LOCK", "lock", proto, LOCKINFO, b"locked content")
    assert r.status == 200, r.body
    token = r.header("Lock-Token")
    # A refresh has no body: nothing to validate.
    r = dav(server, "LOCK", path, proto, headers={"If": f"({token})", "Timeout": "Second-60"})
    assert r.status == 200, r.body
    r = dav(server, "UNLOCK", path, proto, headers={"Lock-Token": token})
    assert r.status == 204, r.body
    # A LOCK on an unmapped URL creates no content (mod_dav_fs: a lock-null resource).
    r = dav(server, "LOCK", f"/dav/i22/signed/lock-null-{tag(proto)}.bin", proto, data=LOCKINFO,
            headers={"Content-Type": "application/xml", **signed(server, tmp_path, LOCKINFO)})
    assert r.status in (200, 201), r.body
    assert not (server.i22 / "signed" / f"lock-null-{tag(proto)}.bin").exists()


@pytest.mark.parametrize("proto", PROTOS)
def test_row_proppatch(server, tmp_path, proto):
    _, r = xml_body_needs_a_signature(server, tmp_path, "PROPPATCH", "props", proto, PROPPATCH, b"with properties")
    assert r.status == 207, r.body
    assert re.search(rb"200 OK", r.body)


@pytest.mark.parametrize("proto", PROTOS)
def test_row_propfind_get_head_options(server, tmp_path, proto):
    put_signed(server, tmp_path, f"/dav/i22/signed/read-{tag(proto)}.bin", b"readable")
    r = dav(server, "PROPFIND", "/dav/i22/signed/", proto, headers={"Depth": "1"})
    assert r.status == 207, r.body
    r = dav(server, "PROPFIND", "/dav/i22/signed/", proto, data=b"<propfind xmlns='DAV:'><allprop/></propfind>",
            headers={"Depth": "0"})
    assert_problem(r, 400, "signature-required")
    r = dav(server, "GET", f"/dav/i22/signed/read-{tag(proto)}.bin", proto)
    assert r.status == 200 and r.body == b"readable"
    assert dav(server, "HEAD", f"/dav/i22/signed/read-{tag(proto)}.bin", proto, "-I").status == 200
    assert dav(server, "OPTIONS", "/dav/i22/signed/", proto).status == 200
