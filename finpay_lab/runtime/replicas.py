"""Scaling, as a Kubernetes ReplicaSet does it: start pods and wait until they serve;
drain pods gracefully.

* **start**: spawn ``count`` new pods (``pod-4``, ``pod-5``...: names are never reused) and
  wait until each one is ready, or say which did not start, or died while starting.
* **drain**: the graceful stop of a scale-down: take the pods out of rotation at once, let
  their in-flight requests finish, SIGTERM them, and only after a grace period SIGKILL.
"""

import signal

from .. import defaults
from ..errors import PodStartError
from .pods import PodStatus, exit_cause


def start(loop, names, count):
    """Start ``count`` pods on ``loop``, named ``pod-<next(names)>``; returns once all are ready."""
    new = [loop.spawn(f"pod-{next(names)}") for _ in range(count)]
    if not loop.wait_for(lambda: all(p.status != PodStatus.STARTING for p in new), defaults.POD_START_TIMEOUT):
        slow = [p.name for p in new if p.status == PodStatus.STARTING]
        raise PodStartError(f"{', '.join(slow)} did not become ready in {defaults.POD_START_TIMEOUT:g} s")
    dead = [p for p in new if not p.alive]
    if dead:
        raise PodStartError(f"{dead[0].name} died while starting ({exit_cause(dead[0].exitcode)})")
    return new


def drain(loop, victims):
    """Stop ``victims`` gracefully and forget them (they leave ``loop.pods``)."""
    for pod in victims:
        pod.status = PodStatus.STOPPING  # out of rotation at once
        loop.event(pod.name, "stopping", "scale down: finishing in-flight requests", pid=pod.pid)
    loop.wait_for(lambda: not any(p.in_flight for p in victims), defaults.GRACE_PERIOD)
    for pod in victims:
        if pod.alive:
            pod.signal(signal.SIGTERM)
    if not loop.wait_for(lambda: not any(p.alive for p in victims), defaults.GRACE_PERIOD):
        for pod in victims:
            if pod.alive:
                pod.signal(signal.SIGKILL)
                pod.process.join(defaults.GRACE_PERIOD)
                loop.on_exit(pod)
    for pod in victims:
        loop.pods.pop(pod.name, None)
