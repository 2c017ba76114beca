"""Parsing client-sent structured fields is linear in their size (issue 21 item 4).

`LimitRequestFieldSize` is raised for SAML, so a Signature-Input, Signature or
Content-Digest of hundreds of KB reaches the RFC 8941 parser: a quadratic step
(dictionary or parameter insertion, the duplicate-component check, the label lookup)
made one 256 KB header cost about a second of CPU. Each shape is parsed at N and 4N
members by tests/work/cmi-parse-work under callgrind, counting only the parse
(--toggle-collect): instruction counts, not time, so machine load cannot move them.
Linear work grows about 4x; a quadratic step grows about 16x."""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD_DIR

# valgrind cannot run the sanitizer build: with the other valgrind measurements in ./dev test.
pytestmark = pytest.mark.longrun

SMALL, LARGE = 5_000, 20_000
# Linear growth is 4x (plus a little for longer names); quadratic is 16x.
MAX_GROWTH = 6.0


def dictionary(n: int) -> str:
    return ", ".join(f"k{i}=1" for i in range(n))


def dictionary_of_repeats(n: int) -> str:
    # Every key twice: the second occurrence replaces the first (RFC 8941 4.2.2).
    return ", ".join(f"k{i % (n // 2)}={i}" for i in range(n))


def parameters(n: int) -> str:
    return "x" + "".join(f";p{i}=1" for i in range(n))


def signature_parameters(n: int) -> str:
    return 'sig1=("@method");keyid="k"' + "".join(f";p{i}=1" for i in range(n)) + "\nsig1=:AAAA:"


def components(n: int) -> str:
    return 'sig1=(' + " ".join(f'"c{i}"' for i in range(n)) + ');keyid="k"\nsig1=:AAAA:'


def unmatched_labels(n: int) -> str:
    # n Signature-Input labels and n Signature labels, none in common.
    inputs = ", ".join(f'i{i}=("@method");keyid="k"' for i in range(n))
    return inputs + "\n" + ", ".join(f"s{i}=:AAAA:" for i in range(n))


SHAPES = {
    "dictionary members": ("dictionary", dictionary, lambda n: f"members {n}"),
    "repeated dictionary keys": ("dictionary", dictionary_of_repeats, lambda n: f"members {n // 2}"),
    "item parameters": ("item", parameters, lambda n: f"parameters {n}"),
    "Signature-Input parameters": ("signature", signature_parameters, lambda n: "label sig1 components 1"),
    "covered components": ("signature", components, lambda n: f"label sig1 components {n}"),
    "unmatched signature labels": ("signature", unmatched_labels,
                                   lambda n: "error: no Signature-Input label has a matching Signature"),
}


def instructions(mode: str, field: str, out_dir: Path) -> tuple[int, str]:
    """Instructions spent in the parse alone, and what the parser printed."""
    prog = BUILD_DIR / "tests" / "work" / "cmi-parse-work"
    out = out_dir / f"callgrind.{mode}.{len(field)}"
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--toggle-collect=cmi_parse_work", str(prog), mode],
                       input=field.encode(), capture_output=True, timeout=1800)
    totals = re.search(rb"^(?:summary|totals):\s*(\d+)", out.read_bytes(), re.M)
    assert totals, r.stderr.decode(errors="replace")[-2000:]
    return int(totals.group(1)), r.stdout.decode().strip()


@pytest.mark.parametrize("shape", SHAPES)
def test_parsing_work_grows_linearly(shape, tmp_path):
    mode, make, expected = SHAPES[shape]
    small, small_out = instructions(mode, make(SMALL), tmp_path)
    large, large_out = instructions(mode, make(LARGE), tmp_path)
    assert small_out == expected(SMALL)
    assert large_out == expected(LARGE)
    growth = large / small
    assert growth < MAX_GROWTH, (f"{shape}: {SMALL:,} -> {LARGE:,} members took {small:,} -> {large:,} "
                                 f"instructions ({growth:.1f}x): quadratic")
