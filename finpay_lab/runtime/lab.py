"""``Lab``: the composition root. It owns its event loop (and through it the pods), the
balancer, the Redis and the history.

    with fl.Lab(pods=3, state="redis") as lab:
        lab.call("login", user="Ravi")
        lab.kill("pod-3")
        lab.scale(30)
        run = lab.run(workload)

Everything the learner does goes through the lab, on the notebook's thread. The lab
drives all I/O itself (no background threads), through its ``Loop`` (``loop.py``). A call
(read ``call`` below) asks the balancer for a pod (``balancer.py``), sends the request
down the pod's pipe (``Loop.send``, framed by ``wire.py``), where the pod's loop hands it
to the app's handler (``pod_loop.py``, ``App.serve`` in ``app.py``) and its ``State``; the
lab waits for the reply (``Loop.wait``) and returns it, a ``Response``. A run
(``runner.py``) keeps several requests in flight on every pod. What the lab runs changes
by a deploy (``deploys.py``): a scale starts or drains pods (``replicas.py``), a rollout
replaces them (``rollout.py``). A lock lets the live dashboard's thread take turns with
the notebook.
With ``autoscaler=fl.HPA(...)`` a run also scales the pods itself, a period at a time
(``autoscaling.py``; ``lab.autoscaler.decisions``); between runs nothing scales.

Nothing outlives the lab: ``close()`` (or leaving the ``with`` block, or the interpreter
exiting, or SIGTERM/SIGHUP to the lab's process, as a Jupyter kernel's shutdown or restart
sends) kills every pod, the Redis helper and the database and removes the work dir (``shutdown.py``). A lab that is garbage-collected (a re-run cell) takes its pods and Redis
with it; if the lab's process is killed, its pods exit by themselves (``guardian.py``).
"""

import itertools
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref

from .. import defaults
from ..errors import BadInput, LabError, PodStartError
from . import arguments, readiness, replicas, shutdown, store_kinds, wire
from .app import check_hooks, default_app
from .autoscaling import Autoscaling, check_autoscaler
from .balancer import make_balancer
from .deploys import LabDeploys
from .guardian import BYE, GONE, start_guardian
from .history import Cause, History
from .lab_db import LabDatabase, make_database
from .looks import LabLooks
from .loop import Loop
from .pods import PodStatus, context, exit_cause
from .points import Points
from .runner import Runner


class Lab(LabDeploys, LabDatabase, LabLooks):
    """A small cluster on your machine: pods (processes), a balancer, maybe a Redis and a
    database (``db=``, see ``lab_db.py``)."""

    def __init__(
        self,
        pods=3,
        state="memory",
        balancer="round_robin",
        app=None,
        redis="fake",
        restart=False,
        accounts=None,
        seed=defaults.SEED,
        start_method=None,
        sms_seconds=defaults.SMS_SECONDS,
        autoscaler=None,
        db=None,
        redis_persistence="none",
    ):
        # Check every argument before starting anything: bad input changes nothing.
        arguments.check_lab(pods, state, app, restart, sms_seconds, start_method, seed)
        check_autoscaler(autoscaler)
        self._redis = store_kinds.make_server(redis, redis_persistence)  # checks the spec; starts nothing yet
        self._db = make_database(db)  # the same: None, or a database not yet started
        self.app = app if app is not None else default_app()
        self.balancer = make_balancer(balancer, seed=seed)
        self.accounts = arguments.check_accounts(accounts) or dict(self.app.default_accounts)
        readiness.check_app(self.app)
        check_hooks(self.app)
        # Then build the lab's parts (nothing runs yet), and start them.
        self._build(state, seed, sms_seconds, start_method, restart)
        self.autoscaler = autoscaler  # the HPA (autoscaling.py), or None: the lab scales only when told
        self._autoscaling = Autoscaling(autoscaler, self._loop, self._names) if autoscaler else None
        try:
            self._start(pods)
        except BaseException:
            self.close()
            raise

    def _build(self, state, seed, sms_seconds, start_method, restart):
        """The lab's parts, none of them running yet: its clock, lock, history, loop."""
        self.state = state
        self.seed = seed
        self.sms_seconds = sms_seconds
        self._ctx = context(start_method, self.app.preload)
        self.start_method = self._ctx.get_start_method()
        self.history = History(fold=self.app.fold_history)
        self._t0 = time.perf_counter()
        self._lock = threading.RLock()
        self._names = itertools.count(1)
        self._app_blob = wire.ship_app(self.app)
        self._lifeline, self._lifeline_keep = self._ctx.Pipe(duplex=False)
        # Garbage-collected without close(): tell the guardian, which kills the pods.
        self._farewell = weakref.finalize(self, shutdown.say, self._lifeline_keep, GONE, os.getpid())
        self._guardian = None
        self._workdir = tempfile.mkdtemp(prefix="finpay-lab-")  # the gateway's log, the Redis socket
        # The event loop: the pods, their pipes, every request in flight. Its `closing`
        # refuses calls; its `closed` says everything has stopped.
        self._loop = Loop(
            self.history, self._ctx, self._app_blob, self._lifeline, self._workdir, restart, self._t0
        )
        self._loop.lock = self._lock  # a rollout or removal waited for later takes it too
        self._loop.make_state = store_kinds.state_factory()  # shipped to every pod
        self._follow_app()
        self.points = Points(self._loop, self._workdir)  # crash and pause points (points.py)
        self.gateway = self.app.gateway(self._workdir) if self.app.gateway else None  # the app's sidecar
        shutdown.track(self, Lab._close)  # closed at exit, or by SIGTERM/SIGHUP

    def _start(self, pods):
        """Start the stores, tell the app, start the guardian and the pods."""
        if self.state == "redis":
            self._start_redis()
        db_url = self._start_db()
        # What every pod is told; the secret signs login tokens, shared by every pod.
        self._loop.config = {
            "state": self.state,
            "redis_url": self._redis.url if self.state == "redis" else None,
            "lab_pid": os.getpid(),
            "seed": self.seed,
            "accounts": self.accounts,
            "secret": secrets.token_hex(16),
            "db_url": db_url,
        }
        if self.gateway is not None:  # where pods deliver, each message taking sms_seconds
            self._loop.config.update(gateway=self.gateway.path, sms_seconds=self.sms_seconds)
        self._loop.config["_lab_fds"] = [self._lifeline_keep.fileno()]
        for hook in self.app.on_lab_start:
            hook(self)
        self._guardian = self._loop.guardian = start_guardian(
            self._ctx,
            self._lifeline,
            self._workdir,
            self._loop.config["_lab_fds"] if self.start_method == "fork" else (),
            started=self._loop.started,
        )
        replicas.start(self._loop, self._names, pods)

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
        return (
            f"<Lab: {status}, state={self.state!r}, balancer={self.balancer.name!r}, "
            f"{len(self.history)} requests>"
        )

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
        arguments.check_endpoint(endpoint)
        timeout = defaults.CALL_TIMEOUT if timeout is None else arguments.check_timeout(timeout)
        with self._lock:
            self._check_open()
            self._loop.reconcile()
            if pod is not None:
                target = self._loop.named(pod)  # a pod still starting (a restart) is waited for
                self._loop.wait_for(lambda: target.status != PodStatus.STARTING, defaults.POD_START_TIMEOUT)
                if not target.alive:
                    return self._loop.fail(
                        endpoint,
                        params,
                        f"{pod} is not running ({exit_cause(target.exitcode)})",
                        pod,
                        cause=Cause.NO_POD,
                    )
            else:
                target = self.balancer.choose(self._loop.routable(), endpoint, params)
                if target is None:
                    return self._loop.fail(
                        endpoint, params, f"no pod is ready to serve {endpoint}", cause=Cause.NO_POD
                    )
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
        arguments.check_depth(depth)
        arguments.check_chaos(chaos)
        with self._lock, self.history.held():  # the history never drops a run's own requests
            self._check_open()
            for fault in chaos:  # refuse an impossible fault before anything is sent
                fault.check(self)
            checked = True  # a load shape's own plan needs no checking
            if not hasattr(workload, "plan"):
                workload, checked = arguments.check_workload(workload)
            return Runner(self, self._loop, depth, self._autoscaling).run(workload, checked, chaos)

    # ------------------------------------------------------------------ pods
    def kill(self, name):
        """SIGKILL the pod, as a node failure would; returns once the lab has seen it die."""
        with self._lock:
            return self._loop.kill(self._running(name)).info()

    def wait_ready(self, timeout=defaults.POD_START_TIMEOUT):
        """Wait until no pod is starting or waiting to restart (after a kill with
        ``restart=True``); returns ``lab.pods``. Raises PodStartError on timeout."""
        with self._lock:
            self._check_open()
            if not replicas.settle(self._loop, timeout):
                raise PodStartError(f"pods were still starting after {timeout:g} s")
            return self.pods

    def pause(self, name):
        """SIGSTOP the pod: alive, in rotation, but answering nothing until ``resume``."""
        with self._lock:
            self._loop.pause(self._running(name))

    def resume(self, name):
        """SIGCONT a paused pod: it answers everything that waited for it."""
        with self._lock:
            self._loop.resume(self._loop.named(name))

    def balances(self):
        """Every customer's balance as each live pod sees it: ``{user: {pod: ₹}}``.

        Memory: each pod answers from its own books, so they can disagree. Redis: every
        pod reads the same key, so they agree. (The app reads its books: FinPay's
        ``services/audit.py``.)"""
        with self._lock:
            self._check_open()
            return self._declared("balances")(self)

    def sms(self):
        """The SMS gateway's record: every message customers received (first delivery of
        each id), in delivery order."""
        if self.gateway is None:
            raise LabError(f"the {self.app.name!r} app has no gateway (App.gateway): it sends no SMS")
        return self.gateway.delivered()

    def audit(self, wait=defaults.AUDIT_WAIT, requests=None):
        """Count what was lost, created or disagreed on: an ``Audit`` (see services/audit.py)."""
        arguments.check_wait(wait)
        with self._lock:
            self._check_open()
            return self._declared("audit")(
                self, self.history.requests if requests is None else requests, wait
            )

    def _declared(self, name):
        """What the app declares for ``lab.<name>()``, else what the package's default app
        (FinPay) declares: its audit counts the ``balance:`` keys of any app."""
        hook = getattr(self.app, name) or getattr(default_app(), name)
        if hook is None:
            raise LabError(
                f"the {self.app.name!r} app declares no {name} (App.{name}), and neither does the default"
            )
        return hook

    def _follow_app(self):
        """Tell the balancer and the loop which parameters name a request's user (App.user_params)."""
        self.balancer.user_params = self._loop.user_params = tuple(self.app.user_params)

    def to_kubernetes(self, path=None, **options):
        """The Kubernetes manifests for what this lab runs (views/manifests.py)."""
        import finpay_lab  # the package's lazy door: the runtime never imports views

        return finpay_lab.manifests.to_kubernetes(self, path, **options)

    @property
    def closed(self):
        return self._loop.closed

    # ------------------------------------------------------------------ plumbing
    def _control(self, pod, endpoint, params, timeout=defaults.CALL_TIMEOUT):
        return self._loop.ask(pod, endpoint, params, timeout)  # the lab's own request (see Loop.ask)

    def _start_redis(self):
        self._redis.start(self._workdir)
        self._loop.event(
            None, "redis", f"{self._redis.kind} Redis at {self._redis.safe_url}", pid=self._redis.pid
        )

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
        process is about to die of a signal (see shutdown.py)."""
        if self._loop.closed:
            return
        self._loop.closing = True
        self._loop.restart_due.clear()
        shutdown.close_processes(
            self._loop, self._guardian, self._lifeline, self._lifeline_keep, self._farewell, word
        )
        self._redis.stop()
        self._stop_db()
        shutil.rmtree(self._workdir, ignore_errors=True)
        shutdown.forget(self)
        self._loop.closed = True
