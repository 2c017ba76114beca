"""The README demo: `./dev demo` brings up the CMC on loopback and prints a walk-through;
this test runs exactly the printed commands, in order, and checks each `expect:` line."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cmi_e2e.ports import free_ports
from conftest import BUILD_DIR, SOURCE_DIR

STEP = re.compile(r"^\s+\$ (.+)$")
EXPECT = re.compile(r"^\s+expect: (.+)$")
# Expected in the demo's error log: mod_dav's note on the upload refused mid-body (step 8);
# mod_authz_core's line for provider-b refused in provider-a's tree (step 10).
EXPECTED_ERRORS = re.compile(r"\[dav:error\].*(reading the request body|Could not get next bucket brigade)"
                             r"|\[authz_core:error\].*AH01629: .*/cmi/upload/provider-a/")


def walkthrough(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if m := STEP.match(line):
            steps.append((m.group(1), []))
        elif (m := EXPECT.match(line)) and steps:
            steps[-1][1].append(m.group(1))
    return steps


@pytest.fixture(scope="module")
def demo():
    root = Path(tempfile.mkdtemp(prefix="cmi-demo-"))
    root.chmod(0o755)  # the children (www-data) serve from here
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    http_port, https_port = free_ports(2)
    env.update(CMI_DEMO_DIR=str(root / "demo"), CMI_BUILD_DIR=str(BUILD_DIR),
               CMI_DEMO_HTTP_PORT=str(http_port), CMI_DEMO_HTTPS_PORT=str(https_port))
    dev = [str(SOURCE_DIR / "dev")]
    try:
        out = subprocess.run(dev + ["demo"], env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        yield root / "demo", out.stdout, env
    finally:
        subprocess.run(dev + ["stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_walkthrough_covers_every_module(demo):
    _, text, _ = demo
    steps = walkthrough(text)
    assert len(steps) >= 12, text
    assert all(expects for _, expects in steps), "a step without expect: lines"
    joined = "\n".join(e for _, es in steps for e in es)
    for code in ("tls-required", "authentication-required", "digest-mismatch", "signature-required", "forbidden"):
        assert f"tag:mod-cmi,2026:{code}" in joined
    commands = "\n".join(c for c, _ in steps)
    for feature in ("--digest", "Authorization: SAML", "--cert", "cmi-sign cms", "/cmi/staging/provider-a/",
                    "/cmi/ingest", "cmi-audit verify", "cmi-audit receipt", "server-status?auto"):
        assert feature in commands, feature


def test_every_printed_command_behaves_as_printed(demo):
    root, text, env = demo
    failures = []
    for i, (command, expects) in enumerate(walkthrough(text), 1):
        out = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)
        got = out.stdout + out.stderr
        missing = [e for e in expects if e not in got]
        if missing:
            failures.append(f"step {i}: {command}\n  missing {missing}\n  got: {got[-1500:]}")
    assert not failures, "\n".join(failures)
    # What the steps did is really there.
    content = root / "content" / "provider-a"
    assert (content / "song-1.txt").read_text().startswith("song 1: a Self-contained Upload")
    assert not (content / "song-1b.txt").exists()
    assert not (content / "song-1c.txt").exists()
    # The ingest took the staged file (into ingested/<user>/<transaction id>/).
    assert not (root / "staging" / "provider-a" / "song-2.txt").exists()
    ingested = list((root / "ingested" / "provider-a").glob("*/song-2.txt"))
    assert len(ingested) == 1 and ingested[0].read_text().startswith("song 2: staged first")
    errors = [line for line in (root / "logs" / "error.log").read_text().splitlines()
              if re.search(r"\] \[[a-z0-9_]+:(error|crit|alert|emerg)\] ", line) and not EXPECTED_ERRORS.search(line)]
    assert errors == [], errors
