"""The RPM (Fedora httpd module conventions) builds and lists the modules, the
conf.modules.d file, the example configuration and the tools."""
import subprocess


def rpm_query(rpm, *args) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True).stdout


def test_rpm_file_list(rpm):
    files = rpm_query(rpm, "-l").split()
    moddirs = {f.rsplit("/", 1)[0] for f in files if f.endswith(".so")}
    assert len(moddirs) == 1 and next(iter(moddirs)).endswith("/httpd/modules"), moddirs
    moddir = moddirs.pop()
    for m in ("tls", "auth", "audit", "content"):
        assert f"{moddir}/mod_cmi_{m}.so" in files
    assert "/etc/httpd/conf.modules.d/10-cmi.conf" in files
    assert "/etc/httpd/conf.d/cmi.conf.example" in files
    # the audit log's own directory and the logrotate rule that keeps it; the reference ingest
    assert "/etc/logrotate.d/cmi-audit" in files and "/var/log/httpd/cmi" in files
    assert any(f.endswith("/cmi-ingest") and "/doc/" in f for f in files), files
    assert any(f.endswith("/performance.md") and "/doc/" in f for f in files), files
    for tool in ("cmi-sign", "cmi-audit", "cmi-htdigest"):
        assert f"/usr/bin/{tool}" in files
    assert any(f.startswith("/usr/share/man/man1/cmi-sign.1") for f in files)
    assert not [f for f in files if f.endswith(".la")], files
    # what the docs link to: the manifest schema and example, beside them
    assert any(f.endswith("/schema/cmi-manifest-1.xsd") and "/doc/" in f for f in files), files
    assert any(f.endswith("/examples/manifest.xml") and "/doc/" in f for f in files), files


def test_rpm_config_files_and_requires(rpm):
    config = rpm_query(rpm, "-c").split()
    assert "/etc/httpd/conf.modules.d/10-cmi.conf" in config
    assert "/etc/logrotate.d/cmi-audit" in config
    requires = rpm_query(rpm, "--requires")
    assert "httpd-mmn = " in requires, requires
    scripts = rpm_query(rpm, "--dump")
    assert "/etc/httpd/conf.modules.d/10-cmi.conf" in scripts


def test_conf_modules_d_loads_all_four(rpm, work):
    out = subprocess.run(f"rpm2cpio {rpm} | cpio -i --to-stdout ./etc/httpd/conf.modules.d/10-cmi.conf",
                         shell=True, capture_output=True, text=True, check=True).stdout
    for m in ("tls", "auth", "audit", "content"):
        assert f"LoadModule cmi_{m}_module modules/mod_cmi_{m}.so" in out


def test_logrotate_rule_keeps_the_audit_log(rpm):
    rule = subprocess.run(f"rpm2cpio {rpm} | cpio -i --to-stdout ./etc/logrotate.d/cmi-audit",
                          shell=True, capture_output=True, text=True, check=True).stdout
    assert rule.split("{")[0].split()[-1] == "/var/log/httpd/cmi/cmi-audit.log"
    for line in ("rotate -1", "delaycompress", "nocreate", "systemctl reload httpd.service"):
        assert line in rule, line
    modes = {l.split()[0]: l.split() for l in rpm_query(rpm, "--dump").splitlines()}
    assert modes["/var/log/httpd/cmi"][4].endswith("0700"), modes["/var/log/httpd/cmi"]
    for d in ("/var/lib/cmi/spool", "/var/lib/cmi/snapshots"):  # the defaults, the httpd user's only
        assert modes[d][4].endswith("0700") and modes[d][5:7] == ["apache", "apache"], modes[d]
