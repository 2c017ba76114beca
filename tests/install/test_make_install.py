"""`make install` honours DESTDIR and apxs's module directory; the release tarball
(made once by `make distcheck`) carries the packaging."""
import subprocess
import tarfile

from conftest import BUILD_DIR, run


def test_make_install_destdir(work):
    dest = work / "destdir"
    run(["make", "-C", str(BUILD_DIR), "install", f"DESTDIR={dest}"])
    moddir = subprocess.run(["apxs", "-q", "LIBEXECDIR"], capture_output=True, text=True, check=True).stdout.strip()
    installed = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    for m in ("tls", "auth", "audit", "content"):
        assert f"{moddir.lstrip('/')}/mod_cmi_{m}.so" in installed, installed
    assert not [p for p in installed if p.endswith(".la") and "apache2" in p], installed
    for tool in ("cmi-sign", "cmi-audit", "cmi-htdigest"):
        assert any(p.endswith(f"bin/{tool}") for p in installed), installed
        assert any(p.endswith(f"man1/{tool}.1") for p in installed), installed


def test_distcheck_tarball_carries_packaging(tarball):
    names = tarfile.open(tarball).getnames()
    for f in ("debian/rules", "debian/control", "rpm/mod_cmi.spec", "LICENSE", "conf/cmc-example.conf",
              "docs/man/cmi-sign.1"):
        assert f"mod_cmi-0.1.0/{f}" in names, f
