"""Removing a pod, three ways, and what each costs the requests in flight.

    lab.remove("pod-3", how="abrupt")        # SIGKILL: a node dies, the OOM killer
    lab.remove("pod-3", how="graceful")      # out of rotation, drain, SIGTERM, grace, SIGKILL
    lab.remove("pod-3", how="kubernetes", propagation=0.5, pre_stop=0.0)

* **abrupt**: SIGKILL at once. Every request the pod was handling, or had waiting in its
  pipe, fails ("crashed", in doubt: it may have acted first).
* **graceful**: what ``lab.scale(n)`` does to the pods it removes. The balancer stops
  sending to the pod first; the pod finishes its in-flight requests; only then SIGTERM,
  and SIGKILL if it has not exited ``grace`` seconds later. Nothing fails.
* **kubernetes**: Kubernetes' real order. Deleting a pod starts two things *at the same
  time*: the kubelet runs the pod's preStop hook and then sends SIGTERM, while the
  endpoint controller and every node's kube-proxy (or the ingress) take the pod out of the
  Service's endpoints, which takes a while to reach every balancer: ``propagation``
  seconds. A pod that gets SIGTERM stops accepting, so whatever the balancers send it in
  that window is refused (``Cause.SHUTTING_DOWN``: "connection refused", nothing ran).
  The usual fix is a preStop hook that just sleeps (``pre_stop`` seconds, longer than the
  propagation): the pod keeps serving until no balancer sends to it any more, and only
  then gets SIGTERM. The grace period counts from the start, preStop included, as in
  Kubernetes (``terminationGracePeriodSeconds``).

A removal is a ``Termination``: a small state machine the lab's loop ticks (``Loop.pump``
calls every ``loop.tickers``), so it proceeds while a run keeps sending (a rollout removes
pods this way) and ``lab.remove`` just waits for it. Each step is an event in
``lab.history.events``; its outcome, counted from the history, is a ``Removal``.
"""

import signal
from dataclasses import dataclass

from .. import defaults
from ..errors import BadInput
from .history import Cause
from .pods import SERVING, PodStatus

HOWS = ("abrupt", "graceful", "kubernetes")


@dataclass(frozen=True)
class Removal:
    """What removing one pod cost: counted from the lab's history once the pod was gone."""

    pod: str
    how: str
    in_flight: int  # requests the pod had in flight when its removal began
    finished: int  # ... of which the pod answered
    lost: int  # requests that failed because the pod was killed mid-way (Cause.CRASHED: in doubt)
    refused: int  # requests sent after its SIGTERM, refused (Cause.SHUTTING_DOWN: nothing ran)
    seconds: float  # from the start of the removal until the pod was gone and out of every balancer

    @property
    def failed(self):
        return self.lost + self.refused


def check(how, propagation, pre_stop, grace):
    """The removal's options, checked: a clear BadInput, and nothing changed, otherwise."""
    if how not in HOWS:
        raise BadInput(f"how={how!r}: choose one of {', '.join(map(repr, HOWS))}")
    for value, what in ((propagation, "propagation"), (pre_stop, "pre_stop")):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= defaults.MAX_TERMINATION_SECONDS
        ):
            raise BadInput(
                f"{what} must be seconds between 0 and {defaults.MAX_TERMINATION_SECONDS:g}, not {value!r}"
            )
    if (
        isinstance(grace, bool)
        or not isinstance(grace, int | float)
        or not 0 < grace <= defaults.MAX_TERMINATION_SECONDS
    ):
        raise BadInput(
            f"grace must be seconds between 0 and {defaults.MAX_TERMINATION_SECONDS:g}, not {grace!r}"
        )
    if how == "kubernetes" and pre_stop >= grace:
        raise BadInput(
            f"pre_stop={pre_stop:g} s must end within grace={grace:g} s: in Kubernetes the grace "
            "period counts from the start, preStop hook included"
        )
    return {"how": how, "propagation": float(propagation), "pre_stop": float(pre_stop), "grace": float(grace)}


class Termination:
    """One pod being removed ``how``; ``done`` once it is gone, then ``result`` says what it cost."""

    def __repr__(self):
        return f"<Termination of {self.pod.name} ({self.how}): {self.result if self.done else 'in progress'}>"

    def __init__(
        self,
        loop,
        pod,
        how="graceful",
        propagation=defaults.PROPAGATION_DELAY,
        pre_stop=0.0,
        grace=defaults.GRACE_PERIOD,
        why="",
    ):
        self.loop, self.pod, self.how = loop, pod, how
        self.propagation, self.pre_stop, self.grace = propagation, pre_stop, grace
        self.t0 = loop.now()
        self.first = loop.history.total
        self.rids = {
            rid for rid, entry in pod.in_flight.items() if not entry[3]
        }  # the app's, not the lab's own
        self.sigterm_at = None
        self.done = False
        self.result = None
        pod.terminating = True  # its exit is a stop: never restarted
        why = f"{why}: " if why else ""
        if how == "abrupt":
            self._event("removing", f"{why}abrupt: SIGKILL with {len(self.rids)} requests in flight")
            loop.kill(pod)
            self._finish()
            return
        if how == "graceful":
            if pod.status in SERVING:
                pod.status = PodStatus.STOPPING  # out of rotation at once
            self._event(
                "stopping", f"{why}graceful: out of rotation, finishing {len(self.rids)} in-flight requests"
            )
        else:
            pod.lingering = True  # the balancer keeps routing to it until the change propagates
            self._event(
                "terminating",
                f"{why}kubernetes: endpoint removal takes {propagation:g} s, "
                + (
                    f"preStop sleeps {pre_stop:g} s, then SIGTERM" if pre_stop else "SIGTERM now (no preStop)"
                ),
            )
        loop.tickers.append(self.tick)
        self.tick()

    def wait(self, timeout=None):
        """Drive the lab's loop until the pod is gone; returns the ``Removal`` (None if
        ``timeout`` passed first). From the notebook, as any call to the lab."""
        limit = self.pre_stop + self.propagation + 2 * self.grace + 1
        with self.loop.lock:  # the lab's lock, as any call to the lab (re-entrant: remove holds it)
            self.loop.wait_for(lambda: self.done, limit if timeout is None else timeout)
        return self.result

    def tick(self):
        """Take the next step that is due (the loop calls this on every pump)."""
        if self.done:
            return
        pod, elapsed = self.pod, self.loop.now() - self.t0
        if self.how == "graceful":
            if self.sigterm_at is None and (not pod.in_flight or elapsed >= self.grace):
                self._sigterm()
            deadline = None if self.sigterm_at is None else self.sigterm_at - self.t0 + self.grace
        else:
            if pod.lingering and elapsed >= self.propagation:
                pod.lingering = False
                if pod.status in SERVING:
                    pod.status = PodStatus.STOPPING
                self._event(
                    "unlisted",
                    f"out of the Service's endpoints after {elapsed:.2f} s: no balancer sends to it",
                )
            if self.sigterm_at is None and elapsed >= self.pre_stop:
                self._sigterm()
            deadline = self.grace
        if pod.alive and deadline is not None and elapsed >= deadline:
            self._event("removing", f"still running {self.grace:g} s into its grace period: SIGKILL")
            self.loop.kill(pod)
        if not pod.alive and not pod.lingering:
            self._finish()

    def _sigterm(self):
        self.sigterm_at = self.loop.now()
        if self.pod.alive:
            self._event("sigterm", f"SIGTERM with {len(self.pod.in_flight)} requests in flight")
            self.pod.signal(signal.SIGTERM)

    def _event(self, kind, detail):
        self.loop.event(self.pod.name, kind, detail, pid=self.pod.pid)

    def _finish(self):
        self.done = True
        self.pod.lingering = False
        if self.tick in self.loop.tickers:
            self.loop.tickers.remove(self.tick)
        if self.loop.pods.get(self.pod.name) is self.pod:
            del self.loop.pods[self.pod.name]  # a removed pod leaves the list, as in `kubectl get pods`
        name = self.pod.name
        mine = [r for r in self.loop.history.since(self.first) if r.pod == name]
        self.result = Removal(
            pod=name,
            how=self.how,
            in_flight=len(self.rids),
            finished=sum(
                r.id in self.rids and r.cause not in (Cause.CRASHED, Cause.SHUTTING_DOWN) for r in mine
            ),
            lost=sum(r.cause == Cause.CRASHED for r in mine),
            refused=sum(r.cause == Cause.SHUTTING_DOWN for r in mine),
            seconds=round(self.loop.now() - self.t0, 3),
        )


def remove(loop, pod, wait=True, **options):
    """Remove ``pod`` (``options`` from ``check``); with ``wait``, return its ``Removal`` once
    it is gone, else the ``Termination`` in progress (the loop moves it on)."""
    if pod.terminating:
        raise BadInput(f"{pod.name} is already being removed")
    termination = Termination(loop, pod, **options)
    return termination.wait() if wait else termination
