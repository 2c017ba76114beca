"""Long run: httpd -X under valgrind memcheck with every module, a smaller mixed
load, then a clean stop: no definite leak whose stack is in our code. A leak in
lasso_init() (lasso's own, once per process) is allowed by name."""
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from cmi_e2e.httpd import Httpd, wait_for_port
from cmi_e2e.load import MixedLoad

pytestmark = pytest.mark.longrun

REQUESTS = 150
SOURCE = Path(__file__).resolve().parents[2] / "modules"
# A frame in our code: a mod_cmi_*.so without symbols, the cmi:: namespace, or one of our files.
OURS = re.compile(r"(mod_cmi_\w+\.so|cmi::|\((%s):\d+\))" % "|".join(
    sorted({re.escape(p.name) for p in SOURCE.rglob("*.[ch]pp")})))
ALLOWED = ("lasso_init",)


class ValgrindHttpd(Httpd):
    """The harness's httpd, started as one process (-X) under valgrind."""

    stop_timeout = 180  # valgrind's leak check runs at exit

    def start(self):
        text = self.config_text()
        self.conf_file.write_text(text)
        self.valgrind_logs = self.root / "logs" / "valgrind"
        self.valgrind_logs.mkdir(exist_ok=True)
        self.stderr_file = open(self.root / "logs" / "stderr.log", "ab")
        cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
               "--num-callers=40", f"--log-file={self.valgrind_logs}/%p.log",
               self.httpd_bin, "-X", "-d", str(self.root), "-f", str(self.conf_file)]
        self.proc = subprocess.Popen(cmd, stdout=self.stderr_file, stderr=self.stderr_file,
                                     start_new_session=True, env=self.environment())
        if not (wait_for_port(self.http_port, self.proc, 180) and wait_for_port(self.https_port, self.proc, 180)):
            self.stop()
            raise RuntimeError("httpd under valgrind did not start:\n" + self.tail_logs())
        self.running_config = text



def definite_leaks(text: str) -> list[str]:
    """The 'definitely lost' records of a memcheck log, one string each."""
    records, current = [], None
    for line in text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if "definitely lost in loss record" in body:
            current = [body]
            records.append(current)
        elif current is not None:
            if body.strip():
                current.append(body)
            else:
                current = None
    return ["\n".join(r) for r in records]


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    if os.environ.get("CMI_HTTPD_PRELOAD"):
        pytest.fail("valgrind cannot run the ASan build; run this test from ./dev test")
    from conftest import BUILD_DIR, HTTPD_BIN
    s = ValgrindHttpd(pki, BUILD_DIR, HTTPD_BIN)
    mix = MixedLoad(s, tmp_path_factory.mktemp("valgrind"))
    s.snippet = mix.snippet()
    s.server_snippet = mix.server_snippet(s.root / "logs" / "audit.log", single_child=False)
    s.mix = mix
    yield s
    s.cleanup()


def test_no_definite_leaks_in_our_code_under_valgrind(server):
    server.start()
    t0 = time.monotonic()
    counts = server.mix.run(REQUESTS, processes=1, connections=1)
    secs = time.monotonic() - t0
    server.stop()
    logs = [p.read_text(errors="replace") for p in sorted(server.valgrind_logs.glob("*.log"))]
    main = max(logs, key=lambda t: t.count("\n"))  # the serving process's log
    assert "ERROR SUMMARY" in main, "valgrind did not finish:\n" + main[-2000:]
    log = "\n".join(logs)
    leaks = [r for t in logs for r in definite_leaks(t)]
    ours = [r for r in leaks if OURS.search(r) and not any(a in r for a in ALLOWED)]
    summary = re.search(r"definitely lost: .*", log)
    print(f"\nvalgrind: {sum(sum(c.values()) for c in counts.values())} requests in {secs:.0f} s; "
          f"{summary.group(0) if summary else 'no leak summary'}; {len(leaks)} definite-leak records, "
          f"{len(ours)} in our code")
    assert not ours, "definite leaks in mod_cmi code:\n\n" + "\n\n".join(ours[:5])
