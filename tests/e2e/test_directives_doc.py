"""docs/directives.md documents exactly the directives the four modules register.

The directives come from httpd itself (`apache2 -L` with the modules loaded through the
harness configuration), the entries from the `### Name` headings of the reference.
"""
import re
import subprocess
from pathlib import Path

from conftest import SOURCE_DIR

DOC = SOURCE_DIR / "docs" / "directives.md"
# A directive entry is a one-word heading; sections such as "### How mod_cmi_tls decides" are not.
ENTRY = re.compile(r"^### ([A-Za-z][A-Za-z0-9]+)\s*$", re.M)
LISTED = re.compile(r"^(\S+) \((mod_cmi_[a-z]+)\.cpp\)$", re.M)
FIELDS = ("Description", "Syntax", "Default", "Context", "Module")


def registered(httpd) -> dict[str, str]:
    conf = Path(httpd.root) / "conf" / "directives.conf"
    conf.write_text(httpd.config_text(server_snippet="", snippet="", vhost_snippet=""))
    out = subprocess.run([httpd.httpd_bin, "-L", "-d", str(httpd.root), "-f", str(conf)],
                         capture_output=True, text=True, timeout=60, env=httpd.environment())
    assert out.returncode == 0, out.stderr
    return {name: module for name, module in LISTED.findall(out.stdout)}


def entries() -> dict[str, str]:
    text = DOC.read_text()
    heads = list(ENTRY.finditer(text))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        nxt = text.find("\n## ", m.end())
        if 0 <= nxt < end:
            end = nxt
        out[m.group(1)] = text[m.end():end]
    return out


def test_all_four_modules_are_loaded(httpd):
    modules = set(registered(httpd).values())
    assert modules == {"mod_cmi_tls", "mod_cmi_auth", "mod_cmi_audit", "mod_cmi_content"}


def test_every_registered_directive_has_an_entry(httpd):
    missing = sorted(set(registered(httpd)) - set(entries()))
    assert missing == [], f"directives without a ### entry in docs/directives.md: {missing}"


def test_every_entry_names_a_registered_directive(httpd):
    unknown = sorted(set(entries()) - set(registered(httpd)))
    assert unknown == [], f"docs/directives.md documents directives httpd does not know: {unknown}"


def test_every_entry_is_complete(httpd):
    known = registered(httpd)
    for name, body in entries().items():
        for field in FIELDS:
            assert re.search(rf"\*\*{field}\*\*|^\| *{field} *\|", body, re.M), f"{name}: no {field}"
        module = re.search(r"\*\*Module\*\*\s*\|\s*(mod_cmi_[a-z]+)", body)
        assert module and module.group(1) == known.get(name), f"{name}: wrong or no module"
        assert f"`{name}" in body, f"{name}: no syntax line naming the directive"
        assert name in "".join(re.findall(r"```apache\n(.*?)```", body, re.S)), f"{name}: no example"
