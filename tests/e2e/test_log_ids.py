"""Every error-log message of mod_cmi at warn or above carries a stable id (CMInnnnn, in
the manner of httpd's AHnnnnn) that docs/troubleshooting.md lists; module files log
with APLOG_MARK (the glue with CMI_LOG_MARK), never through ap_log_*error_ directly,
which would skip httpd's per-module level check.

The ids come from the sources (CMILOGNO(nnnnn) in modules/, modules/httpd/log.hpp
explains the scheme), one line of a real refusal shows the id in the log.
"""
import re

import requests

from conftest import SOURCE_DIR

MODULES = SOURCE_DIR / "modules"
DOC = SOURCE_DIR / "docs" / "troubleshooting.md"
ID = re.compile(r"CMILOGNO\((\d+)\)")
# The first digit of an id names the area it belongs to (modules/httpd/log.hpp).
AREA = {"httpd": "0", "mod_cmi_tls": "1", "mod_cmi_auth": "2", "mod_cmi_content": "3", "mod_cmi_audit": "4"}
CALL = re.compile(r"\bap_log_[a-z]*error_?\s*\(")
BELOW_WARN = re.compile(r"\bAPLOG_(NOTICE|INFO|DEBUG|TRACE\d)\b")




def sources(with_libcmi=False):
    """The modules' and the glue's files; with_libcmi: also libcmi's (the audit log
    writer's messages, which mod_cmi_audit logs, carry their ids there)."""
    for path in sorted(MODULES.rglob("*.[ch]pp")):
        if path.parent.name in AREA or (with_libcmi and path.parent.name == "libcmi"):
            yield path, path.read_text()


def ids():
    found = {}
    for path, text in sources(with_libcmi=True):
        for m in ID.finditer(text):
            found.setdefault(m.group(1), []).append(f"{path.relative_to(SOURCE_DIR)}:{text.count(chr(10), 0, m.start()) + 1}")
    return found


def calls(text):
    """Each ap_log_* call from its name to the closing parenthesis (strings skipped)."""
    for m in CALL.finditer(text):
        depth, i, quoted = 0, m.end() - 1, False
        while i < len(text):
            c = text[i]
            if quoted:
                if c == "\\":
                    i += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        yield m.start(), text[m.start():i + 1]


def test_ids_are_unique_five_digits_and_in_their_area():
    found = ids()
    assert found, "no CMILOGNO ids in modules/"
    twice = {i: places for i, places in found.items() if len(places) > 1}
    assert twice == {}, f"ids used more than once: {twice}"
    bad = [i for i in found if len(i) != 5]
    assert bad == [], f"ids are five digits: {bad}"
    for i, places in found.items():
        area = places[0].split("/")[1]
        if area in AREA:
            assert i[0] == AREA[area], f"CMI{i} at {places[0]}: ids of {area} begin with {AREA[area]}"


def test_every_id_is_documented_in_troubleshooting():
    doc = DOC.read_text()
    missing = sorted(f"CMI{i} ({places[0]})" for i, places in ids().items() if f"CMI{i}" not in doc)
    assert missing == [], f"ids not in docs/troubleshooting.md: {missing}"
    stale = sorted(set(re.findall(r"CMI(\d{5})\b", doc)) - set(ids()))
    assert stale == [], f"docs/troubleshooting.md names ids no source has: {stale}"


def test_warnings_and_worse_carry_an_id_and_use_the_level_check():
    problems = []
    for path, text in sources():
        for at, call in calls(text):
            where = f"{path.relative_to(SOURCE_DIR)}:{text.count(chr(10), 0, at) + 1}"
            name = call[:call.index("(")].strip()
            if name.endswith("_"):
                problems.append(f"{where}: {name} skips httpd's level check; use {name[:-1]} with APLOG_MARK")
            # A message made elsewhere ("%s") carries its id in the text that makes it;
            # one whose id comes with it starts "%s…" with an argument named id.
            if (BELOW_WARN.search(call) or "CMILOGNO(" in call or re.search(r',\s*"%s"\s*,', call)
                    or re.search(r',\s*"%s[^"]*"\s*,\s*(\w+\.)?id\b', call)):
                continue
            problems.append(f"{where}: a message at warn or above without CMILOGNO")
    assert problems == [], "\n".join(problems)


def test_a_refusal_line_carries_its_id(httpd):
    (httpd.docroot / "ids").mkdir(exist_ok=True)
    httpd.configure("<Location /ids>\n    CMIRequireTLS On\n</Location>\n")
    offset = httpd.log_size()
    r = requests.get(httpd.url("/ids/x", tls=False), timeout=30)
    assert r.status_code == 403
    assert httpd.wait_for_log("refused GET /ids/x", offset)
    line = next(l for l in httpd.log_since(offset).splitlines() if "refused GET /ids/x" in l)
    assert re.search(r"\[cmi_tls:warn\] .*CMI00005: refused GET /ids/x: tls-required \(403\)", line), line
