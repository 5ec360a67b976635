"""``Lab``: the composition root. It owns its event loop (and through it the pods), the
balancer, the Redis and the history.

    with fl.Lab(pods=3, state="redis") as lab:
        lab.call("login", user="Ravi")
        lab.kill("pod-3")
        lab.scale(30)
        run = lab.run(workload)

Everything the learner does goes through the lab, on the notebook's thread. The lab
drives all I/O itself (no background threads), through its ``Loop`` (``loop.py``): a call
sends one request and waits for its reply; a run keeps several requests in flight on every
pod and reads replies as they come.
A lock lets the live dashboard's thread take turns with the notebook.

Nothing outlives the lab: ``close()`` (or leaving the ``with`` block, or the interpreter
exiting, or SIGTERM/SIGHUP to the lab's process, as a Jupyter kernel's shutdown or restart
sends) kills every pod and the Redis helper and removes the lab's work dir. A lab that is
garbage-collected (a re-run cell) takes its pods and Redis with it. If the lab's process
is itself killed, the pods see their lifeline pipe close and exit within a fraction of a
second, and the lab's guardian process kills any pod too frozen (SIGSTOP) to notice.
"""

import atexit
import dataclasses
import itertools
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import weakref

import multiprocess.util

from .. import defaults
from ..errors import BadInput, LabError, PodStartError
from ..services.notifications import Gateway
from ..stores.redis_server import RedisServer
from . import wire
from .app import App, default_app
from .arguments import (
    check_chaos,
    check_depth,
    check_endpoint,
    check_seed,
    check_start_method,
    check_timeout,
    check_wait,
    check_workload,
    item_problem,
)
from .balancer import make_balancer
from .guardian import BYE, GONE, start_guardian
from .history import History, Run
from .loop import Loop
from .pods import context, exit_cause, gone

STATE_KINDS = ("memory", "redis")
MAX_PODS = 64  # a 2-core laptop runs 64 idle pods (~3 MB each); more teaches nothing new


class Lab:
    """A small cluster on your machine: pods (processes), a balancer, and maybe a Redis."""

    def __init__(self, pods=3, state="memory", balancer="round_robin", app=None, redis="fake",
                 restart=False, accounts=None, seed=defaults.SEED, start_method=None,
                 sms_seconds=defaults.SMS_SECONDS):
        # Check every argument before starting anything: bad input changes nothing.
        _check_count(pods, "pods")
        if state not in STATE_KINDS:
            raise BadInput(f"state={state!r}: use 'memory' (each pod's own) or 'redis' (shared)")
        if app is not None and not isinstance(app, App):
            raise BadInput(f"app must be an fl.App (or None for the FinPay app), not {type(app).__name__}")
        if not isinstance(restart, bool):
            raise BadInput(f"restart must be True or False, not {restart!r}")
        if isinstance(sms_seconds, bool) or not isinstance(sms_seconds, int | float) or not 0 <= sms_seconds <= 60:
            raise BadInput(f"sms_seconds must be between 0 and 60, not {sms_seconds!r}")
        check_start_method(start_method)
        check_seed(seed)
        self._redis = RedisServer(redis)  # validates the spec; starts nothing yet
        if app is None:
            app = default_app()
        self.app = app
        self.state = state
        self.seed = seed
        self.balancer = make_balancer(balancer, seed=seed)
        self.accounts = _check_accounts(accounts) or dict(app.default_accounts)
        self.sms_seconds = sms_seconds
        self._ctx = context(start_method)
        self.start_method = self._ctx.get_start_method()
        self.history = History()
        self._t0 = time.perf_counter()
        self._lock = threading.RLock()
        self._names = itertools.count(1)
        self._paused = {}  # name -> pid of the process lab.pause stopped (until lab.resume)
        self._app_blob = wire.ship_app(app)
        self._lifeline, self._lifeline_keep = self._ctx.Pipe(duplex=False)
        # Garbage-collected without close(): tell the guardian, which kills the pods.
        self._farewell = weakref.finalize(self, _say, self._lifeline_keep, GONE, os.getpid())
        self._guardian = None
        self._workdir = tempfile.mkdtemp(prefix="finpay-lab-")  # the SMS gateway's log
        # The event loop: the pods, their pipes, every request in flight. Its `closing`
        # refuses calls; its `closed` says everything has stopped.
        self._loop = Loop(self.history, self._ctx, self._app_blob, self._lifeline, self._workdir, restart, self._t0)
        self.gateway = Gateway(os.path.join(self._workdir, "sms-gateway.jsonl"))
        self._pid = os.getpid()  # the process this lab belongs to (see _own_labs)
        _LABS.add(self)
        _close_labs_on_exit_signals()
        try:
            if state == "redis":
                self._redis.start(self._workdir)
                self._loop.event(None, "redis", f"{self._redis.kind} Redis at {self._redis.safe_url}",
                                 pid=self._redis.pid)
            self._loop.config = {
                "state": state,
                "redis_url": self._redis.url if state == "redis" else None,
                "lab_pid": os.getpid(),
                "seed": seed,
                "accounts": self.accounts,
                "secret": secrets.token_hex(16),  # signs login tokens; shared by every pod
                "gateway": self.gateway.path,
                "sms_seconds": sms_seconds,
                "_lab_fds": [self._lifeline_keep.fileno()],
            }
            for hook in app.on_lab_start:
                hook(self)
            self._guardian = self._loop.guardian = start_guardian(
                self._ctx, self._lifeline, self._workdir,
                self._loop.config["_lab_fds"] if self.start_method == "fork" else (), started=self._loop.started)
            self._start_pods(pods)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ looking
    @property
    def pods(self):
        """A snapshot of every pod: name, pid, status, requests served, restarts."""
        with self._lock:
            self._loop.reconcile()
            return [p.info() for p in self._pods.values()]

    @property
    def redis_url(self):
        """Where the shared Redis listens (state='redis'), e.g. for redis-py or redis-cli."""
        return self._redis.url if self.state == "redis" else None

    def now(self):
        """Seconds since the lab started: the clock of history, runs and plots."""
        return self._loop.now()

    @property
    def redis(self):
        """The lab's Redis server: ``kind``, ``url``, ``pid``; and, for chaos, ``down()``,
        ``up()`` and ``slow(seconds)``."""
        return self._redis

    def snapshot(self, timeout=None):
        """One consistent look at the lab, for a view (the live dashboard): ``(pods, held,
        state)``, read under the lab's lock; ``None`` if the lab stayed busy for
        ``timeout`` seconds (a long ``lab.run`` holds it). ``pods`` is ``lab.pods`` with a
        paused pod's status shown as ``'paused'``; ``held`` is the ``pod_stats`` of every
        pod serving (a paused pod is not asked: a stopped process cannot answer)."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return None
        try:
            pods = [dataclasses.replace(p, status="paused")
                    if self._paused.get(p.name) == p.pid and p.status != "dead" else p for p in self.pods]
            held = {p.name: self.pod_stats(p.name) for p in pods if p.status in ("ready", "busy")}
            return pods, held, self.state
        finally:
            self._lock.release()

    def record_event(self, pod, kind, detail="", pid=None, end=None):
        """Record something that happened (to pod ``pod``, or to the system: ``None``) in
        ``lab.history.events``, at the lab's time now: how chaos marks its faults."""
        self._loop.event(pod, kind, detail, pid, end)

    @property
    def restart(self):
        """True: a crashed pod is restarted in place, with backoff (``restart=`` of the lab)."""
        return self._loop.restart

    @property
    def _pods(self):  # name -> Pod, as the loop keeps them
        return self._loop.pods

    @property
    def _config(self):  # what every pod is told (state, Redis URL, seed, secret...)
        return self._loop.config

    def __repr__(self):
        live = sum(p.alive for p in self._pods.values())
        status = "closed" if self._loop.closed else "closing" if self._loop.closing else f"{live} pods"
        return (f"<Lab: {status}, state={self.state!r}, balancer={self.balancer.name!r}, "
                f"{len(self.history)} requests>")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ requests
    def call(self, endpoint, pod=None, timeout=None, **params):
        """Send one request and wait for its reply: a ``Response``.

        ``pod="pod-2"`` sends it to that pod, bypassing the balancer. Params are plain
        values (str, int, float, bool, None, lists, dicts); a pod refuses what it cannot
        read. Interrupted (Ctrl-C), the request is given up: its reply is dropped.
        """
        check_endpoint(endpoint)
        timeout = defaults.CALL_TIMEOUT if timeout is None else check_timeout(timeout)
        with self._lock:
            self._check_open()
            self._loop.reconcile()
            if pod is not None:
                target = self._loop.named(pod)
                if target.status == "starting":
                    self._loop.wait_for(lambda: target.status != "starting", defaults.POD_START_TIMEOUT)
                if not target.alive:
                    return self._loop.fail(endpoint, params, f"{pod} is not running ({exit_cause(target.exitcode)})", pod)
            else:
                target = self.balancer.choose(self._loop.routable(), endpoint, params)
                if target is None:
                    return self._loop.fail(endpoint, params, f"no pod is ready to serve {endpoint}")
            rid = self._loop.send(target, endpoint, params, awaited=True)
            return self._loop.wait(rid, timeout)

    def run(self, workload, chaos=(), depth=None):
        """Send many requests, every pod kept busy; returns a ``Run``.

        ``workload`` yields ``(endpoint, params)`` (sent as fast as pods take them, up to
        ``depth`` in flight per pod) or ``(at, endpoint, params)`` (sent at lab-relative
        second ``at`` after the run starts: an open-loop load, as real users don't wait;
        ``at`` at most MAX_RUN_AT seconds, the longest load shape). A list is checked whole
        before anything is sent (a generator's items as they are drawn). Interrupted (Ctrl-C), the run gives up its
        requests still in flight: no pod stays busy.
        """
        depth = defaults.PIPELINE_DEPTH if depth is None else depth
        chaos = () if chaos is None else chaos
        check_depth(depth)
        check_chaos(chaos)
        with self._lock, self.history.held():  # the history never drops a run's own requests
            self._check_open()
            for fault in chaos:  # refuse an impossible fault before anything is sent
                fault.check(self)
            shape = workload if hasattr(workload, "plan") else None
            checked = True  # a shape's own plan needs no checking
            if shape is None:
                workload, checked = check_workload(workload)
            setup_from = first_request = self.history.total
            first_event = len(self.history.events)
            if shape is not None:  # a load shape: log customers in, then its timed plan
                workload = list(shape.plan(self))
                workload = _progress(workload, shape)
                first_request = self.history.total  # the logins are setup, not load
            try:
                return self._run(workload, checked, chaos, depth, setup_from, first_request, first_event)
            except BaseException as exc:  # Ctrl-C: give up what is in flight, leave no pod busy
                why = f"the run was interrupted ({type(exc).__name__}) before the pod answered"
                for pod in self._pods.values():
                    self._loop.abandon(pod, list(pod.in_flight), why)
                raise

    def _run(self, workload, checked, chaos, depth, setup_from, first_request, first_event):
        started = self.now()
        faults = [f.bind(self, started) for f in chaos]
        try:
            return self._send_all(workload, checked, faults, depth, started, setup_from, first_request, first_event)
        except BaseException:
            for fault in faults:  # a paused pod is resumed, even when the run is interrupted
                fault.finish(self.now())
            raise

    def _send_all(self, workload, checked, faults, depth, started, setup_from, first_request, first_event):
        late = 0
        for sent, item in enumerate(workload):
            if not checked and item_problem(sent, item):
                self._settle(faults)  # what was sent is answered; then the run stops
                raise BadInput(f"{item_problem(sent, item)} (the {sent} items before it were sent)")
            endpoint, params, at = _unpack(item)
            if at is not None:
                depth = defaults.OPEN_LOOP_MAX_IN_FLIGHT
                while self.now() < started + at:
                    self._tick(faults, sent)
                    self._loop.pump(min(0.05, max(0.0, started + at - self.now())))
                if self.now() - (started + at) > 0.05:
                    late += 1
            self._tick(faults, sent)
            # The balancer picks; if its pick is full, the request waits for that pod
            # (a real round robin does not notice a slow pod: that is least_busy's job).
            target = self.balancer.choose(self._loop.routable(), endpoint, params)
            while target is not None and len(target.in_flight) >= depth:
                self._loop.pump(0.05)
                self._tick(faults, sent)
                self._loop.expire(target)  # a paused pod: its callers give up in time
                if not target.routable or self.balancer.load_aware:
                    target = self.balancer.choose(self._loop.routable(), endpoint, params)
            if target is None:
                self._loop.fail(endpoint, params, f"no pod is ready to serve {endpoint}")
            else:
                self._loop.send(target, endpoint, params)
        self._settle(faults)
        return Run(self, self.history.since(first_request), self.history.events[first_event:],
                   started, self.now(), late=late, setup=self.history.since(setup_from, first_request))

    def _tick(self, faults, sent):
        for fault in faults:
            fault.tick(self.now(), sent)

    def _settle(self, faults):
        """Wait for every in-flight request (a silent pod times out) and for every started
        fault with a duration to end; faults not yet started, and the monkey, end here."""
        deadline = time.monotonic() + defaults.CALL_TIMEOUT
        while any(p.in_flight for p in self._pods.values()) or any(f.holds_the_run for f in faults):
            if time.monotonic() > deadline:
                for pod in self._pods.values():
                    self._loop.expire(pod, timeout=0)
                break
            self._tick(faults, None)
            self._loop.pump(0.02)
        for fault in faults:
            fault.finish(self.now())

    # ------------------------------------------------------------------ pods
    def kill(self, name):
        """SIGKILL the pod, as a node failure would; returns once the lab has seen it die."""
        with self._lock:
            pod = self._running(name)
            pod.signal(signal.SIGKILL)
            self._loop.event(pod.name, "killed", "SIGKILL", pid=pod.pid)
            pod.process.join(defaults.GRACE_PERIOD)  # the sentinel fires within ~2 ms
            self._loop.on_exit(pod)
            return pod.info()

    def wait_ready(self, timeout=defaults.POD_START_TIMEOUT):
        """Wait until no pod is starting or waiting to restart (after a kill with
        ``restart=True``); returns ``lab.pods``. Raises PodStartError on timeout."""
        with self._lock:
            self._check_open()
            settled = self._loop.wait_for(
                lambda: not self._loop.restart_due and all(p.status != "starting" for p in self._pods.values()), timeout)
            if not settled:
                raise PodStartError(f"pods were still starting after {timeout:g} s")
            return self.pods

    def pause(self, name):
        """SIGSTOP the pod: alive, in rotation, but answering nothing until ``resume``."""
        with self._lock:
            pod = self._running(name)
            pod.signal(signal.SIGSTOP)
            self._paused[name] = pod.pid
            self._loop.event(name, "paused", "SIGSTOP", pid=pod.pid)

    def resume(self, name):
        """SIGCONT a paused pod: it answers everything that waited for it."""
        with self._lock:
            pod = self._loop.named(name)
            if pod.alive:
                pod.signal(signal.SIGCONT)
                self._paused.pop(name, None)
                self._loop.event(name, "resumed", "SIGCONT", pid=pod.pid)

    def balances(self):
        """Every customer's balance as each live pod sees it: ``{user: {pod: ₹}}``.

        Memory: each pod answers from its own books, so they can disagree. Redis: every
        pod reads the same key, so they agree."""
        from ..services.audit import read_books

        with self._lock:
            self._check_open()
            stores = read_books(self)
            if self.state == "redis":  # every live pod reads the one shared copy
                shared = stores["redis"]
                stores = {p.name: shared for p in self._pods.values() if p.routable}
            return {user: {pod: books["balances"][user] for pod, books in stores.items()
                           if user in books["balances"]} for user in self.accounts}

    def sms(self):
        """The SMS gateway's record: every message customers received (first delivery of
        each id), in delivery order."""
        return self.gateway.delivered()

    def audit(self, wait=defaults.AUDIT_WAIT, requests=None):
        """Count what was lost, created or disagreed on: an ``Audit`` (see services/audit.py)."""
        from ..services.audit import audit

        check_wait(wait)
        with self._lock:
            self._check_open()
            return audit(self, self.history.requests if requests is None else requests, wait)

    def scale(self, n):
        """Run exactly ``n`` pods. Up: returns when all are ready. Down: drains the
        newest pods (out of rotation, in-flight work finished, SIGTERM, then SIGKILL)."""
        _check_count(n, "scale(n)")
        with self._lock:
            self._check_open()
            for name in [name for name, p in self._pods.items() if not p.alive]:
                del self._pods[name]  # like a ReplicaSet, scale replaces dead pods
            self._loop.restart_due.clear()
            live = [p for p in self._pods.values() if p.status != "stopping"]
            before = len(live)
            if n > before:
                self._start_pods(n - before)
            elif n < before:
                self._drain(live[n:])
            self._loop.event(None, "scaled", f"{before} → {n} pods")
            return self.pods

    def _start_pods(self, count):
        new = [self._loop.spawn(f"pod-{next(self._names)}") for _ in range(count)]
        if not self._loop.wait_for(lambda: all(p.status != "starting" for p in new), defaults.POD_START_TIMEOUT):
            slow = [p.name for p in new if p.status == "starting"]
            raise PodStartError(f"{', '.join(slow)} did not become ready in {defaults.POD_START_TIMEOUT:g} s")
        dead = [p for p in new if not p.alive]
        if dead:
            raise PodStartError(f"{dead[0].name} died while starting ({exit_cause(dead[0].exitcode)})")

    def _drain(self, victims):
        for pod in victims:
            pod.status = "stopping"  # out of rotation at once
            self._loop.event(pod.name, "stopping", "scale down: finishing in-flight requests", pid=pod.pid)
        self._loop.wait_for(lambda: not any(p.in_flight for p in victims), defaults.GRACE_PERIOD)
        for pod in victims:
            if pod.alive:
                pod.signal(signal.SIGTERM)
        if not self._loop.wait_for(lambda: not any(p.alive for p in victims), defaults.GRACE_PERIOD):
            for pod in victims:
                if pod.alive:
                    pod.signal(signal.SIGKILL)
                    pod.process.join(defaults.GRACE_PERIOD)
                    self._loop.on_exit(pod)
        for pod in victims:
            self._pods.pop(pod.name, None)

    def peek(self, name, prefix=""):
        """What pod ``name`` holds in its own memory: {key: value} for keys starting with
        ``prefix`` (``{}`` with state='redis': the pod itself holds nothing; ``{}`` for a
        dead pod too: its memory died with it)."""
        if not isinstance(prefix, str):
            raise BadInput(f"prefix must be a string like 'balance:' (or '' for every key), not {prefix!r:.40}")
        with self._lock:
            self._check_open()
            pod = self._loop.named(name)
            if not pod.routable:
                return {}
            return self._control(pod, "__peek__", {"prefix": prefix})

    def pod_stats(self, name, timeout=2.0):
        """What pod ``name`` keeps in its own memory, counted inside the pod: sessions and
        queued SMS (all 0 with state='redis', where pods keep nothing). A pod that does
        not answer within ``timeout`` (paused), or is not serving yet, gives ``{}``.

        A dead pod holds nothing any more; its stats say so: ``{'sessions': 0,
        'queued_sms': 0, 'keys': 0, 'status': 'dead', 'cause': 'SIGKILL'}``."""
        timeout = check_timeout(timeout)
        with self._lock:
            self._check_open()
            pod = self._loop.named(name)
            if not pod.alive:
                return {"sessions": 0, "queued_sms": 0, "keys": 0, "status": "dead", "cause": exit_cause(pod.exitcode)}
            if not pod.routable:
                return {}
            return self._control(pod, "__stats__", {}, timeout=timeout)

    def switch_state(self, state):
        """Rebuild every pod with the other kind of state ('memory' or 'redis').

        Like redeploying a service with a new configuration: every pod is replaced by a
        fresh process, so whatever the old pods held in memory is gone.
        """
        if state not in STATE_KINDS:
            raise BadInput(f"state={state!r}: use 'memory' (each pod's own) or 'redis' (shared)")
        with self._lock:
            self._check_open()
            if state == self.state:
                return self.pods
            n = sum(p.alive and p.status != "stopping" for p in self._pods.values())
            self._drain([p for p in self._pods.values() if p.alive])
            self._pods.clear()
            self._loop.restart_due.clear()
            if state == "redis" and not self._redis.running:
                self._redis.start(self._workdir)
                self._loop.event(None, "redis", f"{self._redis.kind} Redis at {self._redis.safe_url}", pid=self._redis.pid)
            self.state = state
            self._loop.config = dict(self._loop.config, state=state,
                                     redis_url=self._redis.url if state == "redis" else None)
            for hook in self.app.on_lab_start:
                hook(self)
            self._loop.event(None, "switched", f"state is now {state!r}: every pod restarted")
            self._start_pods(n)
            return self.pods

    @property
    def closed(self):
        return self._loop.closed

    # ------------------------------------------------------------------ plumbing
    def _control(self, pod, endpoint, params, timeout=defaults.CALL_TIMEOUT):
        """A request the lab makes for itself: not routed, not recorded, not 'served'.
        Its answer is the pod's value; ``None`` if the pod died, ``{}`` if it was silent."""
        rid = self._loop.send(pod, endpoint, params, internal=True, awaited=True)
        return self._loop.wait(rid, timeout)

    def _running(self, name):
        """The live pod called ``name``; a clear error if there is none."""
        self._check_open()
        pod = self._loop.named(name)
        if not pod.alive:
            raise BadInput(f"{name} is already dead ({exit_cause(pod.exitcode)}): it is not running")
        return pod

    def _check_open(self):
        if self._loop.closed:
            raise LabError("this lab is closed; start a new one with fl.Lab(...)")
        if self._loop.closing:
            raise LabError("this lab's close() was interrupted: call lab.close() again to finish it")

    # ------------------------------------------------------------------ the end
    def close(self):
        """Stop every pod, the guardian and the Redis helper; remove the lab's work dir.

        Safe to call twice, and an interrupted close (Ctrl-C) is finished by the next one:
        ``closed`` becomes True only once everything has stopped. From the moment close
        begins, the lab refuses calls."""
        with self._lock:
            self._close(BYE)

    def _close(self, word):
        """``word`` is the lab's last word to its guardian: BYE, or None when the lab's
        process is about to die of a signal (the guardian then also removes
        multiprocess's temp dir, which only a normal interpreter exit removes)."""
        if self._loop.closed:
            return
        self._loop.closing = True
        self._loop.restart_due.clear()
        # Every process started and not yet reaped, pods half-started by an interrupted
        # scale included: thaw (a paused pod must be able to die) and kill.
        pods = [p for p in self._loop.started if p is not self._guardian]
        for process in pods:
            _thaw_and_kill(process)
        for process in pods:
            if process.pid is not None:
                process.join(defaults.GRACE_PERIOD)
        for pod in list(self._pods.values()):
            self._loop.on_exit(pod)
        self._loop.started.difference_update(p for p in pods if p.pid is None or gone(p.pid))
        self._farewell.detach()
        _say(self._lifeline_keep, word)  # the guardian exits (BYE) or cleans up (None)
        self._lifeline.close()
        if self._guardian is not None and word is not None:
            self._guardian.join(defaults.GRACE_PERIOD)
        if word is not None:
            for process in [p for p in self._loop.started if p.pid is not None and not gone(p.pid)]:
                _thaw_and_kill(process)  # a guardian that did not exit in time
                process.join(defaults.GRACE_PERIOD)
        self._loop.started = {p for p in self._loop.started if p.pid is not None and not gone(p.pid)}
        self._redis.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)
        _LABS.discard(self)
        self._loop.closed = True


def _thaw_and_kill(process):
    # By pid, whatever multiprocess says: with its fork server gone, it reports every pod
    # as exited. The pid is still this pod's: the lab has not yet seen it go.
    if process.pid is not None:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                break


def _say(conn, word, owner=None):
    """Send the lab's last word on the lifeline (unless None), then close it. The word is
    sent before the close, so an interrupt between them can never look like silence.
    ``owner``: only that process speaks (a forked child exiting must not say GONE)."""
    if conn.closed or (owner is not None and os.getpid() != owner):
        return
    if word:
        try:
            conn.send_bytes(word)
        except OSError:
            pass
    conn.close()


def _progress(items, shape):
    """A progress bar for runs long enough to wonder about (tqdm.auto: a widget in Jupyter)."""
    if shape.seconds < defaults.PROGRESS_AFTER or not items:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=shape.name, unit="req", leave=False, mininterval=0.5)



def _unpack(item):
    if len(item) == 3:
        at, endpoint, params = item
        return endpoint, params, at
    endpoint, params = item
    return endpoint, params, None


def _check_count(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_PODS:
        raise BadInput(f"{what} must be a whole number of pods from 0 to {MAX_PODS}, not {n!r}")


def _check_accounts(accounts):
    if accounts is None:
        return None
    if not isinstance(accounts, dict) or not accounts:
        raise BadInput("accounts must be a dict like {'Ravi': 20000, 'Landlord': 0}")
    for user, amount in accounts.items():
        if not isinstance(user, str) or not user or len(user) > 64:
            raise BadInput(f"account names must be non-empty strings, not {user!r}")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= defaults.MAX_OPENING_BALANCE:
            raise BadInput(f"{user}'s opening balance must be whole rupees from 0 to "
                           f"₹{defaults.MAX_OPENING_BALANCE:,}, not {amount!r}")
    if sum(accounts.values()) > defaults.MAX_TOTAL_BALANCE:
        raise BadInput(f"the opening balances add up to ₹{sum(accounts.values()):,}: keep the total within "
                       f"₹{defaults.MAX_TOTAL_BALANCE:,} (2**53 − 1), the most every store holds exactly")
    return dict(accounts)


_LABS = weakref.WeakSet()


def _own_labs():
    """The labs this process made. A child forked from it (a ``multiprocessing`` Pool
    with fork, say) inherits copies of them, which it must never close: that would kill
    its parent's pods and remove its parent's temp dirs."""
    return [lab for lab in list(_LABS) if lab._pid == os.getpid()]


@atexit.register
def _close_all():
    for lab in _own_labs():
        lab.close()


def _close_labs_on_exit_signals():
    """SIGTERM and SIGHUP end a process without running atexit: a Jupyter kernel's
    shutdown or restart SIGTERMs the kernel's whole process group, a closed terminal
    SIGHUPs it. Close every lab first, then die of the signal as before. Only where the
    signal is not handled already (SIG_DFL), and only the main thread may install it."""
    global _handler_pid
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_exit_signal)
            _handler_pid = os.getpid()


_handler_pid = None  # the process that installed _on_exit_signal (a fork inherits it)


def _on_exit_signal(signum, frame):
    if os.getpid() != _handler_pid:
        # A forked child that inherited this handler (a Pool worker being terminated):
        # nothing here is its own, so it just dies of the signal.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    for lab in _own_labs():
        # Not under the lab's lock: another thread may hold it, and this process is ending.
        try:
            lab._close(None)
        except BaseException:  # noqa: S110 - dying anyway; the guardian does the rest
            pass
    # multiprocess's temp dir (the fork server's socket) is removed by a normal exit only;
    # this process is about to die of the signal, and the labs that used it are closed.
    shutil.rmtree(multiprocess.util.get_temp_dir(), ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
