"""The Redis server the pods share when ``state="redis"``.

``redis="fake"`` (default, nothing to install): a fakeredis ``TcpFakeServer``, a real
Redis protocol on a real socket, run in a **helper process** of its own (inside the
notebook's kernel it would compete with the lab for the GIL). It listens on 127.0.0.1
with a random password, like the real one: fakeredis accepts ``requirepass`` but does
not enforce it, so our handler does (``-NOAUTH Authentication required.`` until AUTH).

``redis="real"``: ``redis-server`` from your PATH, on 127.0.0.1, a free port, a random
password and no persistence (or ``persistence="aof"``: an append-only file in the lab's
work dir), also kept by the helper process. Its configuration (with the password) goes in
on its stdin, never on a command line, where any local user can read it in ``/proc``.
(The keepers are in ``redis_fake.py`` and ``redis_real.py``.)

The password travels only inside the lab's URL (``redis://:PASSWORD@127.0.0.1:PORT/0``,
printed by the helper on a pipe); messages and the dashboard show ``safe_url``.

"Redis down" (``fl.chaos.redis_down``) means the same on both: the server stops
listening, so new connections are refused, and open connections are dropped; "up" makes
it listen again on the same port, with every key still there. (The fake one closes its
listening socket; the real one is told ``CONFIG SET port 0`` and ``CLIENT KILL`` over a
private unix socket only the helper can reach, then ``CONFIG SET port`` to come back.)

"Redis crashed" (``fl.chaos.redis_crash``, ``lab.redis.crash()``) is the real thing: the
process holding the keys is SIGKILLed (the embedded server, which its helper forked; the
real redis-server) and the helper starts a new one on the same port with the same
password. It comes back empty, as a killed in-memory server does, or, with
``persistence="aof"``, replays its append-only file. ``pid`` is the process holding the
keys for the embedded server (it changes with a crash), the helper's for the real one.

``redis="redis://host:port/db"``: a server you run; the lab only connects to it. So is
``redis=store``, an ``fl.StatefulSet``: the lab connects to its Service address.

The helper watches the lab through its stdin: when the lab's process ends (closed,
crashed, or SIGKILLed), stdin reaches EOF and the helper stops its server and exits, so
nothing outlives the lab. The lab talks to the helper with one-line commands on that
stdin (``password …`` first, then ``down``, ``up``, ``slow 0.005``, ``crash``).
"""

import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
import weakref

from .. import defaults
from ..errors import BadInput, RedisUnavailable
from .helper_process import end_helper, obey, read_line
from .redis_fake import FakeKeeper, ForkedFake
from .redis_real import RealKeeper, free_port

PERSISTENCE = ("none", "aof")


class RedisServer:
    """The lab's handle on its Redis: where it is, and how to stop (or break) it."""

    def __init__(self, spec="fake", persistence="none"):
        from .statefulset import StatefulSet

        if isinstance(spec, StatefulSet):
            kind = "statefulset"  # replicated pods the lab only connects to (their Service URL)
        elif isinstance(spec, str) and (
            spec in ("fake", "real") or spec.startswith(("redis://", "rediss://", "unix://"))
        ):
            kind = spec if spec in ("fake", "real") else "external"
        else:
            raise BadInput(
                f"redis={spec!r}: use 'fake' (embedded, default), 'real' (redis-server on "
                "PATH), a URL like 'redis://localhost:6379/0' or an fl.StatefulSet"
            )
        if persistence not in PERSISTENCE:
            raise BadInput(
                f"redis_persistence={persistence!r}: use 'none' (default) or 'aof' (append-only file)"
            )
        if persistence == "aof" and kind != "real":
            raise BadInput(
                "redis_persistence='aof' needs redis='real' (a redis-server the lab starts): the "
                "embedded fake Redis keeps its keys only in memory, and the lab does not configure "
                "a server it only connects to"
            )
        self.spec = spec
        self.kind = kind
        self.persistence = persistence
        self.process = None
        self.url = spec if kind == "external" else None
        self._server_pid = None  # the embedded server's own process (its helper forks it)
        self._password = None
        self._port = None
        self._workdir = None

    def start(self, workdir=None):
        """Start the server (nothing to start for an external one). ``workdir``: where a real
        server keeps its private socket dir; the lab passes its own work dir, so that
        whatever removes the lab's dir (close, or the guardian) removes this one too."""
        if self.kind == "real" and shutil.which("redis-server") is None:
            raise RedisUnavailable(
                "redis='real' needs the redis-server binary on PATH and there is none: "
                "install it (apt-get install redis-server / brew install redis) or use "
                "redis='fake'"
            )
        if self.kind == "statefulset":
            if self.spec.url is None:
                raise BadInput(
                    "redis=store: start the StatefulSet first (with fl.StatefulSet(...) as store:)"
                )
            self.url = self.spec.url
        elif self.kind != "external":
            self._workdir = workdir
            self._password = secrets.token_hex(16)
            self._port = _free_port()
            self._launch_helper()
        self._wait_until_up()
        return self

    def _launch_helper(self):
        args = (self.kind, self._workdir, self.persistence, self._port)
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from finpay_lab.stores.redis_server import main; main(*{args!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        # Garbage-collected without stop() (a re-run cell): end the helper anyway.
        # (A Popen left running keeps itself alive, and so its stdin pipe open.)
        self._finalizer = weakref.finalize(self, end_helper, self.process, os.getpid(), 5)
        self.process.stdin.write(f"password {self._password}\n")  # never on a command line
        self.process.stdin.flush()
        line = read_line(self.process, defaults.REDIS_START_TIMEOUT)
        if not line.startswith("URL "):
            self.stop()
            raise RedisUnavailable(f"the {self.kind} Redis server did not start: {line}")
        self.url, *pid = line[4:].split()  # "URL <url>", and the embedded server's pid
        self._server_pid = int(pid[0]) if pid else None

    def _wait_until_up(self):
        from .state import redis_client

        client = redis_client(self.url)
        deadline = time.monotonic() + defaults.REDIS_START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                    return
                except Exception as exc:
                    if time.monotonic() > deadline:
                        raise RedisUnavailable(f"Redis at {self.safe_url} does not answer: {exc}") from exc
                    time.sleep(0.02)
        finally:
            client.close()

    @property
    def safe_url(self):
        """The URL without its password, for messages and the dashboard."""
        if self.url and "@" in self.url:
            scheme, rest = self.url.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return self.url

    @property
    def running(self):
        if self.kind == "statefulset":
            return self.url is not None  # start() took the store's Service address
        return self.kind == "external" or self.process is not None

    @property
    def pid(self):
        """The process holding the keys (the embedded server), or the real one's helper."""
        if self.process is None:
            return None
        return self._server_pid or self.process.pid

    # Chaos, through public methods: ``lab.redis.down()`` and so on.
    def down(self):
        """Stop answering: every client's command fails until ``up()`` (the helper keeps its data)."""
        self.command("down")

    def up(self):
        """Answer again, with everything it held before ``down()``."""
        self.command("up")

    def slow(self, delay):
        """Delay every command by ``delay`` seconds inside the server (0: full speed; fake only)."""
        self.command(f"slow {delay}")

    def crash(self):
        """SIGKILL the Redis server itself and start it again on the same port, with the same
        password; returns once it answers. What it held is gone, unless it was started with
        ``persistence="aof"``: then it replays its append-only file first. Pods reconnect
        by themselves: a command on a dropped connection fails once, the next one connects
        again (``RedisState``'s client). Returns what ``pid`` the server now has."""
        if self.process is None:
            raise BadInput(
                f"redis crash needs a Redis the lab runs (redis='fake' or 'real'), not {self.kind}"
            )
        if self.process.poll() is None:  # the helper SIGKILLs its server and starts another
            pid = self.command("crash")
            self._server_pid = int(pid) if pid else None
        else:  # the helper is gone (killed from outside): a new one, with its server
            self.stop()
            self._launch_helper()
        self._wait_until_up()
        return self.pid

    def command(self, line: str):
        """Send a chaos command (down, up, slow SECONDS, crash) to the helper and wait for
        'ok'; returns what follows it (the new server's pid, after a crash of the embedded one)."""
        if self.process is None:
            raise BadInput(
                f"Redis faults need a Redis the lab runs (redis='fake' or 'real'), not {self.kind}"
            )
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except OSError:  # the helper is gone: read_line says how it ended
            pass
        reply = read_line(self.process, defaults.REDIS_START_TIMEOUT).split(maxsplit=1)
        if reply[:1] != ["ok"]:
            raise RedisUnavailable(f"Redis helper refused {line!r}: {' '.join(reply)}")
        return reply[1] if len(reply) > 1 else ""

    def stop(self):
        """Stop the helper (and its server). Safe to call twice; a call interrupted by
        Ctrl-C keeps the handle, so the next one finishes the job."""
        if self.process is None:
            return
        end_helper(self.process, os.getpid(), 5)
        self._finalizer.detach()
        self.process = self._server_pid = None


# ---------------------------------------------------------------- the helper process


_free_port = free_port
_FakeKeeper = FakeKeeper  # the names tests reach for (the keeper runs in-process there)


def main(kind: str, workdir=None, persistence="none", port=None):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the lab, which stops us
    lines = _Lines(sys.stdin.fileno())
    first = (lines.next() or "").split()  # "password HEX": the lab's, so a crash keeps it
    password = first[1] if len(first) == 2 and first[0] == "password" else secrets.token_hex(16)
    port = port or _free_port()
    if kind == "fake":
        keeper = ForkedFake(password, port)  # the server is a child: its pid follows the URL
    else:
        keeper = RealKeeper(password, port, workdir, persistence)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # e.g. a kernel shutdown: stop the server too
        signal.signal(sig, lambda *_: (keeper.stop(), os._exit(0)))
    print("URL", keeper.url, *([keeper.pid] if kind == "fake" else []), flush=True)
    try:
        while True:
            # EOF: the lab closed us, or the lab is gone. None: the embedded server died
            # (killed from outside): the helper ends with it, and the lab sees it gone.
            line = lines.next(getattr(keeper, "watch", None))
            if not line:
                break
            try:
                cmd = obey(keeper, line, can_crash=True)
                print("ok", *([keeper.pid] if cmd == "crash" and kind == "fake" else []), flush=True)
            except Exception as exc:
                print(f"error {exc}", flush=True)
    finally:
        keeper.stop()
    os._exit(0)  # don't wait for fakeredis's connection threads


class _Lines:
    """Lines from a file descriptor, read without a buffer that select() cannot see."""

    def __init__(self, fd):
        self.fd, self.buffer = fd, b""

    def next(self, watch=None):
        """The next line; "" at EOF; None once ``watch`` is readable first."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd] + ([watch] if watch is not None else []), [], [])
            if watch is not None and watch in ready:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return ""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode() + "\n"


if __name__ == "__main__":
    main(*sys.argv[1:3])
