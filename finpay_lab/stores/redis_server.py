"""The Redis server the pods share when ``state="redis"``.

``redis="fake"`` (default, nothing to install): a fakeredis ``TcpFakeServer``, a real
Redis protocol on a real socket, run in a **helper process** of its own (inside the
notebook's kernel it would compete with the lab for the GIL). It listens on 127.0.0.1
with a random password, like the real one: fakeredis accepts ``requirepass`` but does
not enforce it, so our handler does (``-NOAUTH Authentication required.`` until AUTH).

``redis="real"``: ``redis-server`` from your PATH, on 127.0.0.1, a free port, a random
password and no persistence, also kept by the helper process. Its configuration (with
the password) goes in on its stdin, never on a command line, where any local user can
read it in ``/proc``.

The password travels only inside the lab's URL (``redis://:PASSWORD@127.0.0.1:PORT/0``,
printed by the helper on a pipe); messages and the dashboard show ``safe_url``.

"Redis down" (``fl.chaos.redis_down``) means the same on both: the server stops
listening, so new connections are refused, and open connections are dropped; "up" makes
it listen again on the same port, with every key still there. (The fake one closes its
listening socket; the real one is told ``CONFIG SET port 0`` and ``CLIENT KILL`` over a
private unix socket only the helper can reach, then ``CONFIG SET port`` to come back.)

``redis="redis://host:port/db"``: a server you run; the lab only connects to it.

The helper watches the lab through its stdin: when the lab's process ends (closed,
crashed, or SIGKILLed), stdin reaches EOF and the helper stops its server and exits, so
nothing outlives the lab. The lab talks to the helper with one-line commands on that
stdin (``down``, ``up``, ``slow 0.005``: the chaos faults for Redis).
"""

import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

from .. import defaults
from ..errors import BadInput, RedisUnavailable
from .redis_auth import AuthGate


class RedisServer:
    """The lab's handle on its Redis: where it is, and how to stop (or break) it."""

    def __init__(self, spec: str = "fake"):
        if not isinstance(spec, str) or not (
            spec in ("fake", "real") or spec.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise BadInput(
                f"redis={spec!r}: use 'fake' (embedded, default), 'real' (redis-server on "
                "PATH) or a URL like 'redis://localhost:6379/0'"
            )
        self.spec = spec
        self.kind = spec if spec in ("fake", "real") else "external"
        self.process = None
        self.url = spec if self.kind == "external" else None

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
        if self.kind != "external":
            self.process = subprocess.Popen(
                [sys.executable, "-c", f"from finpay_lab.stores.redis_server import main; main({self.kind!r}, {workdir!r})"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            # Garbage-collected without stop() (a re-run cell): end the helper anyway.
            # (A Popen left running keeps itself alive, and so its stdin pipe open.)
            self._finalizer = weakref.finalize(self, _end_helper, self.process)
            line = _read_line(self.process, defaults.REDIS_START_TIMEOUT)
            if not line.startswith("URL "):
                self.stop()
                raise RedisUnavailable(f"the {self.kind} Redis server did not start: {line}")
            self.url = line[4:].strip()
        self._wait_until_up()
        return self

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
        return self.kind == "external" or self.process is not None

    @property
    def pid(self):
        return self.process.pid if self.process else None

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

    def command(self, line: str):
        """Send a chaos command (down, up, slow SECONDS) to the helper and wait for 'ok'."""
        if self.process is None:
            raise BadInput(f"Redis faults need a Redis the lab runs (redis='fake' or 'real'), not {self.kind}")
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        reply = _read_line(self.process, 10.0)
        if reply.strip() != "ok":
            raise RedisUnavailable(f"Redis helper refused {line!r}: {reply.strip()}")

    def stop(self):
        """Stop the helper (and its server). Safe to call twice; a call interrupted by
        Ctrl-C keeps the handle, so the next one finishes the job."""
        if self.process is None:
            return
        _end_helper(self.process)
        self._finalizer.detach()
        self.process = None


def _end_helper(proc):
    """EOF on the helper's stdin: it stops its server and exits (in milliseconds)."""
    try:
        proc.stdin.close()
    except OSError:  # a write still buffered when the helper was already gone
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def _read_line(proc, timeout):
    result = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        return f"no answer within {timeout} s"
    return result[0] or f"exited with code {proc.poll()}"


# ---------------------------------------------------------------- the helper process


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _FakeKeeper:
    """Runs fakeredis's TCP server; can take it down and bring it back with the same data."""

    def __init__(self):
        from fakeredis import TcpFakeServer
        from fakeredis._clients._tcp_server import TCPFakeRequestHandler

        keeper = self
        self.delay = 0.0
        self.password = secrets.token_hex(16)

        class Handler(TCPFakeRequestHandler):
            def setup(self):
                # Without TCP_NODELAY, Nagle + delayed ACK stall every pipeline and
                # MULTI/EXEC by ~44 ms; with it a pipeline takes ~0.5 ms.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()
                keeper_sock = self.current_client.get_socket()
                original = keeper_sock.sendall

                def slowed(data):  # "slow Redis" chaos: every command pays the delay
                    if keeper.delay:
                        time.sleep(keeper.delay)
                    return original(data)

                keeper_sock.sendall = slowed

            def handle(self):
                # fakeredis's own loop drops the connection after any error reply
                # (NOSCRIPT, NOGROUP, BUSYGROUP...); real Redis keeps it open and so must we,
                # or every redis-py client on it fails with "Connection closed by server".
                from redis.exceptions import ResponseError

                gate = AuthGate(keeper.password, self.wfile)  # nothing passes before AUTH
                while not self.server._shutdown_event.is_set():
                    try:
                        if self.current_client.can_read():
                            try:
                                response = self.current_client.read_response()
                            except ResponseError as exc:
                                response = exc
                            self.writer.dump(response)
                            continue
                        data = self.rfile.readline()
                        if data == b"":
                            readable, _, _ = select.select([self.connection], [], [], 0.01)
                            if not readable:
                                continue
                            data = self.rfile.readline()
                            if data == b"":
                                break
                        if not gate.open:
                            data = gate.feed(data)  # what follows a successful AUTH, if any
                            if gate.closed:
                                break
                            if not data:
                                continue
                        self.current_client.get_socket().sendall(data)
                    except (ConnectionError, OSError, ValueError):
                        break

        class Server(TcpFakeServer):
            def __init__(self, address, data):
                super().__init__(address, bind_and_activate=True)
                self.RequestHandlerClass = Handler
                self.daemon_threads = True  # the base class sets False
                if data is not None:
                    self.fake_server = data  # keep the keys across down/up

        self._server_cls = Server
        self.port = _free_port()
        self.server = None
        self.data = None
        self.up()

    def up(self):
        if self.server is None:
            self.server = self._server_cls(("127.0.0.1", self.port), self.data)
            self.data = self.server.fake_server
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        if self.server is not None:
            server, self.server = self.server, None
            server.shutdown()
            server.server_close()
            for client in list(server.clients.values()):  # drop open connections too
                try:
                    client.disconnect()
                except Exception:
                    pass

    @property
    def url(self):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def stop(self):
        self.down()


class _RealKeeper:
    """Runs redis-server, configured through its stdin (``redis-server -``) so that its
    password is on no command line. Without persistence a restart would lose every key, so
    'down' stops it *listening* (``CONFIG SET port 0``) and drops its clients, as a
    crashed server would look from outside, and 'up' listens again with its data. The
    helper reaches it meanwhile over a unix socket in a private (0700) directory."""

    def __init__(self, workdir=None):
        self.port = _free_port()
        self.password = secrets.token_hex(16)
        self.delay = 0.0
        self.dir = tempfile.mkdtemp(prefix="finpay-redis-", dir=workdir)  # 0700: only this user
        self.socket = os.path.join(self.dir, "redis.sock")
        config = "\n".join([
            "bind 127.0.0.1", f"port {self.port}", f"requirepass {self.password}",
            f"unixsocket {self.socket}", "unixsocketperm 700", f"dir {self.dir}",
            'save ""', "appendonly no", "protected-mode yes", "loglevel warning", "",
        ])
        self.proc = subprocess.Popen(
            ["redis-server", "-"],  # "-": read the configuration from stdin
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.proc.stdin.write(config.encode())
        self.proc.stdin.close()
        self._admin = None

    @property
    def url(self):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def admin(self):
        """The helper's own connection, over the private unix socket."""
        if self._admin is None:
            import redis

            self._admin = redis.Redis(unix_socket_path=self.socket, password=self.password,
                                      socket_timeout=defaults.REDIS_SOCKET_TIMEOUT)
        return self._admin

    def down(self):
        self.admin.config_set("port", 0)  # stop listening: new connections are refused
        for kind in ("normal", "pubsub"):  # and drop the open ones (not our own)
            self.admin.client_kill_filter(_type=kind)

    def up(self):
        self.admin.config_set("port", self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGCONT)  # in case someone paused it
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _die_with_parent():
    """Linux: the kernel SIGKILLs this child if the helper dies first."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main(kind: str, workdir=None):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the lab, which stops us
    keeper = _FakeKeeper() if kind == "fake" else _RealKeeper(workdir)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # e.g. a kernel shutdown: stop the server too
        signal.signal(sig, lambda *_: (keeper.stop(), os._exit(0)))
    print("URL", keeper.url, flush=True)
    try:
        for line in sys.stdin:  # ends at EOF: the lab closed us, or the lab is gone
            cmd, *arg = line.split()
            try:
                if cmd == "down":
                    keeper.down()
                elif cmd == "up":
                    keeper.up()
                elif cmd == "slow":
                    keeper.delay = float(arg[0]) if arg else 0.0
                else:
                    raise ValueError(f"unknown command {cmd}")
                print("ok", flush=True)
            except Exception as exc:
                print(f"error {exc}", flush=True)
    finally:
        keeper.stop()
    os._exit(0)  # don't wait for fakeredis's connection threads


if __name__ == "__main__":
    main(*sys.argv[1:3])
