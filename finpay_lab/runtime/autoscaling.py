"""The HPA at work in the lab: measure, decide, scale, a period at a time.

    hpa = fl.HPA(min=3, max=30, target=0.8)
    with fl.Lab(pods=3, app=app, autoscaler=hpa) as lab:
        run = lab.run(fl.load.constant(...))
        lab.autoscaler.decisions      # every period's arithmetic, in words

``fl.HPA`` (``autoscaler.py``) is only arithmetic. ``Autoscaling`` is the controller around
it, the part of the lab's loop that a Kubernetes cluster runs in its controller manager:

* **measure**: once a ``period``, read every serving pod's busy counter from shared memory
  (``busy.py``: no message, a busy pod could not answer) and turn two samples a period
  apart into each pod's utilization (``utilization.from_counters``), as metrics-server turns
  two CPU-seconds samples into a rate. Pods are keyed by (name, pid), so a restarted pod is
  a new pod.
* **who counts**: a pod ready at *both* samples counts with its utilization. A pod still
  starting, or one that became ready during the period, is *not ready* (``unready``): the
  HPA leaves it out and, scaling up, counts it as idle. Draining pods count nowhere.
* **decide**: ``hpa.decide(t, current, utilizations, unready)``, where ``current`` is the
  Deployment's replica count: every pod starting or serving, and any waiting to restart.
* **scale, without blocking**: new pods are spawned and the loop goes on; each joins the
  rotation when it says "ready" (after the app's ``startup_delay`` and readiness check,
  ``readiness.py``). A scale-down takes the newest pods (a pod still starting first, as a
  ReplicaSet does) out of rotation at once, lets their requests finish, SIGTERMs them and
  only after the grace period SIGKILLs them: ``replicas.drain``'s steps, one tick at a time.
* **record**: every decision is in ``hpa.decisions``; one that scales is also an event in
  ``lab.history.events`` (kind ``"autoscaled"``, its arithmetic as the detail).

**When it runs.** The HPA is part of the loop of ``lab.run`` (``runner.py`` ticks it between
sends, and while the run settles), so it also runs during the live dashboard's background
load, which is a stream of short runs. Between runs nothing drives the lab's loop, so
**nothing scales between runs**: the autoscaler is a controller of the lab's runs, not a
background thread. A drain still in progress when a run ends is finished before ``run``
returns. A run that starts more than two periods after the last sample starts measuring
afresh (a period later comes its first decision), so idle time between runs is not read
as an idle pod. During a rollout (``rollout.py``) it holds, and measures afresh after it:
the rollout is replacing the very pods it would measure.

**Two metrics, two climbs.** The lab's metric is capped at 100%: a pod cannot be busier than
always. At target 80% the HPA can then ask for at most 100/80 = 1.25× the pods it counts each
period, so from 3 to 30 under a step load it climbs 3 → 4 → 5 → 7 → 9 → 12 → 15 → 19 → 24 →
30: nine periods, and Kubernetes' rate limit (max(+4 pods, +100%) per period) never binds.
CPU against a *request* lower than the container's *limit* is not capped (250m requested,
a whole core used: 400%), so the metric shows how far behind the pods are and only the rate
limit holds the HPA back: 3 → 7 → 14 → 28 → 30, four periods. A saturated metric hides the
size of the shortfall; that is why production HPAs also scale on queue length or request
rate. ``lab.autoscaler.decisions`` prints each step's arithmetic, so the capped climb is
visible there ("mean 100% of 3 ready pods: ceil(3 × 1.00 / 0.80) = 4").
"""

import signal
import time

from .. import defaults
from ..errors import BadInput
from .autoscaler import HPA
from .pods import SERVING, PodStatus
from .utilization import from_counters

__all__ = ["Autoscaling", "check_autoscaler"]


class Autoscaling:
    """One lab's HPA controller: ``tick()`` from the lab's loop, ``finish()`` when a run ends."""

    def __init__(self, hpa, loop, names):
        self.hpa = hpa
        self.loop = loop
        self._names = names  # the lab's pod numbers: new pods are pod-<next>
        self._samples = {}  # (name, pid) -> (monotonic time, busy seconds), at the last sample
        self._sampled_at = None  # lab time of the last sample
        self._due = None  # lab time of the next decision
        self._draining = {}  # name -> [pod, out of rotation since, SIGTERM sent at or None] (monotonic)

    # ------------------------------------------------------------------ the loop's side
    def tick(self):
        """Called between a run's sends: advance drains; measure and decide when due."""
        if self._draining:
            self._advance_drains()
        if self.loop.rollout is not None:  # it is replacing the pods: hold, measure afresh after it
            if self._sampled_at is not None:
                self.loop.event(None, "autoscaler", "holding while a rollout replaces the pods")
            self._sampled_at = None
            return
        now = self.loop.now()
        if self._sampled_at is None or now - self._sampled_at > 2 * self.hpa.period:
            self._samples, self._sampled_at = self._sample(), now  # start measuring afresh
            self._due = now + self.hpa.period
            return
        if now < self._due:
            return
        due = self._due
        self._due = due + self.hpa.period if now - due < self.hpa.period else now + self.hpa.period
        self._decide(due, now)

    def finish(self, timeout=2 * defaults.GRACE_PERIOD + 1):
        """At the end of a run: finish every drain in progress (pods out, processes gone)."""
        self.loop.wait_for(lambda: not self._advance_drains(), timeout)

    # ------------------------------------------------------------------ measure, decide
    def _serving(self):
        return [p for p in self.loop.pods.values() if p.status in SERVING and p.name not in self._draining]

    def _sample(self):
        out = {}
        for pod in self._serving():
            reading = pod.busy.read()
            if reading is not None:
                out[(pod.name, pod.pid)] = reading
        return out

    def _decide(self, due, now):
        loop, before = self.loop, self._samples
        after = self._sample()
        self._samples, self._sampled_at = after, now
        serving = {(p.name, p.pid) for p in self._serving()}
        utilizations = from_counters({k: v for k, v in before.items() if k in after}, after)
        missing = sum(1 for k in serving if k in before and k not in after)  # no counter to read
        unready = sum(1 for k in serving if k not in before)  # ready for less than the period
        unready += sum(
            1 for p in loop.pods.values() if p.status == PodStatus.STARTING and p.name not in self._draining
        )
        current = self._current()
        decision = self.hpa.decide(due, current, utilizations, unready=unready, missing=missing)
        if decision.scaled:
            loop.event(None, "autoscaled", decision.arithmetic)
            self._scale(decision.new_replicas - current)
        return decision

    def _current(self):
        """The Deployment's replica count: pods starting or serving, and those due to restart."""
        alive = sum(
            p.alive and p.status != PodStatus.STOPPING and p.name not in self._draining
            for p in self.loop.pods.values()
        )
        return alive + len(self.loop.restart_due)

    # ------------------------------------------------------------------ scale
    def _scale(self, change):
        loop = self.loop
        if change > 0:
            for _ in range(change):
                loop.spawn(f"pod-{next(self._names)}")  # joins the rotation once it says ready
            return
        for name in list(loop.restart_due)[:-change]:  # a crashed pod not yet back: just not restarted
            del loop.restart_due[name]
            change += 1
        # Like a ReplicaSet: pods not ready yet go first, then the newest.
        candidates = [
            p
            for p in loop.pods.values()
            if p.alive and p.status != PodStatus.STOPPING and p.name not in self._draining
        ]
        candidates.sort(key=lambda p: (p.status != PodStatus.STARTING, -p.index))
        for pod in candidates[:-change]:
            starting = pod.status == PodStatus.STARTING
            pod.status = PodStatus.STOPPING  # out of rotation at once
            loop.event(
                pod.name, "stopping", "scale down by the HPA: finishing in-flight requests", pid=pod.pid
            )
            self._draining[pod.name] = [pod, time.monotonic(), None]
            if starting:  # nothing to finish: stop it now
                self._terminate(pod)

    def _terminate(self, pod):
        pod.signal(signal.SIGTERM)
        self._draining[pod.name][2] = time.monotonic()

    def _advance_drains(self):
        """One step of each drain; True while any is still going."""
        loop = self.loop
        for name, (pod, stopped, termed) in list(self._draining.items()):
            if pod.alive and pod.status != PodStatus.STOPPING:
                pod.status = PodStatus.STOPPING  # a "ready" that crossed our decision: still out
            if not pod.alive:
                del self._draining[name]
                if loop.pods.get(name) is pod:
                    del loop.pods[name]
            elif termed is None:  # its requests finish first (up to a grace period)
                if not pod.in_flight or time.monotonic() - stopped > defaults.GRACE_PERIOD:
                    self._terminate(pod)
            elif time.monotonic() - termed > defaults.GRACE_PERIOD:
                pod.signal(signal.SIGKILL)
                pod.process.join(defaults.GRACE_PERIOD)
                loop.on_exit(pod)
        return bool(self._draining)


def check_autoscaler(autoscaler):
    """``fl.Lab(autoscaler=...)``: None or a fresh ``fl.HPA`` (fl.BadInput otherwise)."""
    if autoscaler is None:
        return
    if not isinstance(autoscaler, HPA):
        raise BadInput(
            f"autoscaler must be an fl.HPA(min=..., max=..., target=...) or None, "
            f"not {type(autoscaler).__name__}"
        )
    if autoscaler.decisions:
        raise BadInput(
            "this fl.HPA has decided for another lab already (its decisions are on that "
            "lab's clock): give each lab a new fl.HPA(...)"
        )
