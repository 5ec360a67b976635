"""Inside a pod: the loop a pod process runs, from "ready" to its exit.

``pod_main`` loads the app (shipped once, see ``wire``), opens the pod's ``State``, says
"ready" on its pipe, and then serves: it reads every request waiting, hands each to
``App.handle`` (which never raises), and writes the replies back, fast ones together in
one write. ``this_pod()`` tells a handler which pod it runs on. A pod never dies of a
request: only of a signal (SIGKILL, or SIGTERM), or when the lab is gone (its lifeline pipe
closes).

SIGTERM is handled as a real server handles it: the pod stops accepting (every request it
reads from then on is answered "shutting down", ``Cause.SHUTTING_DOWN``: nothing ran, like
a refused connection), finishes the requests it had already read (its in-flight work), and
exits normally. The signal wakes the pod even when it is idle (``signal.set_wakeup_fd``).
"""

import os
import random
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass

from multiprocess.connection import Connection

from .. import defaults
from . import points, store_kinds, wire
from .busy import BusyCounter
from .history import Cause
from .readiness import wait_until_ready


@dataclass
class PodContext:
    """What a handler can learn about the pod it runs on: ``fl.this_pod()``."""

    name: str
    pid: int
    restarts: int
    config: dict
    random: random.Random
    state: object = None
    db: object = None  # the pod's one connection to the lab's database (db=...), or None
    endpoint: str | None = None  # the endpoint whose request runs now (crash points read it)
    settings: dict | None = None  # the app's settings (App.settings), read by its handlers


_this_pod: PodContext | None = None


def this_pod() -> PodContext:
    """The pod the current handler runs on (its name, pid, seeded random, lab config)."""
    if _this_pod is None:
        raise RuntimeError("this_pod() only works inside a pod, in a handler")
    return _this_pod


def install(context: PodContext):
    """Make ``context`` the pod that ``this_pod()`` answers for in this process: the pod
    loop does it at start, and so does serve.py (one pod over HTTP)."""
    global _this_pod
    _this_pod = context


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


def _peek(state, params, app=None):
    """What this pod holds: {key: value} for keys starting with ``prefix`` (memory only)."""
    prefix = params.get("prefix", "") if isinstance(params, dict) else None
    if not isinstance(prefix, str):
        return False, None, "__peek__ takes {'prefix': a string}"
    if state.kind != "memory":
        return True, {}, None
    return True, {key: state.get(key) for key in state.keys(prefix)}, None


def _stats(state, params, app=None):
    """Counts of what this pod holds in its own memory, computed here so only a few numbers
    cross the pipe: what the app reports (``App.pod_stats``, FinPay's sessions and queued
    SMS; asked with None when the state lives elsewhere), then how many ``keys``."""
    own = state if state.kind == "memory" else None
    hook = getattr(app, "pod_stats", None)
    report = dict(hook(own)) if hook is not None else {}
    report["keys"] = len(own.keys()) if own is not None else 0
    return True, report, None


def _serve(app, state, data):
    """One request's reply, ``(ok, value, error, cause)``; never raises. Params a pod
    cannot unpickle (an object of a class defined in the notebook), a bad endpoint, a
    handler bug: all become errors, each with its ``Cause``."""
    try:
        _, endpoint, params = wire.decode_request(data)
    except Exception as exc:
        return (
            False,
            None,
            (
                "the pod could not read this request's parameters "
                f"({type(exc).__name__}: {exc}); pass plain values: "
                "str, int, float, bool, None, lists and dicts"
            ),
            Cause.BAD_REQUEST,
        )
    try:
        control = _CONTROL.get(endpoint) if type(endpoint) is str else None
        if control is not None:
            ok, value, error = control(state, params, app)
            return ok, value, error, None if ok else Cause.BAD_REQUEST
        if _this_pod is not None:
            _this_pod.endpoint = endpoint
        return app.serve(state, endpoint, params)
    except Exception as exc:  # pragma: no cover - App.serve never raises; a custom App might
        return (
            False,
            None,
            f"the pod could not handle this request: {type(exc).__name__}: {exc}",
            Cause.APP_ERROR,
        )


def _points(state, params, app=None):
    """Arm this pod's points (``points.py``) as the lab now wants them."""
    arms = params.get("arms") if isinstance(params, dict) else None
    if not isinstance(arms, list):
        return False, None, "__points__ takes {'arms': a list}"
    return True, points.arm(arms), None


# Requests the lab sends for itself (the audit, the dashboard); not app endpoints. Like
# App.handle, each answers (ok, value, error) and checks its params: a pod never dies of one.
# Each is given the pod's state, the request's params and the pod's app.
_CONTROL = {"__peek__": _peek, "__stats__": _stats, "__points__": _points}


def pod_main(conn, lifeline, app_blob, config, close_fds=(), make_state=None):
    """A pod's life: get ready, serve until stopped (or the lab is gone), exit."""
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C/interrupt is for the lab
    flags = {"stopping": False}  # plain dict: read on every batch

    def on_sigterm(signum, frame):  # graceful stop: accept nothing more, finish, exit
        flags["stopping"] = True

    signal.signal(signal.SIGTERM, on_sigterm)
    wake, woken = os.pipe()  # the signal writes a byte here: an idle pod's poll wakes up
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(woken, warn_on_full_buffer=False)
    threading.Thread(target=_watch_lab, args=(lifeline, config["lab_pid"]), daemon=True).start()
    busy = BusyCounter(config.pop("_busy", None))  # shared with the lab (busy.py)
    app, state = _get_ready(app_blob, config, make_state)
    channel = wire.Channel(conn)
    channel.send(wire.encode_reply(wire.READY, True, os.getpid(), None, 0.0))
    try:
        _serve_forever(app, state, channel, flags, busy, wake)
        _refuse_waiting(channel, config["name"])  # SIGTERM: what came after it is refused
    except (BrokenPipeError, OSError):
        pass
    sys.stdout.flush()
    os._exit(0)


def _get_ready(app_blob, config, make_state):
    """Load the app, open the pod's ``State`` (``make_state``, shipped by the lab), run the
    app's startup hooks; returns ``(app, state)``."""
    global _this_pod
    app = wire.load_app(app_blob)
    name = config["name"]
    seed = f"{config.get('seed', 0)}:{name}:{config.get('restarts', 0)}"
    _this_pod = PodContext(
        name,
        os.getpid(),
        config.get("restarts", 0),
        config,
        random.Random(seed),
        settings=dict(getattr(app, "settings", None) or {}),
    )
    state = _this_pod.state = make_state(config["state"], config.get("redis_url"))
    if config.get("db_url"):  # one connection per pod, for every request's transaction
        _this_pod.db = store_kinds.connect_database(config["db_url"])
    points.arm(config.get("points"), _this_pod)
    for hook in app.on_start:  # e.g. open accounts, start a worker thread
        hook(state)
    wait_until_ready(app, state)  # the app's startup delay and readiness check
    return app, state


def _serve_forever(app, state, channel, flags, busy, wake):
    """Read every request waiting, answer each in order, until SIGTERM or the pipe closes.
    A batch read before SIGTERM is in flight: it is finished whole."""
    perf = time.perf_counter
    poller = select.poll()
    poller.register(channel.fd, select.POLLIN)
    poller.register(wake, select.POLLIN)
    while not flags["stopping"]:
        poller.poll()  # a request, or a signal
        if flags["stopping"]:
            break
        try:
            batch = channel.receive()  # every request waiting, in order
        except (EOFError, OSError):
            break  # the lab closed our pipe: it is gone or done with us
        replies, flush_at = [], perf() + defaults.REPLY_COALESCE
        for data in batch:
            try:
                rid = wire.request_rid(data)
            except Exception:  # pragma: no cover - the lab always frames a rid
                continue
            busy.begin(time.monotonic())
            t0 = perf()
            ok, value, error, cause = _serve(app, state, data)
            busy.end(time.monotonic())
            if type(error) is str and len(error) > defaults.ERROR_LIMIT:
                error = error[: defaults.ERROR_LIMIT - 1] + "…"
            t1 = perf()
            replies.append(wire.encode_reply(rid, ok, value, error, t1 - t0, cause and cause.value))
            # Fast replies leave together in one write; a slow handler's reply
            # leaves at once, so coalescing never delays an answer by more than 1 ms.
            if t1 >= flush_at:
                channel.send_many(replies)
                replies, flush_at = [], perf() + defaults.REPLY_COALESCE
        if replies:
            channel.send_many(replies)


def _refuse_waiting(channel, name):
    """After SIGTERM: answer every request already waiting "shutting down" (nothing ran),
    then return; the pod exits. What the lab sends later finds the pod gone, and the lab
    fails it the same way (``Loop.on_exit``)."""
    error = f"{name} is shutting down (SIGTERM): it accepts no new requests"
    while True:
        os.set_blocking(channel.fd, False)  # read only what is waiting now
        try:
            batch = channel.receive()
        except EOFError:
            return
        finally:
            os.set_blocking(channel.fd, True)
        if not batch:
            return
        channel.send_many(
            [
                wire.encode_reply(wire.request_rid(data), False, None, error, 0.0, Cause.SHUTTING_DOWN.value)
                for data in batch
            ]
        )
