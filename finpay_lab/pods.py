"""A pod: one OS process running the app, like a container in a Kubernetes pod.

Vocabulary used across the lab:

* **pod**: a process with a name (``pod-1``), a pid, a pipe to the lab, and its own
  memory. Names are never reused in a lab's life, except by a **replacement**: with
  ``restart=True`` a crashed pod is restarted under the same name, as a new process with
  empty memory (Kubernetes restarts a crashed container the same way, ``RESTARTS`` +1).
* **status**: ``starting`` → ``ready`` (idle) ⇄ ``busy`` (requests in flight) →
  ``stopping`` (scale-down: out of rotation, finishing its work) → ``dead``.
* **kill**: SIGKILL. The process gets no chance to clean up, exactly like a node failure
  or the OOM killer. Everything in its memory is gone.
* **drain**: the graceful stop of a scale-down: stop routing to the pod, let in-flight
  work finish, SIGTERM, and only after a grace period SIGKILL.

This module has both halves: ``Pod`` is the lab's handle (in the notebook's process);
``pod_main`` is what runs inside the pod's process.
"""

import contextlib
import os
import random
import select
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import multiprocess
import multiprocess.util
from multiprocess import spawn
from multiprocess.connection import Connection

from . import defaults, wire


@dataclass(frozen=True)
class PodInfo:
    """A snapshot of one pod, as ``lab.pods`` lists it."""

    name: str
    pid: int | None
    status: str
    served: int = 0
    restarts: int = 0


def exit_cause(exitcode) -> str:
    """Turn a process's exit status into words: 'SIGKILL', 'exit code 1'."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return "exited normally" if exitcode == 0 else f"exit code {exitcode}"


def context(method: str | None = None):
    """The multiprocess context pods are started with (forkserver by default on POSIX)."""
    method = method or defaults.START_METHOD
    if method not in multiprocess.get_all_start_methods():
        raise ValueError(
            f"start method {method!r} is not available here; "
            f"use one of {multiprocess.get_all_start_methods()}"
        )
    ctx = multiprocess.get_context(method)
    if method == "forkserver":
        # Preload the pod's code in the fork server, so each pod starts in milliseconds
        # (and never re-runs a script's __main__, the default preload).
        # forkserver_cleanup removes the lab process's pymp-* dir if that process is killed.
        ctx.set_forkserver_preload(["finpay_lab.forkserver_cleanup", "finpay_lab.pods", "finpay_lab.finpay"])
    return ctx


@dataclass
class Pod:
    """The lab's handle on one pod process."""

    name: str
    process: object
    conn: Connection
    restarts: int = 0
    status: str = "starting"
    pid: int | None = None
    served: int = 0
    started: float = field(default_factory=time.monotonic)
    in_flight: dict = field(default_factory=dict)  # rid -> pending request
    exitcode: int | None = None
    index: int = 0  # the number in the name, for ordering: pod-10 comes after pod-9

    def __post_init__(self):
        num = self.name.rsplit("-", 1)[-1]
        self.index = int(num) if num.isdigit() else 0
        self.channel = wire.Channel(self.conn, nonblocking=True)
        # A poll object on just this pod's pipe: "is a reply waiting?" in one syscall.
        self._poller = select.poll()
        self._poller.register(self.channel.fd, select.POLLIN)

    def readable(self, timeout=0.0) -> bool:
        """True if a reply (or EOF, if the pod died) is waiting, within ``timeout`` seconds.

        While it waits it also writes what the lab still owes the pod (a big request)."""
        if not self.channel.pending:
            return bool(self._poller.poll(None if timeout is None else timeout * 1000))
        end = None if timeout is None else time.monotonic() + timeout
        fd = self.channel.fd
        try:
            while self.channel.pending:
                self._poller.modify(fd, select.POLLIN | select.POLLOUT)
                ms = None if end is None else max(0.0, end - time.monotonic()) * 1000
                events = self._poller.poll(ms)
                if not events:
                    return False
                if events[0][1] & select.POLLOUT:
                    self.channel.flush()
                if events[0][1] & ~select.POLLOUT:
                    return True
        except OSError:  # the pod is gone: reading will say so (EOF)
            self.channel.discard()
            return True
        finally:
            self._poller.modify(fd, select.POLLIN)
        return self.readable(None if end is None else max(0.0, end - time.monotonic()))

    @property
    def routable(self):
        return self.status in ("ready", "busy")

    @property
    def alive(self):
        return self.status != "dead"

    def info(self) -> PodInfo:
        return PodInfo(self.name, self.pid, self.status, self.served, self.restarts)

    def send(self, data: bytes):
        self.channel.send(data)

    def signal(self, sig):
        """Send ``sig``; a pod that is already gone (ESRCH) is not an error."""
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def _without_main_import():
    """Start a process without re-running the notebook's or script's ``__main__`` in it.

    multiprocess normally re-imports ``__main__`` in every child started with forkserver or
    spawn, to find the target function. Our target lives in this module and the app
    travels by value (dill), so the child does not need ``__main__``; re-running a script
    there would start a second lab inside each pod.
    """
    original = spawn.get_preparation_data

    def preparation_data(name):
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    spawn.get_preparation_data = preparation_data
    try:
        yield
    finally:
        spawn.get_preparation_data = original


@contextlib.contextmanager
def _interrupts_held():
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it.

    Starting a process is not atomic: the child exists a moment before its parent learns
    its pid. A KeyboardInterrupt in that moment would lose a running pod. Only the main
    thread receives signals, so elsewhere there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, held[0])
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)


def _start(process, started):
    """Start ``process``, listed in ``started`` *before* it starts: whoever is interrupted
    half-way can still find, and kill, every process that came to life."""
    if started is not None:
        started.add(process)
    with _without_main_import(), _interrupts_held():
        process.start()


def start_pod(ctx, name, app_blob, config, lifeline, restarts=0, started=None) -> Pod:
    """Start a pod process; it says 'ready' on its pipe once it can serve."""
    parent_end, child_end = ctx.Pipe(duplex=True)
    # With plain fork a child inherits every fd of the lab, including the lab's end of
    # the lifeline and of other pods' pipes; it must close them or no EOF ever arrives.
    close_fds = []
    if ctx.get_start_method() == "fork":
        close_fds = list(config.get("_lab_fds", ())) + [parent_end.fileno()]
    process = ctx.Process(
        target=pod_main,
        args=(child_end, lifeline, app_blob, dict(config, name=name, restarts=restarts), close_fds),
        name=f"finpay_lab {name}",
        daemon=True,
    )
    _start(process, started)
    child_end.close()  # the lab keeps only its end, or EOF never comes when the pod dies
    return Pod(name=name, process=process, conn=parent_end, restarts=restarts, pid=process.pid)


def start_guardian(ctx, lifeline, workdir, close_fds=(), started=None):
    """Start the lab's guardian: the process that cleans up if the lab itself is killed."""
    # multiprocess's own temp dir (the fork server's socket): removed at a normal exit,
    # left behind by a killed lab's process unless the guardian removes it.
    mp_tempdir = multiprocess.util.get_temp_dir() if ctx.get_start_method() == "forkserver" else None
    process = ctx.Process(target=guardian_main, args=(lifeline, workdir, list(close_fds), mp_tempdir),
                          name="finpay_lab guardian", daemon=True)
    _start(process, started)
    return process


def gone(pid) -> bool:
    """True if process ``pid`` runs no more (no such process, or a zombie).

    Asked of the OS, not of multiprocess: once the fork server has died (a kernel shutdown
    SIGTERMs it) every pod's sentinel reads as "exited", paused pods included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False  # no /proc (macOS): count it as running; a signal to it is harmless


def write_pidfile(workdir, pids):
    """Record the pods alive now, for the guardian (written whole, then renamed: atomic)."""
    path = os.path.join(workdir, PIDFILE)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(str(pid) for pid in pids if pid))
    os.replace(path + ".tmp", path)


PIDFILE = "pods.pids"

# The lab's last word on the lifeline. Silence then EOF means the lab's process is ending.
BYE = b"bye"  # close(): the lab stopped everything itself
GONE = b"gone"  # the lab was garbage-collected: its process lives on, its pods must go
_STILL_THERE = b""  # (nothing said yet, no EOF: the lab's process is alive)


def guardian_main(lifeline, workdir, close_fds=(), mp_tempdir=None):
    """The lab's last line of defence, in a process of its own that chaos never pauses.

    Pods exit on their own when the lab's process dies (they watch the lifeline), except a
    pod that is paused (SIGSTOP): a stopped process runs nothing, not even its watchdog.
    The guardian blocks on the lifeline. At EOF without a word the lab's process is
    ending: it thaws and kills every pod the lab last listed, removes the lab's work dir
    and multiprocess's temp dir. ``GONE`` (the lab was garbage-collected): the pods and the
    work dir only; the process, and its temp dir, live on. ``BYE``: nothing left to do.

    It runs in a session of its own, so a signal to the lab's whole process group (a
    Jupyter kernel's shutdown SIGTERMs it; ``shutdown_kernel(now=True)`` SIGKILLs it)
    cannot take it down before it has cleaned up. SIGTERM or SIGHUP sent to the guardian
    itself make it clean up at once, then exit.
    """
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setsid()

    def finish(word):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
        if word != BYE:
            _kill_listed(workdir)
            shutil.rmtree(workdir, ignore_errors=True)
        if word is None and mp_tempdir:
            shutil.rmtree(mp_tempdir, ignore_errors=True)
        os._exit(0)

    def on_signal(signum, frame):  # idempotent, so a second signal mid-way does no harm
        finish(_hear(lifeline, timeout=0))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    finish(_hear(lifeline))


def _hear(lifeline, timeout=None):
    """The lab's last word: BYE, GONE, None at EOF, or _STILL_THERE after ``timeout``."""
    try:
        if timeout is not None and not lifeline.poll(timeout):
            return _STILL_THERE
        return lifeline.recv_bytes()
    except (EOFError, OSError):
        return None


def _kill_listed(workdir):
    """Thaw and kill every pod in the lab's pidfile (ESRCH: already gone)."""
    try:
        with open(os.path.join(workdir, PIDFILE)) as f:
            pids = [int(line) for line in f.read().split()]
    except (OSError, ValueError):
        pids = []
    for pid in pids:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break


# ---------------------------------------------------------------- inside the pod


@dataclass
class PodContext:
    """What a handler can learn about the pod it runs on: ``fl.this_pod()``."""

    name: str
    pid: int
    restarts: int
    config: dict
    random: random.Random
    state: object = None


_this_pod: PodContext | None = None


def this_pod() -> PodContext:
    """The pod the current handler runs on (its name, pid, seeded random, lab config)."""
    if _this_pod is None:
        raise RuntimeError("this_pod() only works inside a pod, in a handler")
    return _this_pod


def _watch_lab(lifeline: Connection, lab_pid: int):
    # The lab never writes to the lifeline: it becomes readable only at EOF, when every
    # copy of its write end is closed, i.e. the lab's process is gone. Then so are we.
    while True:
        if lifeline.poll(defaults.PARENT_WATCH_INTERVAL):
            os._exit(0)
        try:
            os.kill(lab_pid, 0)
        except ProcessLookupError:
            os._exit(0)


def _peek(state, params):
    """What this pod holds: {key: value} for keys starting with ``prefix`` (memory only)."""
    prefix = params.get("prefix", "") if isinstance(params, dict) else None
    if not isinstance(prefix, str):
        return False, None, "__peek__ takes {'prefix': a string}"
    if state.kind != "memory":
        return True, {}, None
    return True, {key: state.get(key) for key in state.keys(prefix)}, None


_COALESCE = 0.001  # seconds a reply may wait to share a write with the next ones

def _stats(state, params):
    """Counts of what this pod holds, computed here so only three numbers cross the pipe."""
    if state.kind != "memory":
        return True, {"sessions": 0, "queued_sms": 0, "keys": 0}, None
    keys = state.keys()
    queued = sum(len(v) for v in (state.get(k) for k in keys if k.startswith("sms:queue")) if isinstance(v, list))
    return True, {"sessions": sum(k.startswith("session:") for k in keys), "queued_sms": queued, "keys": len(keys)}, None


def _serve(app, state, data):
    """One request's reply; never raises. Params a pod cannot unpickle (an object of a
    class defined in the notebook), a bad endpoint, a handler bug: all become errors."""
    try:
        _, endpoint, params = wire.decode_request(data)
    except Exception as exc:
        return False, None, ("the pod could not read this request's parameters "
                             f"({type(exc).__name__}: {exc}); pass plain values: "
                             "str, int, float, bool, None, lists and dicts")
    try:
        control = _CONTROL.get(endpoint) if type(endpoint) is str else None
        if control is not None:
            return control(state, params)
        return app.handle(state, endpoint, params)
    except Exception as exc:  # pragma: no cover - App.handle never raises; a custom App might
        return False, None, f"the pod could not handle this request: {type(exc).__name__}: {exc}"


# Requests the lab sends for itself (the audit, the dashboard); not app endpoints. Like
# App.handle, each answers (ok, value, error) and checks its params: a pod never dies of one.
_CONTROL = {"__peek__": _peek, "__stats__": _stats}


def pod_main(conn, lifeline, app_blob, config, close_fds=()):
    global _this_pod
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C/interrupt is for the lab
    flags = {"stopping": False, "handling": False}  # plain dict: read on every request

    def on_sigterm(signum, frame):  # graceful stop: finish the current request, then exit
        flags["stopping"] = True
        if not flags["handling"]:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    threading.Thread(target=_watch_lab, args=(lifeline, config["lab_pid"]), daemon=True).start()

    from .state import make_state

    app = wire.load_app(app_blob)
    name = config["name"]
    seed = f"{config.get('seed', 0)}:{name}:{config.get('restarts', 0)}"
    _this_pod = PodContext(name, os.getpid(), config.get("restarts", 0), config, random.Random(seed))
    state = _this_pod.state = make_state(config["state"], config.get("redis_url"))
    for hook in getattr(app, "on_start", ()):  # e.g. open accounts, start a worker thread
        hook(state)
    channel = wire.Channel(conn)
    channel.send(wire.encode_reply(wire.READY, True, os.getpid(), None, 0.0))

    perf = time.perf_counter
    try:
        while not flags["stopping"]:
            try:
                batch = channel.receive()  # every request waiting, in order
            except (EOFError, OSError):
                break  # the lab closed our pipe: it is gone or done with us
            replies, flush_at = [], perf() + _COALESCE
            for data in batch:
                try:
                    rid = wire.request_rid(data)
                except Exception:  # pragma: no cover - the lab always frames a rid
                    continue
                flags["handling"] = True
                t0 = perf()
                ok, value, error = _serve(app, state, data)
                if type(error) is str and len(error) > defaults.ERROR_LIMIT:
                    error = error[:defaults.ERROR_LIMIT - 1] + "…"
                t1 = perf()
                replies.append(wire.encode_reply(rid, ok, value, error, t1 - t0))
                flags["handling"] = False
                # Fast replies leave together in one write; a slow handler's reply
                # leaves at once, so coalescing never delays an answer by more than 1 ms.
                if t1 >= flush_at:
                    channel.send_many(replies)
                    replies, flush_at = [], perf() + _COALESCE
            if replies:
                channel.send_many(replies)
    except (BrokenPipeError, OSError):
        pass
    sys.stdout.flush()
    os._exit(0)
