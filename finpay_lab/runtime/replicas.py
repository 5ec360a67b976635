"""Scaling, as a Kubernetes ReplicaSet does it: start pods and wait until they serve;
drain pods gracefully.

* **start**: spawn ``count`` new pods (``pod-4``, ``pod-5``...: names are never reused) and
  wait until each one is ready, or say which did not start, or died while starting.
* **scale**: run exactly ``n`` pods (dead ones are replaced), starting or draining.
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
    if not loop.wait_for(
        lambda: all(p.status != PodStatus.STARTING for p in new), defaults.POD_START_TIMEOUT
    ):
        slow = [p.name for p in new if p.status == PodStatus.STARTING]
        raise PodStartError(f"{', '.join(slow)} did not become ready in {defaults.POD_START_TIMEOUT:g} s")
    dead = [p for p in new if not p.alive]
    if dead:
        raise PodStartError(f"{dead[0].name} died while starting ({exit_cause(dead[0].exitcode)})")
    return new


def scale(loop, names, n):
    """Run exactly ``n`` pods: start the missing ones, or drain the newest."""
    for name in [name for name, p in loop.pods.items() if not p.alive]:
        del loop.pods[name]  # like a ReplicaSet, scale replaces dead pods
    loop.restart_due.clear()
    live = [p for p in loop.pods.values() if p.status != PodStatus.STOPPING]
    before = len(live)
    if n > before:
        start(loop, names, n - before)
    elif n < before:
        drain(loop, live[n:])
    loop.event(None, "scaled", f"{before} → {n} pods")


def stop_all(loop):
    """Drain every pod and forget them all (a redeploy); returns how many were serving."""
    n = sum(p.alive and p.status != PodStatus.STOPPING for p in loop.pods.values())
    drain(loop, [p for p in loop.pods.values() if p.alive])
    loop.pods.clear()
    loop.restart_due.clear()
    return n


def settle(loop, timeout):
    """Wait until no pod is starting or waiting to restart; False if ``timeout`` passed first."""
    return loop.wait_for(
        lambda: not loop.restart_due and all(p.status != PodStatus.STARTING for p in loop.pods.values()),
        timeout,
    )


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
