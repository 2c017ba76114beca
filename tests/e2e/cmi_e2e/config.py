"""What configure found for the e2e harness and the benches: the httpd binary, its stock
module directory, the user its children run as when the tests run as root, the
mime.types it reads and the python that runs the tests. configure writes them to
<build>/tests/e2e-config.ini (from tests/e2e/config.ini.in), as mod_md's pyhttpd does."""
import configparser
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("CMI_SOURCE_DIR", Path(__file__).resolve().parents[3]))


@dataclass(frozen=True)
class HarnessConfig:
    httpd_bin: str         # CMI_HTTPD overrides it
    httpd_modules: Path    # the stock modules (apxs LIBEXECDIR)
    httpd_user: str | None
    httpd_group: str | None
    mime_types: str
    python: str


@functools.lru_cache(maxsize=None)
def harness_config(build_dir=None) -> HarnessConfig:
    """The configuration of build_dir (default: CMI_BUILD_DIR, else <source>/build)."""
    build = Path(build_dir or os.environ.get("CMI_BUILD_DIR", SOURCE_DIR / "build"))
    ini_file = build / "tests" / "e2e-config.ini"
    ini = configparser.ConfigParser(interpolation=None)
    if not ini.read(ini_file):
        raise RuntimeError(f"{ini_file} is missing: configure and build first (./dev build)")
    user = ini.get("httpd", "user") or None
    mime_types = ini.get("httpd", "mime_types")
    if not mime_types or not Path(mime_types).is_file():
        raise RuntimeError(f"{ini_file}: no mime.types ({mime_types!r}): reconfigure --with-mime-types=FILE")
    return HarnessConfig(
        httpd_bin=os.environ.get("CMI_HTTPD") or ini.get("httpd", "bin"),
        httpd_modules=Path(ini.get("httpd", "modules")),
        httpd_user=user,
        httpd_group=ini.get("httpd", "group") or user,
        mime_types=mime_types,
        python=ini.get("tools", "python"),
    )


def build_make_variable(name: str, build_dir=None) -> str:
    """A variable of the build's Makefile with ${...} expanded (e.g. cmispooldir: the
    compiled-in default spool directory, from prefix and localstatedir)."""
    build = Path(build_dir or os.environ.get("CMI_BUILD_DIR", SOURCE_DIR / "build"))
    values = {}
    for line in (build / "Makefile").read_text().splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*) = (.*)$", line)
        if m:
            values.setdefault(m.group(1), m.group(2))

    def expand(v: str) -> str:
        return re.sub(r"\$[{(]([A-Za-z_0-9]+)[})]", lambda m: expand(values.get(m.group(1), "")), v)
    return expand(values[name])
