"""A rolling update, as a Kubernetes Deployment does it: new pods in, old pods out, a few at a time.

    lab.rollout(app=payment_api_v2, max_surge=1, max_unavailable=0)
    lab.rollout()                        # the same app again: `kubectl rollout restart`

A Deployment's new ReplicaSet starts pods with **new names** (here the lab's numbering goes
on: pod-1..3 are replaced by pod-4..6), running the new app. Two numbers bound each step:

* ``max_surge``: how many pods may run *above* the desired count (extra capacity for a
  moment, as a cluster with room to spare allows);
* ``max_unavailable``: how many pods may be *below* it (no spare room: remove first).

So with 3 pods, ``max_surge=1, max_unavailable=0``: start pod-4; once it is ready, remove
pod-1 gracefully (``termination.py``: out of rotation, drain, SIGTERM); start pod-5; ...
The service never has fewer than 3 ready pods, and a load well under their capacity sees
no failed request. Both 0 would never make progress, so the lab refuses it, as
Kubernetes does.

What the rolled-out pods had in their own memory is gone: in memory mode every session and
every queued SMS lives in an old pod, so a rollout logs every customer out; with the state
in Redis nobody notices. That is the whole course in one ``kubectl rollout restart``.

A ``Rollout`` is a state machine the lab's loop ticks (``Loop.tickers``), so it proceeds
while a run keeps sending (``fl.chaos.rollout``); ``lab.rollout`` waits for it. Each step is
an event in ``lab.history.events``. While one is in progress (``Loop.rollout``) nothing else
changes the pods under it: ``lab.scale`` and ``lab.switch_state`` refuse (``deploys.py``),
and the HPA holds its decisions (``autoscaling.py``), as one controller at a time owns a
Deployment's pods.
"""

from .. import defaults
from ..errors import BadInput, PodStartError
from . import wire
from .app import App, check_hooks
from .pods import PodStatus, exit_cause
from .termination import Termination


def check(max_surge, max_unavailable):
    """``(max_surge, max_unavailable)`` checked: whole numbers ≥ 0, not both 0."""
    for value, what in ((max_surge, "max_surge"), (max_unavailable, "max_unavailable")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= defaults.MAX_PODS:
            raise BadInput(
                f"{what} must be a whole number of pods from 0 to {defaults.MAX_PODS}, not {value!r}"
            )
    if max_surge == 0 and max_unavailable == 0:
        raise BadInput(
            "max_surge=0 with max_unavailable=0 can never replace a pod (no room to add one, none "
            "may go): allow one of them, e.g. max_surge=1 (the default)"
        )
    return max_surge, max_unavailable


class Rollout:
    """One rolling update on ``loop``: new pods named ``pod-<next(names)>`` running ``app_blob``."""

    def __init__(
        self, loop, names, app_blob, max_surge=1, max_unavailable=0, what="the same app", on_done=None
    ):
        self.loop, self._names, self._blob = loop, names, app_blob
        self.max_surge, self.max_unavailable = max_surge, max_unavailable
        self.old = [
            p for p in loop.pods.values() if p.alive and not p.terminating and p.status != PodStatus.STOPPING
        ]
        self.desired = len(self.old)
        self.new = []
        self.removals = []
        self.done = False
        self.error = None
        self.t0 = loop.now()
        self.seconds = None
        self._on_done = on_done
        self._started = {}  # new pod -> lab time it was started
        loop.event(
            None,
            "rollout",
            f"rolling update of {self.desired} pods to {what} "
            f"(max_surge={max_surge}, max_unavailable={max_unavailable})",
        )
        loop.tickers.append(self.tick)
        loop.rollout = self  # in progress: a scale, a state switch and the HPA wait for it
        self.tick()

    @property
    def serving(self):
        """The old pods still in service (not dead, not being removed)."""
        return [p for p in self.old if p.alive and not p.terminating]

    def tick(self):
        """Take every step allowed now (the loop calls this on every pump)."""
        if self.done:
            return
        loop = self.loop
        for pod in self.new:
            slow = (
                pod.status == PodStatus.STARTING
                and loop.now() - self._started[pod.name] > defaults.POD_START_TIMEOUT
            )
            if not pod.alive or slow:
                return self._fail(pod)
        # Up: new pods while the total stays within desired + max_surge.
        while (
            len(self.serving) + len(self.new) < self.desired + self.max_surge and len(self.new) < self.desired
        ):
            pod = loop.spawn(f"pod-{next(self._names)}", app_blob=self._blob)
            self._started[pod.name] = loop.now()
            self.new.append(pod)
        # Down: old pods while the ready ones stay at least desired - max_unavailable.
        ready = sum(p.routable for p in self.serving) + sum(p.routable for p in self.new)
        for pod in self.serving[: max(0, ready - (self.desired - self.max_unavailable))]:
            replacement = next((p.name for p in self.new if p.routable), "a new pod")
            self.removals.append(
                Termination(loop, pod, how="graceful", why=f"rollout ({replacement} is ready)")
            )
        if not self.serving and all(t.done for t in self.removals) and all(p.routable for p in self.new):
            self._finish()

    def _fail(self, pod):
        cause = "did not become ready" if pod.alive else f"died while starting ({exit_cause(pod.exitcode)})"
        self.error = f"rollout stopped: {pod.name} {cause}; the old pods still serving keep serving"
        for p in self.new:
            if not p.routable:
                if p.alive:
                    p.terminating = True
                    self.loop.kill(p)
                self.loop.pods.pop(p.name, None)
        self._end("rollout", self.error)

    def _finish(self):
        for pod in self.old:  # an old pod that crashed meanwhile is not restarted: it was replaced
            self.loop.restart_due.pop(pod.name, None)
            if not pod.alive and self.loop.pods.get(pod.name) is pod:
                del self.loop.pods[pod.name]
        self._end(
            "rollout",
            f"rolled out in {self.loop.now() - self.t0:.2f} s: "
            f"{', '.join(p.name for p in self.old) or 'no pods'} → {', '.join(p.name for p in self.new) or 'no pods'}",
        )
        if self._on_done is not None:
            self._on_done()

    def _end(self, kind, detail):
        self.done = True
        self.seconds = round(self.loop.now() - self.t0, 3)
        if self.tick in self.loop.tickers:
            self.loop.tickers.remove(self.tick)
        if self.loop.rollout is self:
            self.loop.rollout = None
        self.loop.event(None, kind, detail)

    def wait(self, timeout=defaults.ROLLOUT_TIMEOUT):
        """Drive the lab's loop until the rollout is done (from the notebook, as any call to
        the lab: under the lab's lock, so the dashboard's thread never drives the loop at
        the same time); returns it. A rollout that failed, or ran out of time, raises
        PodStartError."""
        with self.loop.lock:  # re-entrant: lab.rollout() holds it already
            finished = self.loop.wait_for(lambda: self.done, timeout)
        if not finished:
            raise PodStartError(f"the rollout did not finish in {timeout:g} s: {self!r}")
        if self.error:
            raise PodStartError(self.error)
        return self

    def __repr__(self):
        old, new = ", ".join(p.name for p in self.old), ", ".join(p.name for p in self.new)
        state = (
            f"failed: {self.error}"
            if self.error
            else f"done in {self.seconds:g} s"
            if self.done
            else "in progress"
        )
        return f"<Rollout: {old or 'no pods'} → {new or 'no pods'}, {state}>"


def start(loop, names, app, blob, max_surge, max_unavailable, on_done):
    """``lab.rollout``'s work: check, then start a ``Rollout`` of ``app`` (None: the app the
    lab runs, shipped as ``blob``). ``on_done(app, blob)`` once it is done."""
    max_surge, max_unavailable = check(max_surge, max_unavailable)
    if app is not None and not isinstance(app, App):
        raise BadInput(f"app must be an fl.App (the new version to roll out), not {type(app).__name__}")
    if app is not None:
        check_hooks(app)
    blob = blob if app is None else wire.ship_app(app)
    what = "the same app" if app is None else f"app {app.name!r}"
    return Rollout(loop, names, blob, max_surge, max_unavailable, what, lambda: on_done(app, blob))
