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
* **remove**: ``lab.remove(name, how=...)``: abrupt (SIGKILL), graceful (a drain), or
  Kubernetes' order (SIGTERM while balancers still route to it), in ``termination.py``.

This module is the lab's half: ``Pod`` is the lab's handle on a pod (in the notebook's
process). What runs inside the pod's process is in ``pod_loop``; the process that cleans up
after a killed lab is in ``guardian``.
"""

import contextlib
import enum
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field

import multiprocess
from multiprocess import spawn
from multiprocess.connection import Connection

from .. import defaults
from . import wire
from .busy import BusyCounter, new_counter
from .names import pod_number
from .pod_loop import pod_main


class PodStatus(enum.StrEnum):
    """Where a pod is in its life (see **status** above). A ``str``: it compares, prints,
    formats and shows in a ``repr`` as the bare word (``status='ready'``), as it always has."""

    STARTING = "starting"
    READY = "ready"  # idle, in rotation
    BUSY = "busy"  # requests in flight, in rotation
    STOPPING = "stopping"  # draining: out of rotation, finishing its work
    DEAD = "dead"
    PAUSED = "paused"  # SIGSTOPped by lab.pause (shown by lab.snapshot; the loop still counts it routable)

    def __repr__(self):
        return repr(self.value)


SERVING = (PodStatus.READY, PodStatus.BUSY)  # the statuses of a pod in rotation


@dataclass(frozen=True)
class PodInfo:
    """A snapshot of one pod, as ``lab.pods`` lists it."""

    name: str
    pid: int | None
    status: PodStatus
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


def context(method: str | None = None, preload=()):
    """The multiprocess context pods are started with (forkserver by default on POSIX).
    ``preload``: the app's own modules, imported once by the fork server."""
    method = method or defaults.START_METHOD
    if method not in multiprocess.get_all_start_methods():
        raise ValueError(
            f"start method {method!r} is not available here; "
            f"use one of {multiprocess.get_all_start_methods()}"
        )
    ctx = multiprocess.get_context(method)
    if method == "forkserver":
        # Preload the pod's code in the fork server, so each pod starts in milliseconds
        # (and never re-runs a script's __main__, the default preload). forkserver_cleanup
        # removes the lab process's pymp-* dir if that process is killed.
        ctx.set_forkserver_preload(
            ["finpay_lab.runtime.forkserver_cleanup", "finpay_lab.runtime.pods", *preload]
        )
    return ctx


@dataclass
class Pod:
    """The lab's handle on one pod process."""

    name: str
    process: object
    conn: Connection
    restarts: int = 0
    status: PodStatus = PodStatus.STARTING
    pid: int | None = None
    served: int = 0
    started: float = field(default_factory=time.monotonic)
    in_flight: dict = field(default_factory=dict)  # rid -> pending request
    exitcode: int | None = None
    index: int = 0  # the number in the name, for ordering: pod-10 comes after pod-9
    busy: BusyCounter = field(default_factory=lambda: BusyCounter(None))  # its busy seconds (busy.py)
    terminating: bool = False  # being removed (termination.py): its exit is a stop, never restarted
    lingering: bool = (
        False  # still in the balancer's endpoints though it may have exited (Kubernetes' propagation delay)
    )

    def __post_init__(self):
        self.index = pod_number(self.name) or 0
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
        return self.status in SERVING

    @property
    def alive(self):
        return self.status != PodStatus.DEAD

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
    spawn, to find the target function. Our targets live in this package (``pod_loop``,
    ``guardian``) and the app travels by value (dill), so the child does not need
    ``__main__``; re-running a script there would start a second lab inside each pod.
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


def start_pod(ctx, name, app_blob, config, lifeline, restarts=0, started=None, make_state=None) -> Pod:
    """Start a pod process; it says 'ready' on its pipe once it can serve. ``make_state``
    (from ``store_kinds``) is how it opens its ``State``."""
    parent_end, child_end = ctx.Pipe(duplex=True)
    # With plain fork a child inherits every fd of the lab, including the lab's end of
    # the lifeline and of other pods' pipes; it must close them or no EOF ever arrives.
    close_fds = []
    if ctx.get_start_method() == "fork":
        close_fds = list(config.get("_lab_fds", ())) + [parent_end.fileno()]
    busy = new_counter(ctx)  # the pod's busy seconds, which the lab reads without asking (busy.py)
    process = ctx.Process(
        target=pod_main,
        args=(
            child_end,
            lifeline,
            app_blob,
            dict(config, name=name, restarts=restarts, _busy=busy),
            close_fds,
            make_state,
        ),
        name=f"finpay_lab {name}",
        daemon=True,
    )
    _start(process, started)
    child_end.close()  # the lab keeps only its end, or EOF never comes when the pod dies
    return Pod(
        name=name,
        process=process,
        conn=parent_end,
        restarts=restarts,
        pid=process.pid,
        busy=BusyCounter(busy),
    )


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


def spin_until_readable(pod, budget=defaults.CALL_SPIN):
    """Poll without sleeping for a few tens of µs before blocking: a fast pod answers in
    that window, and the lab skips the ~15 µs it takes the OS to wake a sleeping process.
    Only ``Loop.wait`` spins, for an app request (a caller is waiting anyway); ``run`` never does."""
    end = time.perf_counter() + budget
    while time.perf_counter() < end:
        if pod.readable():
            return
