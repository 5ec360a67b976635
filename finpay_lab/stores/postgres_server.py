"""The PostgreSQL server a lab starts for itself when ``db="postgres"``.

A real ``postgres``, the one apt or brew installs: the lab runs ``initdb`` into a fresh
directory inside its own work dir, then starts the server on 127.0.0.1 and a free port,
with a private Unix socket directory (0700; none if its path would exceed the kernel's
107 bytes) instead of the system's ``/var/run/postgresql``,
so it never meets another PostgreSQL on the machine.

Its superuser ``finpay`` gets a random password. The password goes to ``initdb`` in a
file (``--pwfile``, 0600, removed right after), never on a command line, where any local
user could read it in ``/proc``; it then travels only inside the lab's URL
(``postgresql://finpay:PASSWORD@127.0.0.1:PORT/postgres``), which the helper prints on a
pipe. Messages show ``safe_url``.

**A helper process owns the server**, like the Redis helper (``redis_server.py``): it
watches the lab through its stdin. When the lab's process ends, however it ends (closed,
an exception, its handle garbage-collected, SIGKILL), stdin reaches EOF and the helper
stops the server and removes its data directory. If the helper itself is SIGKILLed, the
kernel kills the server with it (``PR_SET_PDEATHSIG``) and the lab removes its work dir,
data directory included.

**fsync.** ``fsync=False`` (the default) tells PostgreSQL not to wait for the disk. A commit
still reaches the write-ahead log (in the OS's page cache) before the client hears "COMMIT",
so a killed pod, a killed backend or even a killed server loses nothing committed; only an
OS crash or a power cut could. The lab's data dir dies with the lab anyway, so the lab
trades a guarantee it never tests for speed. ``fsync=True`` is PostgreSQL's default, for a
lesson that wants to measure what durability on disk costs.

**Root.** PostgreSQL refuses to run as root (a server bug must not own the machine). When
the lab runs as root (CI, containers), ``initdb`` and ``postgres`` run as the ``postgres``
user that apt creates (else ``nobody``); the server's directory is handed to that user,
and the directories above it get the execute bit for others (traverse, not list), because
the lab's 0700 work dir would otherwise be a wall.

Binaries: ``initdb`` and ``postgres`` on PATH, else apt's ``/usr/lib/postgresql/<highest
version>/bin`` (apt does not put them on PATH), else a clear error naming what to install.
"""

import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import weakref

from .. import defaults
from ..errors import DatabaseUnavailable
from .helper_process import end_helper, read_line

_STOP_TIMEOUT = 30  # seconds the helper gets to stop PostgreSQL (a fast shutdown) and remove its data

INSTALL_HINT = (
    "install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: "
    "brew install postgresql) or use db='sqlite'"
)


def find_binary(name):
    """The path of a PostgreSQL program (``initdb``, ``postgres``, ``pgbench``), or None."""
    found = shutil.which(name)
    if found:
        return found

    def version(path):  # /usr/lib/postgresql/15/bin/initdb -> (15,)
        return tuple(int(x) for x in re.findall(r"\d+", path.split("/")[-3]))

    candidates = [p for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}") if os.access(p, os.X_OK)]
    return max(candidates, key=version) if candidates else None


def have_postgres():
    """True when this machine can start a PostgreSQL server (initdb and postgres found)."""
    return find_binary("initdb") is not None and find_binary("postgres") is not None


class PostgresServer:
    """The lab's handle on its PostgreSQL server: where it is, and how to stop it."""

    def __init__(self, fsync: bool = False):
        self.fsync = bool(fsync)
        self.process = None
        self.url = None
        self.socket_dir = None

    def start(self, workdir=None):
        """Start the helper and its server; return when the server accepts connections.
        ``workdir``: where the server's directory goes (the lab passes its own work dir,
        so whatever removes that dir removes this one too)."""
        if not have_postgres():
            raise DatabaseUnavailable(
                f"db='postgres' needs PostgreSQL's initdb and postgres programs, "
                f"found neither on PATH nor in /usr/lib/postgresql: {INSTALL_HINT}"
            )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from finpay_lab.stores.postgres_server import main; main({workdir!r}, {self.fsync!r})",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        # Garbage-collected without stop() (a re-run cell): end the helper anyway.
        self._finalizer = weakref.finalize(self, end_helper, self.process, os.getpid(), _STOP_TIMEOUT)
        line = read_line(self.process, defaults.POSTGRES_START_TIMEOUT)
        if not line.startswith("URL "):
            self.stop()
            raise DatabaseUnavailable(f"the PostgreSQL server did not start: {line.strip()}")
        self.url, socket_dir = line.split()[1:3]
        self.socket_dir = None if socket_dir == "-" else socket_dir  # None: the path was too long
        return self

    @property
    def safe_url(self):
        """The URL without its password, for messages and the dashboard."""
        return safe_url(self.url)

    @property
    def pid(self):
        """The helper's pid (the server is its child)."""
        return self.process.pid if self.process else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop the helper, the server, and remove its data. Safe to call twice."""
        if self.process is None:
            return
        end_helper(self.process, os.getpid(), _STOP_TIMEOUT)
        self._finalizer.detach()
        self.process = None


def safe_url(url):
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    if url and "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        userinfo, host = rest.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in userinfo else url
    return url


# ---------------------------------------------------------------- the helper process


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user():
    """(uid, gid) to run PostgreSQL as: ourselves, or an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    raise DatabaseUnavailable(
        "PostgreSQL refuses to run as root and this machine has neither a "
        "'postgres' nor a 'nobody' user to run it as"
    )


def _let_traverse(path):
    """Give others the execute bit (enter, not list) on every directory above ``path`` that
    lacks it, so an unprivileged server can reach its own directory."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        mode = os.stat(parent).st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
        if parent == "/":
            return
        parent = os.path.dirname(parent)


def _die_with_parent():
    """Linux: the kernel SIGKILLs this child if the helper dies first. (subprocess calls this
    after switching user, and a change of user would clear the setting: so it must.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class _Keeper:
    """initdb, then postgres, as the right user, in a directory of its own."""

    def __init__(self, workdir, fsync):
        self.user = _server_user()
        self.dir = tempfile.mkdtemp(prefix="postgres-", dir=workdir)  # 0700
        self.proc = None
        try:
            self._start(fsync)
        except BaseException:
            self.stop()  # nothing half-started stays behind
            raise

    def _start(self, fsync):
        data, self.socket_dir = os.path.join(self.dir, "data"), os.path.join(self.dir, "s")
        os.mkdir(self.socket_dir, 0o700)
        self.port = _free_port()
        if len(f"{self.socket_dir}/.s.PGSQL.{self.port}".encode()) > 107:  # the kernel's limit
            self.socket_dir = ""  # a work dir this deep gets no Unix socket: TCP only
        ids = {}
        if self.user:
            ids = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
            _let_traverse(self.dir)
            for path in (self.dir, os.path.join(self.dir, "s")):
                os.chown(path, *self.user)
        self.password = secrets.token_hex(16)
        pwfile = os.path.join(self.dir, "pwfile")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        if self.user:
            os.chown(pwfile, *self.user)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            [
                find_binary("initdb"),
                "-D",
                data,
                "-U",
                "finpay",
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ]
            + ([] if fsync else ["--no-sync"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.dir,
            **ids,
        )
        os.remove(pwfile)
        if init.returncode != 0:
            raise DatabaseUnavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.socket_dir,
            "fsync": "on" if fsync else "off",
            "full_page_writes": "on" if fsync else "off",
            "max_connections": 200,  # 30 pods, the lab, a benchmark's clients: room to spare
        }
        args = [a for key, value in settings.items() for a in ("-c", f"{key}={value}")]
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [find_binary("postgres"), "-D", data, *args],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            env=env,
            cwd=self.dir,
            preexec_fn=_die_with_parent,
            **ids,
        )
        self._wait_ready(os.path.join(data, "postmaster.pid"))

    def _wait_ready(self, pidfile):
        """postmaster.pid's 8th line says "ready" once the server accepts connections."""
        deadline = time.monotonic() + defaults.POSTGRES_START_TIMEOUT
        while True:
            try:
                with open(pidfile) as f:
                    lines = f.read().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(self.log.name, errors="replace") as f:
                    raise DatabaseUnavailable(f"postgres did not start: {f.read().strip()[-500:]}")
            time.sleep(0.01)

    @property
    def url(self):
        return f"postgresql://finpay:{self.password}@127.0.0.1:{self.port}/postgres"

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # in case someone paused it
            self.proc.send_signal(signal.SIGQUIT)  # immediate shutdown: the data goes anyway
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(workdir=None, fsync=False):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the lab, which stops us
    try:
        keeper = _Keeper(workdir, fsync)
    except Exception as exc:
        print(f"error {exc}".replace("\n", " "), flush=True)
        os._exit(1)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # e.g. a kernel shutdown: stop the server too
        signal.signal(sig, lambda *_: (keeper.stop(), os._exit(0)))
    print("URL", keeper.url, keeper.socket_dir or "-", flush=True)
    try:
        for _line in sys.stdin:  # ends at EOF: the lab closed us, or the lab is gone
            pass
    finally:
        keeper.stop()
    os._exit(0)
