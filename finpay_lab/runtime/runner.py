"""A run: many requests at once, every pod kept busy, faults injected on cue.

``lab.run(workload, chaos)`` checks its arguments under the lab's lock, then hands the work
to a ``Runner``, which drives the lab's ``Loop`` (``loop.py``) until every request is
answered:

* **send**: each ``(endpoint, params)`` goes to the pod the balancer picks, up to ``depth``
  requests in flight per pod (a full pod makes the request wait for it). A timed item
  ``(at, endpoint, params)`` waits for its second: an open-loop load, as real users don't
  wait for each other.
* **tick**: between sends, every fault of the run (``chaos``) is told the time, and starts
  or ends on its cue.
* **settle**: once everything is sent, the runner waits for every reply (a silent pod
  times out) and for every fault with a duration to end.

A runner lives for one run and holds the lab only meanwhile: the lab keeps no runner, so a
lab nobody holds is still garbage-collected at once.
"""

import time

from .. import defaults
from ..errors import BadInput
from .arguments import item_problem
from .history import Cause, Run


class Runner:
    """One ``lab.run``: its lab, the lab's loop, ``depth`` requests in flight per pod, and
    the lab's HPA controller (``autoscaling``: an ``Autoscaling``, or None), ticked with the
    faults. The lab hands the runner its collaborators, as it hands it its loop."""

    def __init__(self, lab, loop, depth, autoscaling=None):
        self.lab = lab
        self.loop = loop
        self.depth = depth
        self.faults = []
        self.due = []
        self.autoscaling = autoscaling

    def run(self, workload, checked, chaos):
        """Send ``workload`` (``checked``: its items were checked already), inject
        ``chaos``; returns the ``Run``. Interrupted (Ctrl-C), the run gives up its requests
        still in flight (no pod stays busy) and resumes what its faults paused."""
        history = self.loop.history
        setup_from = first_request = history.total
        first_event = len(history.events)
        if hasattr(workload, "plan"):  # a load shape: log customers in, then its timed plan
            shape = workload
            workload = _progress(list(shape.plan(self.lab)), shape)
            first_request = history.total  # the logins are setup, not load
        try:
            started = self.loop.now()
            self.faults = [f.bind(self.lab, started) for f in chaos]
            try:
                late = self._send_all(workload, checked, started)
            except BaseException:
                for fault in self.faults:  # a paused pod is resumed, even when the run is interrupted
                    fault.finish(self.loop.now())
                raise
        except BaseException as exc:  # Ctrl-C: give up what is in flight, leave no pod busy
            why = f"the run was interrupted ({type(exc).__name__}) before the pod answered"
            for pod in self.loop.pods.values():
                self.loop.abandon(pod, list(pod.in_flight), why)
            raise
        finally:
            if self.autoscaling is not None:  # between runs nothing scales: finish its drains
                self.autoscaling.finish()
        run = Run(
            self.lab,
            history.since(first_request),
            history.events[first_event:],
            started,
            self.loop.now(),
            late=late,
            setup=history.since(setup_from, first_request),
            due=self.due,
        )
        return run

    def _send_all(self, workload, checked, started):
        """Send every item; returns how many timed items went out late."""
        loop, late, depth = self.loop, 0, self.depth
        for sent, item in enumerate(workload):
            if not checked and item_problem(sent, item):
                self._settle()  # what was sent is answered; then the run stops
                raise BadInput(f"{item_problem(sent, item)} (the {sent} items before it were sent)")
            endpoint, params, at = _unpack(item)
            if at is not None:
                depth = defaults.OPEN_LOOP_MAX_IN_FLIGHT
                self.due.append(started + at)
                while loop.now() < started + at:
                    self._tick(sent)
                    loop.pump(min(0.05, max(0.0, started + at - loop.now())))
                if loop.now() - (started + at) > 0.05:
                    late += 1
            self._tick(sent)
            self._send(endpoint, params, depth, sent)
        self._settle()
        return late

    def _send(self, endpoint, params, depth, sent):
        # The balancer picks; if its pick is full, the request waits for that pod
        # (a real round robin does not notice a slow pod: that is least_busy's job).
        loop, balancer = self.loop, self.lab.balancer
        target = balancer.choose(loop.routable(), endpoint, params)
        while target is not None and len(target.in_flight) >= depth:
            loop.pump(0.05)
            self._tick(sent)
            loop.expire(target)  # a paused pod: its callers give up in time
            if not target.routable or balancer.load_aware:
                target = balancer.choose(loop.routable(), endpoint, params)
        if target is None:
            loop.fail(endpoint, params, f"no pod is ready to serve {endpoint}", cause=Cause.NO_POD)
        else:
            loop.send(target, endpoint, params)

    def _tick(self, sent):
        for fault in self.faults:
            fault.tick(self.loop.now(), sent)
        if self.autoscaling is not None:
            self.autoscaling.tick()

    def _settle(self):
        """Wait for every in-flight request (a silent pod times out) and for every started
        fault with a duration to end; faults not yet started, and the monkey, end here."""
        loop = self.loop
        deadline = time.monotonic() + defaults.CALL_TIMEOUT
        while any(p.in_flight for p in loop.pods.values()) or any(f.holds_the_run for f in self.faults):
            if time.monotonic() > deadline:
                for pod in loop.pods.values():
                    loop.expire(pod, timeout=0)
                break
            self._tick(None)
            loop.pump(0.02)
        for fault in self.faults:
            fault.finish(loop.now())


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
    """``(endpoint, params, at)`` of a workload item; ``at`` is None for an untimed one."""
    if len(item) == 3:
        at, endpoint, params = item
        return endpoint, params, at
    endpoint, params = item
    return endpoint, params, None
