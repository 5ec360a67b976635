"""Three ways to remove a pod, and what each costs the requests in flight.

abrupt (SIGKILL) loses what the pod was handling; graceful (out of rotation, drain, SIGTERM)
loses nothing; Kubernetes' real order (SIGTERM while the balancer still routes to the pod)
refuses what is sent in the propagation window, unless a preStop sleep covers it.
"""

import os
import time

import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause

from .conftest import gone
from .helpers import slow_app


def wait_for_file(path, within=10.0):
    deadline = time.monotonic() + within  # only guards against hanging
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


@pytest.mark.parametrize("how", ["abrupt", "graceful"])
def test_abrupt_loses_the_in_flight_requests_graceful_finishes_them(how):
    with fl.Lab(pods=3, app=slow_app()) as lab:
        pid3 = lab.pods[2].pid
        removals = []

        def workload():
            for _ in range(9):
                yield "nap", {"seconds": 0.5}  # 3 per pod, all in flight at once
            assert len(lab._pods["pod-3"].in_flight) == 3
            removals.append(lab.remove("pod-3", how=how))
            for _ in range(4):
                yield "ping", {}

        run = lab.run(workload())
        removal = removals[0]
        assert (removal.pod, removal.how, removal.in_flight) == ("pod-3", how, 3)
        if how == "abrupt":
            assert (removal.finished, removal.lost, removal.refused) == (0, 3, 0)
            failed = [r for r in run.requests if not r.ok]
            assert len(failed) == 3 and {(r.pod, r.cause) for r in failed} == {("pod-3", Cause.CRASHED)}
            assert failed[0].error == "pod-3 crashed (SIGKILL) while handling nap"
        else:
            assert (removal.finished, removal.lost, removal.refused) == (3, 0, 0)
            assert run.failed == 0 and run.by_pod()["pod-3"] == 3
            stopped = [e for e in lab.history.events if e.pod == "pod-3" and e.kind == "stopped"]
            assert stopped[0].detail == "exited normally"  # SIGTERM sufficed
        pings = [r.value for r in run.requests if r.endpoint == "ping"]
        assert sorted(pings) == ["pod-1", "pod-1", "pod-2", "pod-2"]  # out of rotation
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2"]  # removed: gone from the list
        assert gone(pid3)


def test_kubernetes_order_without_prestop_refuses_what_the_balancer_still_sends():
    with fl.Lab(pods=3, app=slow_app()) as lab:
        assert [lab.call("ping").value for _ in range(3)] == ["pod-1", "pod-2", "pod-3"]
        pid3 = lab.pods[2].pid
        # SIGTERM now; the balancer keeps routing to pod-3 for 2 s (6 calls take milliseconds)
        termination = lab.remove("pod-3", how="kubernetes", propagation=2.0, wait=False)
        calls = [lab.call("ping") for _ in range(6)]
        assert [r.ok for r in calls] == [True, True, False] * 2  # every third went to pod-3
        refused = [r for r in calls if not r.ok]
        assert {(r.pod, r.cause) for r in refused} == {("pod-3", Cause.SHUTTING_DOWN)}
        assert all("shut" in r.error for r in refused)
        removal = termination.wait()
        assert (removal.in_flight, removal.finished, removal.lost, removal.refused) == (0, 0, 0, 2)
        assert removal.seconds >= 2.0  # in the endpoints until the propagation ended
        kinds = [e.kind for e in lab.history.events if e.pod == "pod-3"]
        assert kinds[-4:] == ["terminating", "sigterm", "stopped", "unlisted"]
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2"] and gone(pid3)
        assert [lab.call("ping").value for _ in range(2)] == ["pod-1", "pod-2"]


def test_kubernetes_order_with_a_prestop_longer_than_propagation_refuses_nothing():
    with fl.Lab(pods=3, app=slow_app()) as lab:
        termination = lab.remove("pod-3", how="kubernetes", propagation=1.0, pre_stop=1.5, wait=False)
        calls = [lab.call("ping") for _ in range(6)]
        assert all(r.ok for r in calls)
        assert [r.value for r in calls] == ["pod-1", "pod-2", "pod-3"] * 2  # still serving during preStop
        assert termination.wait().failed == 0
        kinds = [e.kind for e in lab.history.events if e.pod == "pod-3"]
        assert kinds[-4:] == ["terminating", "unlisted", "sigterm", "stopped"]  # SIGTERM after it left


def test_a_pod_that_got_sigterm_finishes_its_request_and_answers_shutting_down_to_new_ones(tmp_path):
    mark = str(tmp_path / "napping")
    with fl.Lab(pods=1, app=slow_app()) as lab:
        terminations = []

        def workload():
            yield "nap", {"seconds": 1.5, "mark": mark}
            wait_for_file(mark)  # pod-1 has read the nap: it is in flight, being handled
            terminations.append(lab.remove("pod-1", how="kubernetes", propagation=1.0, wait=False))
            yield "ping", {}  # sent after SIGTERM, to a pod still in the endpoints
            yield "ping", {}

        run = lab.run(workload())
        nap, *pings = sorted(run.requests, key=lambda r: r.id)
        assert nap.ok and nap.value == "rested"  # in flight at SIGTERM: finished
        assert [(r.ok, r.cause) for r in pings] == [(False, Cause.SHUTTING_DOWN)] * 2
        assert (
            pings[0].error == "pod-1 is shutting down (SIGTERM): it accepts no new requests"
        )  # the pod's own reply
        removal = terminations[0].wait()  # the run ended; the removal still had its propagation to wait out
        assert (removal.in_flight, removal.finished, removal.refused, removal.lost) == (1, 1, 2, 0)
        assert lab.pods == []


@pytest.mark.parametrize(
    ("how", "pre_stop"), [("abrupt", 0.0), ("graceful", 0.0), ("kubernetes", 0.0), ("kubernetes", 0.8)]
)
def test_removals_under_a_steady_load(how, pre_stop):
    shape = fl.load.constant(rps=150, seconds=2.0, mix={"add_balance": 1})
    with fl.Lab(pods=3) as lab:
        run = lab.run(
            shape, chaos=[fl.chaos.remove("pod-3", how=how, at=0.5, propagation=0.5, pre_stop=pre_stop)]
        )
        failed = [r for r in run.requests if not r.ok]
        assert all(r.pod == "pod-3" for r in failed)
        if how == "abrupt":  # whatever it held died with it
            assert all(r.cause == Cause.CRASHED for r in failed)
        elif how == "graceful" or pre_stop:
            assert failed == []
        else:  # ~25 requests went to pod-3 in its 0.5 s window after SIGTERM
            assert len(failed) > 0 and all(r.cause == Cause.SHUTTING_DOWN for r in failed)
            assert all(r.sent >= next(e.t for e in run.events if e.kind == "sigterm") for r in failed)
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2"]


def test_a_removed_pod_is_not_restarted_and_its_name_is_never_reused():
    with fl.Lab(pods=2, restart=True, app=slow_app()) as lab:
        removal = lab.remove("pod-2", how="abrupt")
        assert removal.lost == 0
        time.sleep(0.3)
        assert [p.name for p in lab.wait_ready()] == ["pod-1"]  # removed, not crashed: no restart
        assert not any(e.kind in ("backoff", "restarted") for e in lab.history.events)
        assert [p.name for p in lab.scale(2)] == ["pod-1", "pod-3"]


def test_remove_rejects_bad_input_and_changes_nothing():
    with fl.Lab(pods=2, app=slow_app()) as lab:
        before = lab.pods
        for kwargs in (
            {"how": "soft"},
            {"how": None},
            {"propagation": -1},
            {"propagation": "1"},
            {"pre_stop": True},
            {"grace": 0},
            {"grace": 1e9},
            {"how": "kubernetes", "pre_stop": 6.0, "grace": 5.0},
        ):
            with pytest.raises(fl.BadInput):
                lab.remove("pod-1", **kwargs)
        with pytest.raises(fl.BadInput, match="no pod named"):
            lab.remove("pod-9")
        with pytest.raises(fl.BadInput):
            fl.chaos.remove("pod-1", how="politely")
        assert lab.pods == before
        lab.remove("pod-2", how="kubernetes", propagation=1.0, wait=False)
        with pytest.raises(fl.BadInput, match="already being removed"):
            lab.remove("pod-2")


def test_nothing_outlives_a_lab_closed_during_a_removal():
    lab = fl.Lab(pods=3, app=slow_app())
    pids = [p.pid for p in lab.pods]
    lab.remove("pod-3", how="kubernetes", propagation=5.0, pre_stop=4.0, wait=False)
    lab.close()
    assert all(gone(pid) for pid in pids) and lab.closed
