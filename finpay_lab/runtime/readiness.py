"""Readiness: a pod is routable only once it says it is ready.

A real pod takes seconds between "the process started" and "it can serve": the image is
pulled, the runtime warms up, caches fill, a connection pool opens. Kubernetes sends it no
traffic until its **readiness probe** passes. An app can show that in the lab:

    app = fl.App("payments", startup_delay=2.0)   # or app.startup_delay = 2.0

    @app.readiness
    def ready(state):                  # asked in the pod until it returns True
        return state.get("config:loaded") is not None

A pod runs its ``startup`` hooks, waits ``startup_delay`` seconds, then asks the readiness
check every ``READINESS_INTERVAL`` until it answers True (an exception counts as "not yet").
Only then does it tell the lab "ready": until then it is ``starting``, the balancer never
picks it, and an autoscaler counts it *not ready*. A pod that is not ready within
``POD_START_TIMEOUT`` is reported by ``lab.scale`` as one that did not start.

The lab's check is a startup gate: once ready, a pod stays ready until it stops. (In a
cluster the probe keeps running, and a pod that fails it later leaves the Service's
endpoints; the lab does not model that yet.)
"""

import math
import time

from .. import defaults
from ..errors import BadInput

__all__ = ["check_app", "wait_until_ready"]


def check_app(app):
    """Refuse a startup delay or readiness check a pod could not honour (fl.BadInput)."""
    delay = getattr(app, "startup_delay", 0.0)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or not 0 <= delay < defaults.POD_START_TIMEOUT
    ):
        raise BadInput(
            f"startup_delay is seconds a pod takes to get ready, from 0 to under "
            f"{defaults.POD_START_TIMEOUT:g} (e.g. 2.0), not {delay!r}"
        )
    check = getattr(app, "readiness_check", None)
    if check is not None and not callable(check):
        raise BadInput(f"a readiness check is a function(state) -> bool, not {type(check).__name__}")


def wait_until_ready(app, state):
    """In the pod, before it says "ready": the startup delay, then the readiness check."""
    delay = getattr(app, "startup_delay", 0.0)
    if delay:
        time.sleep(delay)
    check = getattr(app, "readiness_check", None)
    while check is not None:
        try:
            if check(state):
                return
        except Exception:  # a check that raises says "not ready yet", as a failed probe does
            pass
        time.sleep(defaults.READINESS_INTERVAL)
