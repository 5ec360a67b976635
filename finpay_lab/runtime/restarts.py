"""Restarting crashed pods, as Kubernetes does (``restart=True``): the same name, a fresh
process with empty memory, after a **backoff** that doubles on every crash.

A pod that crashes again soon after its restart waits longer each time
(``defaults.RESTART_BACKOFF``, doubled, up to ``RESTART_BACKOFF_CAP``): Kubernetes'
CrashLoopBackOff, so a pod that crashes on start does not spin the machine. A pod that ran
healthy for ``RESTART_BACKOFF_RESET`` seconds starts over from the first backoff.

``Loop`` (``loop.py``) owns one ``Restarts``: it schedules a restart when a pod exits on
its own, and starts the ones that are due on every pump. ``due`` is public: a scale, a
rollout or the autoscaler cancels a restart by removing its entry.
"""

import time

from .. import defaults


class Restarts:
    """The lab's crashed pods waiting to be restarted."""

    def __init__(self):
        self.due = {}  # name -> (lab time to restart, restarts so far)
        self._backoff = {}  # name -> the backoff it waited last

    def after_crash(self, pod, now):
        """Schedule ``pod``'s restart (``now``: the lab's time); returns the seconds it waits."""
        healthy = time.monotonic() - pod.started > defaults.RESTART_BACKOFF_RESET
        last = self._backoff.get(pod.name, defaults.RESTART_BACKOFF / 2)
        backoff = defaults.RESTART_BACKOFF if healthy else min(last * 2, defaults.RESTART_BACKOFF_CAP)
        self._backoff[pod.name] = backoff
        self.due[pod.name] = (now + backoff, pod.restarts + 1)
        return backoff

    def take_due(self, now):
        """``(name, restarts)`` of each restart due by ``now``, one at a time: each leaves
        ``due`` as it is taken (if starting one is interrupted, the others stay due)."""
        for name, (due, restarts) in list(self.due.items()):
            if now >= due:
                del self.due[name]
                yield name, restarts
