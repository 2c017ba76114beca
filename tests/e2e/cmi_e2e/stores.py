"""Real redis-server and memcached for cluster tests, on free 127.0.0.1 ports."""
import os
import signal
import subprocess

from cmi_e2e.httpd import wait_for_port
from cmi_e2e.ports import free_port


class Store:
    """One store process; stop() and start() again keep the same port."""

    def __init__(self, kind: str, workdir, extra_args: list[str] | None = None):
        self.kind = kind
        self.workdir = workdir
        self.extra_args = list(extra_args or [])  # e.g. a memory limit
        self.port = free_port()
        self.proc = None

    @property
    def spec(self) -> str:
        return f"{self.kind}:127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "redis":
            return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", str(self.workdir)] + self.extra_args
        cmd = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        return cmd + self.extra_args

    def start(self):
        self.log = open(self.workdir / f"{self.kind}.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log, start_new_session=True)
        if not wait_for_port(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"{self.kind} did not start")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        self.log.close()
