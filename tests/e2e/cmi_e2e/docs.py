"""Commands quoted in the docs, for tests that run them as written."""
import re
from pathlib import Path

FENCE = re.compile(r"^```sh(?: ([\w-]+))?\n(.*?)^```", re.S | re.M)
CHECK = re.compile(r"^- `(.+?)` → (.+)$", re.M)


def sh_blocks(doc: Path) -> list[tuple[str, str]]:
    """Every ```sh block of a document, in order, as (tag or "", code)."""
    return [(m.group(1) or "", m.group(2)) for m in FENCE.finditer(doc.read_text())]


def sh_block(doc: Path, tag: str) -> str:
    found = [code for t, code in sh_blocks(doc) if t == tag]
    assert len(found) == 1, f"{doc.name} has {len(found)} ```sh {tag} blocks"
    return found[0]


def arrow_checks(doc: Path, heading: str) -> list[tuple[str, list[str]]]:
    """The '- `command` → `expected`, `expected`' bullets of the paragraph after `heading`."""
    text = doc.read_text()
    start = text.index(heading)
    end = text.find("\n\n", text.index("\n- ", start))
    return [(m.group(1), re.findall(r"`([^`]+)`", m.group(2))) for m in CHECK.finditer(text[start:end])]
