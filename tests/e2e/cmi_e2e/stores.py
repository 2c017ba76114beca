"""Real redis-server and memcached for cluster tests, on free 127.0.0.1 ports."""
import os
import subprocess
from contextlib import contextmanager

from cmi_e2e.httpd import terminate, wait_for_port
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

    @property
    def short_ttl(self) -> str:
        """httpd's setting that drops idle pooled connections to this store after 1 s (the
        connections a store restart left stale are soon replaced)."""
        return "RedisConnPoolTTL 1" if self.kind == "redis" else "MemcacheConnTTL 1"

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
        terminate(self.proc, 10)
        self.proc = None
        self.log.close()


@contextmanager
def second_node(httpd, store: Store):
    """A second httpd beside `httpd`, the nodes of a cluster sharing `store` (started
    here): stopped, with the store, when done. The caller configures both nodes."""
    store.start()
    node = httpd.sibling()
    try:
        yield node
    finally:
        node.cleanup()
        store.stop()
