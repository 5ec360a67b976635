"""Readiness: a pod is routable only once it is ready (startup delay, readiness check)."""

import os
import time

import psutil
import pytest

import finpay_lab as fl


def echo_app(**kw):
    app = fl.App("echo", **kw)

    @app.endpoint
    def where(state):
        return fl.this_pod().name

    return app


def test_startup_delay_holds_a_pod_back():
    app = echo_app(startup_delay=0.4)
    t0 = time.monotonic()
    with fl.Lab(pods=2, app=app) as lab:
        assert time.monotonic() - t0 >= 0.4  # the lab starts its pods ready, or not at all
        events = {(e.pod, e.kind): e.t for e in lab.history.events}
        for pod in ("pod-1", "pod-2"):
            assert events[(pod, "ready")] - events[(pod, "started")] >= 0.4
        assert lab.call("where").ok


def test_startup_delay_as_an_attribute():
    app = echo_app()
    app.startup_delay = 0.3
    with fl.Lab(pods=1, app=app) as lab:
        events = {(e.pod, e.kind): e.t for e in lab.history.events}
        assert events[("pod-1", "ready")] - events[("pod-1", "started")] >= 0.3


def test_a_pod_is_routable_only_once_its_readiness_check_passes(tmp_path):
    gate = tmp_path / "ready"
    gate.touch()
    app = echo_app()

    @app.readiness
    def ready(state):
        if not os.path.exists(gate):
            raise RuntimeError("not warmed up")  # an exception says "not ready yet", too
        return True

    with fl.Lab(pods=3, app=app, restart=True) as lab:
        gate.unlink()
        lab.kill("pod-3")  # restarted under its name; now its check fails until the gate is back
        deadline = time.monotonic() + 10
        while not any(e.pod == "pod-3" and e.kind == "restarted" for e in lab.history.events):
            assert time.monotonic() < deadline
            lab.pods  # noqa: B018 - reconciling starts the restart once its backoff is over
            time.sleep(0.02)
        time.sleep(0.3)  # a few of its checks fail meanwhile
        assert {p.name: p.status for p in lab.pods}["pod-3"] == "starting"
        served = {lab.call("where").value for _ in range(9)}
        assert served == {"pod-1", "pod-2"}  # never the pod that is not ready
        gate.touch()
        lab.wait_ready()
        assert {p.name: p.status for p in lab.pods}["pod-3"] == "ready"
        assert {lab.call("where").value for _ in range(9)} == {"pod-1", "pod-2", "pod-3"}


def test_readiness_check_given_to_the_constructor():
    app = echo_app(readiness=lambda state: True)
    with fl.Lab(pods=1, app=app) as lab:
        assert lab.call("where").value == "pod-1"


@pytest.mark.parametrize("delay", [-1, "2", float("nan"), True, 1e6])
def test_bad_startup_delay(delay):
    with pytest.raises(fl.BadInput, match="startup_delay"):
        fl.App("x", startup_delay=delay)
    app = echo_app()
    app.startup_delay = delay  # set after the fact: the lab refuses it, and starts nothing
    before = len(psutil.Process().children(recursive=True))
    with pytest.raises(fl.BadInput, match="startup_delay"):
        fl.Lab(pods=1, app=app)
    assert len(psutil.Process().children(recursive=True)) == before


def test_bad_readiness_check():
    with pytest.raises(fl.BadInput, match="readiness check"):
        fl.App("x", readiness=5)
    with pytest.raises(TypeError, match="readiness check"):
        echo_app().readiness(5)
