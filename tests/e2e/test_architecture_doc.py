"""docs/architecture.md keeps up with the code: every CMI_* / CMI-* name the modules use
(notes keys, environment variables, headers, filter names) is in its notes
contract and every name there is still used; every problem type of
modules/libcmi/problem.cpp is in its table and has an entry in docs/errors.md."""
import re

from conftest import SOURCE_DIR

ARCH = SOURCE_DIR / "docs" / "architecture.md"
ERRORS = SOURCE_DIR / "docs" / "errors.md"
# "CMI_USER", "CMI_SAML_ATTR_" (a prefix), "CMI_AUTH_RECORDED " (a prefix and a key), "CMI-Receipt"
LITERAL = re.compile(r'"(CMI_[A-Z0-9_]+|CMI-[A-Z][A-Za-z-]*) ?"')
# `CMI_USER`, `CMI_SAML_ATTR_<NAME>`, `CMI_AUTH_RECORDED <key>`, `CMI-Transaction-ID`
DOC_NAME = re.compile(r"`(CMI_[A-Z0-9_]+|CMI-[A-Z][A-Za-z-]*)[^`]*`")
PROBLEM = re.compile(r'\{"([a-z-]+)", (\d{3}), "[^"]+"\}')


def code_names() -> set[str]:
    names = set()
    for path in (SOURCE_DIR / "modules").rglob("*"):
        if path.suffix in (".cpp", ".hpp"):
            names.update(LITERAL.findall(path.read_text()))
    return names


def contract_section() -> str:
    text = ARCH.read_text()
    start = text.index("\n## Notes contract")
    return text[start:text.index("\n## ", start + 1)]


def test_every_name_in_the_code_is_in_the_contract():
    documented = set(DOC_NAME.findall(contract_section()))
    missing = sorted(code_names() - documented)
    assert missing == [], (f"names used in modules/ but not in docs/architecture.md "
                           f"(Notes contract): {missing}; add a row (who writes, who reads)")


def test_every_name_in_the_contract_is_used():
    stale = sorted(set(DOC_NAME.findall(contract_section())) - code_names())
    assert stale == [], f"docs/architecture.md names what modules/ no longer uses: {stale}"


def test_every_problem_type_is_listed():
    types = PROBLEM.findall((SOURCE_DIR / "modules" / "libcmi" / "problem.cpp").read_text())
    assert len(types) >= 17
    arch, errors = ARCH.read_text(), ERRORS.read_text()
    for code, status in types:
        assert f"`{code}` ({status})" in arch, f"{code} ({status}) not in docs/architecture.md, Problem types"
        assert re.search(rf"^### {re.escape(code)}$", errors, re.M), f"{code}: no ### entry in docs/errors.md"
