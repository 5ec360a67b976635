"""The lab's event loop: requests out, replies in, pods that exit, pods that restart.

``Lab`` owns one ``Loop`` (``lab._loop``) and drives it; the loop owns the pods' pipes and
the bookkeeping of every request in flight. There are no background threads: whoever
calls the lab (``call``, ``run``, ``scale``) drives this loop, under the lab's lock, which
the loop carries (``lock``) so that what the lab hands out and the notebook waits for later
(a ``Rollout``, a ``Termination``) drives it under the same lock.

* **send**: a request gets an id (``rid``), goes down the pod's pipe, and waits in the
  pod's ``in_flight`` table until its reply comes back. ``send`` returns the rid.
* **wait**: ``wait(rid)`` reads the pod's pipe until that request is answered, and returns
  the answer: a ``Response`` (a reply, a crash, a timeout). Only a request sent with
  ``awaited=True`` can be waited for; a run's requests go to the history alone.
* **pump**: one ``poll`` over every live pod's pipe *and* its exit sentinel (``watch.py``:
  also for room to write, where the lab owes a pod bytes). A reply completes its request;
  an exit fails the pod's in-flight requests with the cause ("SIGKILL").
* **abandon**: a caller interrupted (Ctrl-C) gives up its requests; their replies, if
  they ever come, are dropped, and the pod is not left "busy".
* **exits and restarts**: ``on_exit`` records why a pod ended; with ``restart=True`` a
  crashed pod is restarted under the same name after a backoff (``restarts.py``).
"""

import itertools
import signal
import threading
import time

from .. import defaults
from ..errors import BadInput
from . import wire
from .guardian import write_pidfile
from .history import Cause, PodEvent, Response, request_user
from .pods import SERVING, PodStatus, exit_cause, gone, spin_until_readable, start_pod
from .restarts import Restarts
from .watch import Watch


class Loop:
    """One lab's pods, their pipes and every request in flight.

    Pods are started with ``ctx`` (a multiprocess context), the lab's shipped app, its
    lifeline and ``config`` (what every pod is told: state, Redis URL, seed...; the lab sets
    it). ``now()`` is the lab's clock, counted from ``t0``; ``history`` records every
    answer and event. The loop holds no reference to its lab: a lab nobody holds is
    garbage-collected at once (a re-run cell), and takes its pods with it.
    """

    def __init__(self, history, ctx, app_blob, lifeline, workdir, restart=False, t0=None):
        self.history = history
        self.restart = restart
        self.workdir = workdir
        self.config = {}
        self.lock = threading.RLock()  # held by whoever drives the loop (the lab's own _lock)
        self.make_state = None  # how a pod opens its State (store_kinds.state_factory()), shipped to each
        self.user_params = ("user",)  # the parameters that name a request's user (the lab's App.user_params)
        self._ctx, self._app_blob, self._lifeline = ctx, app_blob, lifeline
        self._t0 = time.perf_counter() if t0 is None else t0
        self.pods = {}  # name -> Pod, in creation order; stopped pods are removed
        self.started = set()  # every process the lab started and has not yet reaped
        self.guardian = None  # the lab's guardian process: in `started`, not a pod
        self.restarts = Restarts()  # crashed pods waiting to restart (restart=True)
        self.tickers = []  # callables pump() calls: removals and rollouts in progress (termination.py)
        self.rollout = None  # the rolling update in progress (rollout.py): the HPA holds meanwhile
        self.closing = self.closed = False  # closing: exits are stops, nothing restarts
        self._paused = {}  # name -> pid of the process pause() stopped (until resume())
        self._rids = itertools.count(1)
        self._watch = Watch()  # every live pod's pipe and exit sentinel, in one poll
        self._awaited = {}  # rid -> pod, for requests someone will wait() for
        self._answers = {}  # rid -> answer, until its waiter takes it

    def now(self):
        """Seconds since the lab started: the clock of history, runs and plots."""
        return time.perf_counter() - self._t0

    @property
    def _writing(self):  # the fds of pipes the lab owes bytes to (tests/test_loop.py looks)
        return self._watch.writing

    @property
    def restart_due(self):
        """{name: (lab time to restart, restarts so far)}: remove an entry to cancel it."""
        return self.restarts.due

    # ------------------------------------------------------------------ requests
    def send(self, pod, endpoint, params, internal=False, awaited=False):
        """Send one request to ``pod``; returns its rid.

        ``internal``: the lab's own request (not recorded, not 'served'). ``awaited``: the
        caller will ``wait(rid)`` for its answer. A request that cannot be encoded is
        answered at once, with a failed Response. Interrupted (Ctrl-C) before it returns
        the rid, nobody can wait for it: it is given up, and nothing is kept for it."""
        rid = next(self._rids)
        if awaited:
            self._awaited[rid] = pod
        try:
            self._send(pod, rid, endpoint, params, internal, awaited)
        except BaseException as exc:
            if rid in pod.in_flight:
                self.abandon(pod, [rid], _gave_up(exc, pod))
            self._awaited.pop(rid, None)
            self._answers.pop(rid, None)
            raise
        return rid

    def _send(self, pod, rid, endpoint, params, internal, awaited):
        if not pod.alive:  # exited, still in the endpoints (a propagation delay): refused
            error = f"{pod.name} refused the connection: it has shut down"
            response = self.fail(endpoint, params, error, pod.name, cause=Cause.SHUTTING_DOWN)
            return self._answers.update({rid: response} if awaited else {})
        try:
            data = wire.encode_request(rid, endpoint, params)
        except Exception as exc:
            error = f"the request could not be sent ({type(exc).__name__}: {exc}); pass {_PLAIN}"
            response = self.fail(endpoint, params, error, cause=Cause.BAD_REQUEST)
            if awaited:
                self._answers[rid] = response
            return
        pod.in_flight[rid] = (endpoint, params, self.now(), internal)
        pod.status = PodStatus.BUSY if pod.status == PodStatus.READY else pod.status
        try:
            pod.send(data)
        except OSError:  # the pod died before we wrote: its in-flight requests fail now
            pod.process.join(1.0)
            self.on_exit(pod)
            return
        self._watch.owe(pod)  # a request too big for the pipe: the rest when it has room

    def wait(self, rid, timeout):
        """The answer to request ``rid`` (sent with ``awaited=True``), within ``timeout`` s.

        An app request's answer is a ``Response``: its reply, its pod's crash, or "did not
        answer within" (the request is then given up). The lab's own (internal) request
        answers its value; ``None`` if its pod died, ``{}`` if the pod stayed silent.
        Interrupted (Ctrl-C), the request is given up and the interrupt goes on."""
        pod = self._awaited[rid]
        deadline = time.monotonic() + timeout
        try:
            entry = pod.in_flight.get(rid)
            if entry is not None and not entry[3]:
                spin_until_readable(pod)
            while rid in pod.in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not pod.readable(remaining):
                    return self._give_up(pod, rid, timeout)
                self._read(pod)
            return self._answers.get(rid)
        except BaseException as exc:  # Ctrl-C: give the request up, leave no pod busy
            self.abandon(pod, [rid], _gave_up(exc, pod))
            raise
        finally:
            del self._awaited[rid]
            self._answers.pop(rid, None)

    def ask(self, pod, endpoint, params, timeout=defaults.CALL_TIMEOUT):
        """A request the lab makes for itself (``__peek__``, ``__stats__``): not routed, not
        recorded, not 'served'. Its answer is the pod's value; ``None`` if the pod died,
        ``{}`` if it was silent."""
        return self.wait(self.send(pod, endpoint, params, internal=True, awaited=True), timeout)

    def _give_up(self, pod, rid, timeout):
        """``wait`` ran out of time: the request fails (an internal one answers ``{}``)."""
        internal = pod.in_flight[rid][3]
        self._end(pod, [rid], _silent(pod, timeout), Cause.TIMEOUT)
        return {} if internal else self._answers.get(rid)

    def abandon(self, pod, rids, why):
        """A caller gave up on these requests (Ctrl-C): fail them now; a late reply is dropped."""
        self._end(pod, [rid for rid in rids if rid in pod.in_flight], why, Cause.INTERRUPTED)

    def expire(self, pod, timeout=defaults.CALL_TIMEOUT):
        """Fail the pod's requests that have waited longer than ``timeout``, as a client would."""
        cutoff = self.now() - timeout
        late = [rid for rid, entry in pod.in_flight.items() if entry[2] < cutoff]
        self._end(pod, late, _silent(pod, timeout), Cause.TIMEOUT)

    def _end(self, pod, rids, error, cause):
        """End these in-flight requests of ``pod`` without a reply: each fails with ``error``
        (the lab's own are just dropped); a reply that comes later is dropped."""
        for rid in rids:
            endpoint, params, sent, internal = pod.in_flight.pop(rid)
            if not internal:
                self.fail(endpoint, params, error, pod.name, sent=sent, rid=rid, cause=cause)
        self._update_status(pod)

    def fail(self, endpoint, params, error, pod=None, sent=None, rid=-1, *, cause):
        """Record a request that failed without a reply (why: ``cause``); returns its ``Response``."""
        return self._record(False, None, error, pod, endpoint, params, sent, 0.0, rid, cause)

    def event(self, pod, kind, detail="", pid=None, end=None):
        """Record something that happened to a pod (or the lab: ``pod=None``) in the history."""
        self.history.events.append(PodEvent(self.now(), pod, kind, detail, pid, end))

    # ------------------------------------------------------------------ waiting
    def pump(self, timeout):
        """Wait up to ``timeout`` for replies or pod exits, and handle them."""
        self._start_due_restarts()
        for tick in tuple(self.tickers):
            tick()
        if not self._watch:
            time.sleep(timeout)
            return
        for pod, exited, room, replies in self._watch.poll(timeout):
            if exited:
                self.on_exit(pod)
                continue
            if room:
                self._flush(pod)
            if replies:
                self._read(pod)

    def reconcile(self):
        """Catch up: replies that arrived, pods that died on their own, due restarts."""
        if not self.closing:
            self.pump(0)

    def wait_for(self, predicate, timeout):
        """Pump until ``predicate()`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.pump(min(remaining, 0.05))
        return True

    def _flush(self, pod):
        """The pipe has room: write more of what the lab owes the pod."""
        try:
            done = pod.channel.flush()
        except OSError:
            pod.channel.discard()
            done = True
        if done:
            self._watch.paid(pod)

    def _read(self, pod):
        """Handle every reply waiting on the pod's pipe."""
        try:
            for data in pod.channel.receive():
                self._on_reply(pod, *wire.decode_reply(data))
        except (EOFError, OSError):
            pod.process.join(1.0)
            self.on_exit(pod)

    def _on_reply(self, pod, rid, ok, value, error, service, cause=None):
        if rid == wire.READY:
            pod.pid, pod.status, pod.started = value, PodStatus.READY, time.monotonic()
            self.event(pod.name, "ready", pid=pod.pid)
            return
        entry = pod.in_flight.pop(rid, None)
        if entry is None:
            return  # a reply that came after its caller gave up (timeout)
        endpoint, params, sent, internal = entry
        self._update_status(pod)
        if internal:
            if rid in self._awaited:
                self._answers[rid] = value
            return
        pod.served += 1
        cause = None if cause is None else Cause(cause)  # the pod sends its word
        self._record(ok, value, error, pod.name, endpoint, params, sent, service, rid, cause)

    def _record(self, ok, value, error, pod, endpoint, params, sent, service, rid, cause):
        """Record one request's outcome (``sent`` None: now), a ``Response`` its waiter gets too."""
        now = self.now()
        sent = now if sent is None else sent
        user = request_user(params, self.user_params)  # whom it was for, as the app names them
        r = Response(
            ok, value, error, pod, now - sent, endpoint, params, sent, now, service, rid, cause, user
        )
        self.history.add(r)  # past its cap, the history drops its oldest requests
        if rid in self._awaited:
            self._answers[rid] = r
        return r

    def _update_status(self, pod):
        if pod.status in SERVING:
            pod.status = PodStatus.BUSY if pod.in_flight else PodStatus.READY

    # ------------------------------------------------------------------ pods
    def named(self, name):
        """The pod called ``name`` (alive or dead); a clear error if there is none."""
        if not isinstance(name, str):
            raise BadInput(f"name a pod with a string like 'pod-1', not {type(name).__name__} {name!r:.40}")
        pod = self.pods.get(name)
        if pod is None:
            raise BadInput(f"no pod named {name!r}; the pods are {', '.join(self.pods) or 'none'}")
        return pod

    def routable(self):
        """The pods the balancer may choose from."""
        return [p for p in self.pods.values() if p.routable or p.lingering]

    def spawn(self, name, restarts=0, app_blob=None):
        """Start pod ``name`` (a replacement if ``restarts``; running ``app_blob``, by default the lab's app) and watch it."""
        # The process is in self.started before it starts: if Ctrl-C lands before the
        # lines below record the pod, close() still finds and kills it.
        blob = app_blob or self._app_blob
        pod = start_pod(
            self._ctx, name, blob, self.config, self._lifeline, restarts, self.started, self.make_state
        )
        return self.add(pod)

    def add(self, pod):
        """Watch a started pod: its pipe for replies, its exit sentinel for its end."""
        self.pods[pod.name] = pod
        self._watch.add(pod)
        self.list_pods_for_guardian()
        if pod.restarts:
            detail = f"restart #{pod.restarts}, replaces the crashed {pod.name} with empty memory"
            self.event(pod.name, "restarted", detail, pid=pod.pid)
        else:
            self.event(pod.name, "started", pid=pod.pid)
        return pod

    def kill(self, pod):
        """SIGKILL ``pod`` and see it die; returns it."""
        pod.signal(signal.SIGKILL)
        self.event(pod.name, "killed", "SIGKILL", pid=pod.pid)
        pod.process.join(defaults.GRACE_PERIOD)  # the sentinel fires within ~2 ms
        self.on_exit(pod)
        return pod

    def pause(self, pod):
        """SIGSTOP ``pod``: alive, in rotation, answering nothing until ``resume``."""
        pod.signal(signal.SIGSTOP)
        self._paused[pod.name] = pod.pid
        self.event(pod.name, "paused", "SIGSTOP", pid=pod.pid)

    def resume(self, pod):
        """SIGCONT ``pod`` (if it is alive): it answers everything that waited for it."""
        if pod.alive:
            pod.signal(signal.SIGCONT)
            self._paused.pop(pod.name, None)
            self.event(pod.name, "resumed", "SIGCONT", pid=pod.pid)

    def is_paused(self, pod):
        """True if ``pause`` stopped this very process (``pod``: a Pod or its PodInfo) and it still lives."""
        return self._paused.get(pod.name) == pod.pid and pod.status != PodStatus.DEAD

    def on_exit(self, pod):
        """A pod's process ended: record why, fail its in-flight requests, maybe restart it."""
        if not pod.alive:
            return
        try:  # replies it sent before dying still count
            while pod.readable():
                for data in pod.channel.receive():
                    self._on_reply(pod, *wire.decode_reply(data))
        except (EOFError, OSError):
            pass
        pod.process.join(1.0)
        pod.exitcode = pod.process.exitcode
        if gone(pod.pid):
            self.started.discard(pod.process)  # its pid is no longer ours to kill
        was = pod.status
        pod.status = PodStatus.DEAD
        pod.channel.discard()
        self._watch.remove(pod)
        self.list_pods_for_guardian()
        pod.conn.close()
        cause = exit_cause(pod.exitcode)
        kind = "stopped" if was == PodStatus.STOPPING or pod.terminating or self.closing else "exited"
        self.event(pod.name, kind, cause, pid=pod.pid)
        for rid, (endpoint, params, sent, internal) in list(pod.in_flight.items()):
            del pod.in_flight[rid]
            if internal:
                continue
            error, why = f"{pod.name} crashed ({cause}) while handling {endpoint}", Cause.CRASHED
            if pod.exitcode == 0:  # it answered all it read (SIGTERM): this one it never read
                error, why = f"{pod.name} had shut down: it never read {endpoint}", Cause.SHUTTING_DOWN
            self.fail(endpoint, params, error, pod.name, sent=sent, rid=rid, cause=why)
        if self.restart and kind == "exited":
            self.event(pod.name, "backoff", f"restarting in {self.restarts.after_crash(pod, self.now()):g} s")

    def _start_due_restarts(self):
        if not self.closing:
            for name, restarts in self.restarts.take_due(self.now()):
                self.spawn(name, restarts)

    def list_pods_for_guardian(self):
        """Write the pidfile the guardian kills from if the lab's process dies."""
        if not self.closed:
            try:
                write_pidfile(self.workdir, [p.pid for p in self.started if p is not self.guardian])
            except OSError:  # an interrupted close() already removed the work dir
                pass


_PLAIN = "plain values: str, int, float, bool, None, lists and dicts"  # what crosses a pod's pipe


def _gave_up(exc, pod):
    return f"the caller gave up ({type(exc).__name__}) before {pod.name} answered"


def _silent(pod, timeout):
    return f"{pod.name} did not answer within {timeout:g} s"
