"""tools/cmi-htdigest (issue 21 item 3, issue 20 item 6): exactly one entry per user and
realm, names taken literally, a file httpd can read, owner/group/mode kept on update,
no empty passwords, the terminal restored on an interrupt, --help.

Logins go through the real server (Digest SHA-256, children running as www-data)."""
import grp
import hashlib
import os
import signal
import pty
import pwd
import stat
import subprocess
import termios
import time

import pytest
import requests

from cmi_e2e import digest

REALM = "CMC htdigest"
PATH = "/htd/hello.txt"

LOCATION = """
<AuthnProviderAlias file htd-users>
    AuthUserFile "{users}"
</AuthnProviderAlias>
<Location /htd>
    AuthType CMI
    AuthName "{realm}"
    CMIAuthMechanisms digest
    CMIAuthProvider htd-users
    Require valid-user
    Header always set X-CMI-User "%{{CMI_USER}}e"
</Location>
"""


@pytest.fixture(scope="module")
def server(httpd):
    d = httpd.root / "conf" / "htd"
    d.mkdir(exist_ok=True)
    d.chmod(0o755)
    (httpd.docroot / "htd").mkdir(exist_ok=True)
    (httpd.docroot / "htd" / "hello.txt").write_text("behind digest\n")
    httpd.users = d / "users"
    httpd.configure(LOCATION.format(users=httpd.users, realm=REALM))
    return httpd


def tool(httpd) -> str:
    return str(httpd.source_tool("cmi-htdigest"))


def htdigest(httpd, *args, password: bytes | None = b"secret one\n", env=None):
    return subprocess.run([tool(httpd), *map(str, args)], input=password, capture_output=True,
                          timeout=30, env=env)


def entry(user: str, password: str, realm: str = REALM) -> str:
    return f"{user}:{realm}:" + hashlib.sha256(f"{user}:{realm}:{password}".encode()).hexdigest()


def lines(path) -> list[str]:
    return path.read_text().splitlines()


def login(server, user: str, password: str) -> requests.Response:
    url = server.url(PATH)
    first = requests.get(url, verify=str(server.pki.ca_cert), timeout=30)
    chal = digest.digest_challenge(first, "SHA-256")
    return digest.get(url, digest.authorization(chal, user, password, "GET", PATH), server.pki.ca_cert)


def create(server, user: str, password: str):
    r = htdigest(server, "-c", server.users, REALM, user, password=password.encode() + b"\n")
    assert r.returncode == 0, r.stderr


# --- --help ------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_and_succeeds(server, flag):
    r = subprocess.run([tool(server), flag], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: cmi-htdigest [-c] [-g GROUP] [-a SHA-256|MD5] FILE REALM USER")
    for option in ("-c", "-g GROUP", "-a SHA-256", "--help"):
        assert f"\n  {option}" in r.stdout
    assert r.stderr == ""


def test_an_unknown_long_option_is_a_usage_error(server):
    r = subprocess.run([tool(server), "--frobnicate"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "unknown option '--frobnicate'" in r.stderr and "--help" in r.stderr


# --- exactly one entry, names taken literally ------------------------------------------

def test_a_backslash_in_the_user_name_stays_itself(server):
    create(server, "dom\\alice", "alice one")
    assert lines(server.users) == [entry("dom\\alice", "alice one")]
    r = login(server, "dom\\alice", "alice one")
    assert r.status_code == 200, r.text
    assert r.headers["X-CMI-User"] == "dom\\alice"


def test_changing_a_password_leaves_only_the_new_one_working(server, tmp_path):
    create(server, "dom\\alice", "compromised")
    assert htdigest(server, server.users, REALM, "bob", password=b"bob's\n").returncode == 0
    assert login(server, "dom\\alice", "compromised").status_code == 200

    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = htdigest(server, server.users, REALM, "dom\\alice", password=b"fresh start\n", env=env)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.iterdir()) == []  # its temporary file is gone
    # Replaced where it stood; bob untouched.
    assert lines(server.users) == [entry("dom\\alice", "fresh start"), entry("bob", "bob's")]
    assert login(server, "dom\\alice", "compromised").status_code == 401
    assert login(server, "dom\\alice", "fresh start").status_code == 200
    assert login(server, "bob", "bob's").status_code == 200


def test_duplicate_entries_collapse_into_the_new_one(server):
    create(server, "carol", "first")
    with server.users.open("a") as f:
        f.write("# a comment line is kept\n")
        f.write(entry("carol", "second") + "\n")
        f.write(entry("carol", "other realm", realm="Other") + "\n")
    r = htdigest(server, server.users, REALM, "carol", password=b"third\n")
    assert r.returncode == 0, r.stderr
    assert lines(server.users) == [entry("carol", "third"), "# a comment line is kept",
                                   entry("carol", "other realm", realm="Other")]
    for old in ("first", "second"):
        assert login(server, "carol", old).status_code == 401
    assert login(server, "carol", "third").status_code == 200


def test_names_that_look_like_numbers_are_compared_as_text(server):
    create(server, "1", "one")
    for user, pw in (("01", "zero one"), ("1.0", "one point oh"), ("1", "one again")):
        assert htdigest(server, server.users, REALM, user, password=pw.encode() + b"\n").returncode == 0
    assert lines(server.users) == [entry("1", "one again"), entry("01", "zero one"), entry("1.0", "one point oh")]


@pytest.mark.parametrize("user", ["a\nb", "tab\there", ""])
def test_names_with_control_characters_or_empty_are_refused(server, user):
    create(server, "dave", "dave's")
    before = server.users.read_bytes()
    r = htdigest(server, server.users, REALM, user)
    assert r.returncode == 2
    assert b"user and realm must not" in r.stderr
    assert server.users.read_bytes() == before


# --- the file httpd reads -----------------------------------------------------------------

def test_create_makes_a_file_the_httpd_group_can_read(server):
    server.users.unlink(missing_ok=True)
    create(server, "erin", "erin's")
    st = server.users.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert grp.getgrgid(st.st_gid).gr_name == "www-data"
    r = login(server, "erin", "erin's")  # the children run as www-data
    assert r.status_code == 200, r.text


def test_create_takes_the_group_from_g_or_apache_run_group(server):
    r = htdigest(server, "-c", "-g", "nogroup", server.users, REALM, "erin")
    assert r.returncode == 0, r.stderr
    assert grp.getgrgid(server.users.stat().st_gid).gr_name == "nogroup"
    env = dict(os.environ, APACHE_RUN_GROUP="nogroup")
    server.users.unlink()
    assert htdigest(server, "-c", server.users, REALM, "erin", env=env).returncode == 0
    assert grp.getgrgid(server.users.stat().st_gid).gr_name == "nogroup"


def test_create_names_the_fix_when_the_group_cannot_be_set(server):
    r = htdigest(server, "-c", "-g", "no-such-group-here", server.users, REALM, "erin")
    assert r.returncode == 0
    assert b"httpd must be able to read it" in r.stderr and b"chgrp no-such-group-here" in r.stderr


def test_an_update_keeps_owner_group_mode_and_links(server):
    create(server, "frank", "old")
    nobody = pwd.getpwnam("nobody").pw_uid
    www = grp.getgrnam("www-data").gr_gid
    os.chown(server.users, nobody, www)
    server.users.chmod(0o640)
    link = server.users.parent / "users-link"
    link.unlink(missing_ok=True)
    link.symlink_to(server.users.name)

    for target, pw in ((server.users, "new"), (link, "newer")):
        r = htdigest(server, target, REALM, "frank", password=pw.encode() + b"\n")
        assert r.returncode == 0, r.stderr
        st = server.users.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (nobody, www, 0o640)
    assert link.is_symlink()
    assert lines(server.users) == [entry("frank", "newer")]
    assert login(server, "frank", "newer").status_code == 200  # www-data still reads it
    link.unlink()


# --- passwords ----------------------------------------------------------------------------

@pytest.mark.parametrize("stdin", [b"", b"\n"])
@pytest.mark.parametrize("create_flag", [[], ["-c"]])
def test_an_empty_password_from_a_pipe_is_refused(server, stdin, create_flag):
    create(server, "gina", "gina's")
    before = server.users.read_bytes()
    r = htdigest(server, *create_flag, server.users, REALM, "gina", password=stdin)
    assert r.returncode == 1
    assert b"empty password is not allowed" in r.stderr
    assert server.users.read_bytes() == before


class Terminal:
    """cmi-htdigest on a pseudo-terminal, as an administrator runs it."""

    def __init__(self, server, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal and stdin
            # As from an administrator's shell: ^C not ignored (a suite run in the
            # background inherits SIGINT ignored, and a shell cannot trap that).
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execv(tool(server), [tool(server), *map(str, args)])
        self.output = b""

    def expect(self, text: bytes, timeout: float = 20):
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            try:
                self.output += os.read(self.fd, 1024)
            except OSError:
                break
        assert text in self.output, self.output

    def wait_reading(self, timeout: float = 20):
        """Until the tool blocks reading its terminal: a ^C sent between the prompt
        and the read would only be acted on after the read, as with any shell."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(f"/proc/{self.pid}/syscall") as f:
                call = f.read().split()
            if call and call[0] == "0" and int(call[1], 16) == 0:  # read(0, …)
                return
            time.sleep(0.02)
        raise AssertionError("cmi-htdigest never blocked reading its terminal")

    def echo(self) -> bool:
        return bool(termios.tcgetattr(self.fd)[3] & termios.ECHO)

    def send(self, data: bytes):
        os.write(self.fd, data)

    def exit_code(self, timeout: float = 20):
        """The exit code; None (and the process killed) if it still runs after timeout."""
        deadline = time.monotonic() + timeout
        while (waited := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
                return None
            time.sleep(0.05)
        status = waited[1]
        try:
            self.output += os.read(self.fd, 4096)
        except OSError:
            pass
        return os.waitstatus_to_exitcode(status)

    def close(self):
        os.close(self.fd)


def test_terminal_prompt_hides_the_password_and_writes_the_entry(server):
    create(server, "hal", "before")
    t = Terminal(server, server.users, REALM, "hal")
    try:
        t.expect(b"Password: ")
        assert not t.echo()
        t.send(b"typed twice\n")
        t.expect(b"Again: ")
        t.send(b"typed twice\n")
        assert t.exit_code() == 0, t.output
        assert t.echo()
        assert b"typed twice" not in t.output
    finally:
        t.close()
    assert lines(server.users) == [entry("hal", "typed twice")]


@pytest.mark.parametrize("answers, message", [
    ([b"\n"], b"empty password is not allowed"),
    ([b"one\n", b"two\n"], b"passwords differ"),
])
def test_terminal_refuses_an_empty_or_mistyped_password(server, answers, message):
    create(server, "ivy", "ivy's")
    before = server.users.read_bytes()
    t = Terminal(server, server.users, REALM, "ivy")
    try:
        for prompt, answer in zip((b"Password: ", b"Again: "), answers):
            t.expect(prompt)
            t.send(answer)
        assert t.exit_code() == 1
        assert message in t.output
        assert t.echo()
    finally:
        t.close()
    assert server.users.read_bytes() == before


@pytest.mark.parametrize("at", [b"Password: ", b"Again: "])
def test_an_interrupt_at_the_prompt_restores_the_terminal(server, at):
    create(server, "jo", "jo's")
    before = server.users.read_bytes()
    t = Terminal(server, "-c", server.users, REALM, "jo")
    try:
        t.expect(b"Password: ")
        if at == b"Again: ":
            t.send(b"half typed\n")
            t.expect(b"Again: ")
        assert not t.echo()
        t.wait_reading()
        t.send(b"\x03")  # ^C
        assert t.exit_code() == 130
        assert t.echo(), "the terminal was left with echo off"
    finally:
        t.close()
    assert server.users.read_bytes() == before  # -c truncated nothing
