"""Assertions on the RFC 9457 problem documents of docs/architecture.md §Problem types."""
import re

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def status_of(resp) -> int:
    """Works for requests.Response and clients.Response."""
    return resp.status_code if hasattr(resp, "status_code") else resp.status


def header_of(resp, name: str):
    return resp.headers.get(name) if hasattr(resp, "status_code") else resp.header(name)


def assert_problem(resp, status: int, code: str) -> dict:
    """The response is the problem document `code` with `status`; returns the document."""
    assert status_of(resp) == status, f"status {status_of(resp)}, expected {status}"
    ctype = header_of(resp, "Content-Type")
    assert ctype is not None and ctype.split(";")[0].strip() == "application/problem+json", ctype
    doc = resp.json()
    assert doc["type"] == f"tag:mod-cmi,2026:{code}", doc
    assert doc["status"] == status
    assert isinstance(doc["title"], str) and doc["title"]
    txid = header_of(resp, "CMI-Transaction-ID")
    assert txid and UUID7.match(txid), txid
    assert doc["transaction_id"] == txid
    return doc
