"""The HPA inside the lab: pods' busy counters, decisions during runs, scaling under a surge."""

import os
import time

import pytest

import finpay_lab as fl
from finpay_lab.runtime.utilization import from_counters

HOLD_LIMIT = 20.0  # a held handler gives up after this long: only a guard against hanging


def held_app(**kw):
    """An app whose ``hold`` handler runs until the test creates a file: the test decides
    how long a request is in progress, whatever the machine's speed."""
    app = fl.App("held", **kw)

    @app.endpoint
    def hold(state, path: str):
        end = time.monotonic() + HOLD_LIMIT
        while not os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.005)
        return "released"

    @app.endpoint
    def work(state, seconds: float = 0.01):
        time.sleep(seconds)
        return "done"

    return app


def wait_until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


# ---------------------------------------------------------------------- busy counters
def test_idle_pod_reads_zero():
    with fl.Lab(pods=1, app=held_app()) as lab:
        pod = lab._pods["pod-1"]
        t0, b0 = pod.busy.read()
        time.sleep(0.05)
        t1, b1 = pod.busy.read()
        assert b0 == b1 == 0.0 and t1 > t0
        assert not pod.busy.handling


def test_a_running_handler_reads_busy_before_it_replies(tmp_path):
    release = tmp_path / "release"
    with fl.Lab(pods=1, app=held_app()) as lab:
        loop, pod = lab._loop, lab._pods["pod-1"]
        rid = loop.send(pod, "hold", {"path": str(release)}, awaited=True)
        wait_until(lambda: pod.busy.handling)
        first = pod.busy.read()
        time.sleep(0.2)
        second = pod.busy.read()
        assert rid in pod.in_flight  # no reply yet: only the counter knows it is busy
        assert second[1] - first[1] == pytest.approx(second[0] - first[0], abs=1e-6)
        assert from_counters({"p": first}, {"p": second}) == {"p": 1.0}
        release.touch()
        response = loop.wait(rid, 10.0)
        assert response.ok and response.value == "released"
        assert not pod.busy.handling
        done = pod.busy.read()
        # The total is the handler's time, as the pod timed it (its service time).
        assert done[1] == pytest.approx(response.service, abs=0.005)
        time.sleep(0.05)
        assert pod.busy.read()[1] == done[1]  # idle again: the counter stands still


def test_a_restarted_pod_has_a_new_counter():
    with fl.Lab(pods=1, app=held_app(), restart=True) as lab:
        lab.call("work", seconds=0.05)
        old = lab._pods["pod-1"]
        assert old.busy.read()[1] >= 0.05
        lab.kill("pod-1")
        lab.wait_ready()
        new = lab._pods["pod-1"]
        assert new.pid != old.pid and new.busy.read()[1] == 0.0
