"""The embedded Redis (``redis="fake"``): fakeredis's TCP server, in a process the helper forks.

The helper process imports fakeredis (and redis-py under it) once, then forks the server
(``ForkedFake``): everything the server holds lives in the memory of that child, as a real
in-memory Redis holds its keys. ``lab.redis.crash()`` has the helper SIGKILL the child, and
the keys die with it; the helper forks a new one on the same port, with the same password,
and it begins empty. (``down``/``up`` only stop and restart *listening*, and keep the keys.)
A fork starts the new server in milliseconds; a fresh Python process spent most of a second
(more on a busy machine) importing fakeredis and redis-py before it could listen, and the
run waited meanwhile (``benchmarks/stores.py`` prints the figure). Killed from outside, the
server takes its helper with it: nothing restarts a Redis the lab did not crash itself.

Scripts (EVAL/EVALSHA: FinPay's payment is one) cost what they cost in Redis, not three
times as much: fakeredis compiles a script's source on every call, runs a full Lua garbage
collection after it, and before each ``redis.call`` lists every Lua global to look for a new
one (real Redis forbids them). ``_faster_scripts`` keeps each compiled script (as Redis
keeps its script cache), collects garbage a step at a time, and counts the globals (one
Lua loop) before listing them only when the count changed; what a script may do and what
it answers stay fakeredis's.
"""

import os
import secrets
import select
import signal
import socket
import threading
import time

from .. import defaults
from .helper_process import obey
from .redis_auth import AuthGate


def _handler_class(keeper):
    """fakeredis's request handler, with TCP_NODELAY, the password and the 'slow' chaos."""
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

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
            _relay(self, keeper)

    return Handler


def _relay(self, keeper):  # self: the request handler
    """One client's connection: fakeredis's own loop drops the connection after any error
    reply (NOSCRIPT, NOGROUP, BUSYGROUP...); real Redis keeps it open and so must we, or
    every redis-py client on it fails with "Connection closed by server"."""
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


class _CompiledScripts:
    """fakeredis's Lua runtime, but a script's source is compiled once and kept (at most
    ``defaults.FAKE_REDIS_SCRIPTS_KEPT``), and the garbage collection after each script is
    one step of it."""

    def __init__(self, runtime):
        self._runtime = runtime
        self._compiled = {}
        self._count = runtime.eval("function() local n = 0 for _ in pairs(_G) do n = n + 1 end return n end")

    def execute(self, source):
        if source == "collectgarbage()":  # after every script: a step, not a full cycle
            return self._runtime.execute('collectgarbage("step")')
        chunk = self._compiled.get(source)
        if chunk is None:
            try:
                chunk = self._runtime.compile(source)
            except Exception:  # a syntax error: raised by execute, in fakeredis's own words
                return self._runtime.execute(source)
            if len(self._compiled) >= defaults.FAKE_REDIS_SCRIPTS_KEPT:
                self._compiled.clear()
            self._compiled[source] = chunk
        return chunk()

    def __getattr__(self, name):  # table_from, globals, eval...: the runtime's own
        return getattr(self._runtime, name)


def _faster_scripts():
    """In the helper process: fakeredis's scripts with ``_CompiledScripts``, and its check
    for new Lua globals run only when their count changed. A fakeredis without these
    internals (another version) is left as it is."""
    from fakeredis.commands_mixins import scripting_mixin as mixin

    cls = getattr(mixin, "ScriptingCommandsMixin", None)
    check = getattr(mixin, "_check_for_lua_globals", None)
    if (
        cls is None
        or check is None
        or not hasattr(cls, "_get_server_runtime")
        or getattr(mixin, "_finpay", False)
    ):
        return
    original_runtime = cls._get_server_runtime

    counts = {}  # id(a raw runtime) -> (its globals counter, how many globals it starts with)

    def server_runtime(self, server):
        runtime = original_runtime(self, server)
        if not isinstance(runtime, _CompiledScripts):
            runtime = server._lua_runtime = _CompiledScripts(runtime)
            counts[id(runtime._runtime)] = (runtime._count, len(server._lua_expected_globals))
        return runtime

    def check_globals(lua_runtime, expected_globals):
        counted = counts.get(id(getattr(lua_runtime, "_runtime", lua_runtime)))
        if counted is not None and counted[0]() == counted[1] == len(expected_globals):
            return  # as many globals as it started with: none new to look for
        check(lua_runtime, expected_globals)

    cls._get_server_runtime = server_runtime
    mixin._check_for_lua_globals = check_globals
    mixin._finpay = True


def _server_class(handler):
    from fakeredis import TcpFakeServer

    class Server(TcpFakeServer):
        # After a crash the new helper binds the same port while the dead one's
        # connections sit in TIME_WAIT: without SO_REUSEADDR that bind would fail.
        allow_reuse_address = True

        def __init__(self, address, data):
            super().__init__(address, bind_and_activate=True)
            self.RequestHandlerClass = handler
            self.daemon_threads = True  # the base class sets False
            if data is not None:
                self.fake_server = data  # keep the keys across down/up

    return Server


class FakeKeeper:
    """Runs fakeredis's TCP server; can take it down and bring it back with the same data."""

    def __init__(self, password=None, port=None):
        from .redis_real import free_port

        _faster_scripts()
        self.delay = 0.0
        self.password = password or secrets.token_hex(16)
        self.port = port or free_port()
        self._server_cls = _server_class(_handler_class(self))
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


class ForkedFake:
    """The helper's handle on its forked server: the same ``url``, ``down()``, ``up()``,
    ``delay`` and ``stop()`` as a ``FakeKeeper``, plus ``crash()`` and the server's ``pid``.
    ``watch`` is a descriptor that becomes readable when the server dies (its reply pipe
    reaches EOF): the helper then ends too."""

    def __init__(self, password, port):
        _faster_scripts()  # fakeredis, lupa and redis-py imported (and patched) once, here:
        from fakeredis._clients._tcp_server import TCPFakeRequestHandler  # noqa: F401  every fork has them

        self.password, self.port = password, port
        self.pid = self.watch = None
        self._delay = 0.0
        self._start()

    @property
    def url(self):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def _start(self):
        commands, command_end = os.pipe()
        reply_end, replies = os.pipe()
        pid = os.fork()
        if pid == 0:  # the server: it holds the keys
            os.close(command_end)
            os.close(reply_end)
            _serve_forked(self.password, self.port, commands, replies)  # never returns
        os.close(commands)
        os.close(replies)
        self.pid, self.watch = pid, reply_end
        self._commands = os.fdopen(command_end, "w", buffering=1)
        self._replies = os.fdopen(reply_end, "r")
        ready = self._replies.readline().strip()
        if ready != "ready":
            self.stop()
            raise RuntimeError(f"the embedded Redis did not start: {ready or 'it exited'}")

    def _ask(self, line):
        try:
            self._commands.write(line + "\n")
            reply = self._replies.readline().strip()
        except OSError:
            reply = ""
        if reply != "ok":
            raise RuntimeError(reply[len("error ") :] if reply else "the embedded Redis server has died")

    def down(self):
        self._ask("down")

    def up(self):
        self._ask("up")

    @property
    def delay(self):
        return self._delay

    @delay.setter
    def delay(self, seconds):
        self._ask(f"slow {seconds}")
        self._delay = seconds

    def crash(self):
        """SIGKILL the server and fork a new one, empty, on the same port."""
        self.stop()
        self._delay = 0.0  # a new server runs at full speed, as a restarted one does
        self._start()

    def stop(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = self.watch = None
            self._commands.close()
            self._replies.close()


def _serve_forked(password, port, commands, replies):
    """The forked server's life: listen, answer the helper's commands, and end (with every
    key) at EOF on ``commands``: the helper stopped it, or the helper itself is gone."""
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)  # the lab's pipes are the helper's, not the server's
        os.dup2(null, 1)
        out = os.fdopen(replies, "w", buffering=1)
        try:
            keeper = FakeKeeper(password, port)
        except Exception as exc:
            out.write(f"error {type(exc).__name__}: {exc}\n")
            return
        out.write("ready\n")
        for line in os.fdopen(commands):
            try:
                obey(keeper, line)
                out.write("ok\n")
            except Exception as exc:
                out.write(f"error {exc}\n")
    finally:
        os._exit(0)  # never back into the helper's code; fakeredis's threads end with us
