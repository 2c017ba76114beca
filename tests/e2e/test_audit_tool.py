"""cmi-audit: --help of every command, and its man page (docs/man/cmi-audit.1)."""
import shutil
import subprocess
from pathlib import Path

import pytest

from cmi_e2e.audit import cmi_audit

COMMANDS = ["verify", "show", "receipt", "evidence"]
MAN_PAGE = Path(__file__).resolve().parents[2] / "docs" / "man" / "cmi-audit.1"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(httpd, command):
    for args in ([command, "--help"], [command, "-h"], ["help", command], [command, "--key", "x.pem", "--help"]):
        out = cmi_audit(httpd.build_dir, *args)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.startswith(f"usage: cmi-audit {command} "), (args, out.stdout)
        assert "Example:" in out.stdout and out.stderr == ""


def test_general_help_and_misuse(httpd):
    out = cmi_audit(httpd.build_dir, "--help")
    assert out.returncode == 0 and all(f"cmi-audit {c}" in out.stdout for c in COMMANDS)
    bad = cmi_audit(httpd.build_dir)
    assert bad.returncode == 2 and "usage:" in bad.stderr
    bad = cmi_audit(httpd.build_dir, "receipt", "--key")
    assert bad.returncode == 2 and bad.stderr.startswith("usage: cmi-audit receipt ")
    bad = cmi_audit(httpd.build_dir, "frobnicate")
    assert bad.returncode == 2


def test_man_page_renders_without_warnings(httpd):
    out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN_PAGE)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    text = subprocess.run(["groff", "-man", "-Tascii", "-P-c", "-P-b", "-P-u", str(MAN_PAGE)], capture_output=True,
                          text=True, check=True).stdout
    for word in ("NAME", "SYNOPSIS", "EXIT STATUS", "EXAMPLES", "SEE ALSO", *COMMANDS, "--key"):
        assert word in text, word
