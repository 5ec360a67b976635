"""Pods are real processes: names, statuses, kill, restart, scale."""

import os
import signal
import threading
import time

import psutil
import pytest

import finpay_lab as fl
from finpay_lab import defaults

from .conftest import gone
from .helpers import slow_app


def test_pods_are_real_processes_named_in_order(make_lab):
    lab = make_lab(pods=3)
    pods = lab.pods
    assert [p.name for p in pods] == ["pod-1", "pod-2", "pod-3"]
    assert all(p.status == "ready" and p.served == 0 and p.restarts == 0 for p in pods)
    pids = {p.pid for p in pods}
    assert len(pids) == 3 and os.getpid() not in pids
    for pid in pids:
        assert psutil.pid_exists(pid)
    # each reply names the pod that served it, and that pod's served counter moves
    r = lab.call("add_balance", user="Ravi", amount=5000)
    assert (r.ok, r.value, r.pod) == (True, 6000, "pod-1")
    assert {p.name: p.served for p in lab.pods} == {"pod-1": 1, "pod-2": 0, "pod-3": 0}


def test_kill_is_sigkill_and_the_process_is_gone(make_lab):
    lab = make_lab(pods=3)
    pid = lab.pods[2].pid
    info = lab.kill("pod-3")
    assert info.status == "dead"
    assert gone(pid)
    assert [p.status for p in lab.pods] == ["ready", "ready", "dead"]
    exited = [e for e in lab.history.events if e.pod == "pod-3" and e.kind == "exited"]
    assert len(exited) == 1 and exited[0].detail == "SIGKILL"
    # a dead pod leaves rotation at once: round robin now alternates the survivors
    assert [lab.call("add_balance", user="R", amount=1).pod for _ in range(4)] == ["pod-1", "pod-2"] * 2
    # asking the dead pod by name is a failed request, not an exception
    r = lab.call("add_balance", pod="pod-3", user="R", amount=1)
    assert not r.ok and "pod-3 is not running (SIGKILL)" in r.error
    with pytest.raises(fl.BadInput, match="already dead"):
        lab.kill("pod-3")
    with pytest.raises(fl.BadInput, match="no pod named 'pod-9'"):
        lab.kill("pod-9")


def test_request_in_flight_on_a_killed_pod_fails_with_a_crash_error():
    with fl.Lab(pods=2, app=slow_app()) as lab:
        pid = lab.pods[0].pid
        killer = threading.Timer(0.2, lambda: os.kill(pid, signal.SIGKILL))
        killer.start()
        r = lab.call("nap", pod="pod-1", seconds=30)
        killer.join()
        assert not r.ok
        assert r.error == "pod-1 crashed (SIGKILL) while handling nap"
        assert r.latency < defaults.CALL_TIMEOUT  # answered by the crash, not a timeout
        assert gone(pid)


def test_pipelined_requests_on_a_killed_pod_all_fail_and_the_rest_succeed():
    with fl.Lab(pods=2, app=slow_app()) as lab:

        def workload():
            for i in range(8):
                yield "nap", {"seconds": 0.05}
                if i == 5:
                    lab.kill("pod-2")

        run = lab.run(workload())
        crashed = [r for r in run.requests if not r.ok]
        assert crashed and all(r.pod == "pod-2" and "pod-2 crashed (SIGKILL)" in r.error for r in crashed)
        assert len(run.requests) == 8
        assert all(r.ok for r in run.requests if r.pod == "pod-1")


def test_restart_replaces_a_killed_pod_with_empty_memory_after_backoff(make_lab):
    lab = make_lab(pods=2, restart=True)
    session = lab.call("login", user="Ravi", pod="pod-2").value["session"]
    old_pid = lab.pods[1].pid
    lab.kill("pod-2")
    new = lab.wait_ready()[1]
    assert (new.name, new.status, new.restarts) == ("pod-2", "ready", 1)
    assert new.pid != old_pid and gone(old_pid)
    kinds = [e.kind for e in lab.history.events if e.pod == "pod-2"]
    assert kinds[-5:] == ["killed", "exited", "backoff", "restarted", "ready"]
    restarted = next(e for e in lab.history.events if e.kind == "restarted")
    backoff = next(e for e in lab.history.events if e.kind == "backoff")
    assert restarted.t - backoff.t >= defaults.RESTART_BACKOFF * 0.99
    whoami = lab.call("whoami", user="Ravi", session=session, pod="pod-2")
    if lab.state == "memory":  # the new process starts with empty memory
        assert not whoami.ok and "unknown session" in whoami.error
    else:  # the session lives in Redis, not in the pod
        assert whoami.ok and whoami.value == "Ravi"


def test_restart_backoff_doubles_and_is_capped():
    with fl.Lab(pods=1, restart=True) as lab:
        for _ in range(6):
            deadline = time.monotonic() + 10
            while lab.pods[0].status != "ready" and time.monotonic() < deadline:
                time.sleep(0.01)
            lab.kill("pod-1")
        waits = [float(e.detail.split()[2]) for e in lab.history.events if e.kind == "backoff"]
        expected = [min(defaults.RESTART_BACKOFF * 2**i, defaults.RESTART_BACKOFF_CAP) for i in range(6)]
        assert waits == pytest.approx(expected)


def test_scale_up_returns_with_exactly_n_ready_pods(make_lab):
    lab = make_lab(pods=1)
    pods = lab.scale(4)
    assert [p.name for p in pods] == ["pod-1", "pod-2", "pod-3", "pod-4"]
    assert all(p.status == "ready" for p in pods)
    lab.kill("pod-2")
    pods = lab.scale(4)  # the dead pod is replaced by a new name, never reused
    assert [p.name for p in pods] == ["pod-1", "pod-3", "pod-4", "pod-5"]


def test_scale_down_drains_in_flight_work_then_stops_gracefully():
    with fl.Lab(pods=3, app=slow_app()) as lab:
        pid3 = lab.pods[2].pid

        def workload():
            for _ in range(9):
                yield "nap", {"seconds": 0.1}  # 3 per pod, all in flight at once
            assert len(lab._pods["pod-3"].in_flight) > 0
            lab.scale(2)  # pod-3 still has naps in flight
            for _ in range(4):
                yield "ping", {}

        run = lab.run(workload())
        assert run.failed == 0 and len(run.requests) == 13
        assert run.by_pod()["pod-3"] == 3  # its in-flight work finished before it stopped
        pings = sorted((r for r in run.requests if r.endpoint == "ping"), key=lambda r: r.id)
        assert [r.value for r in pings] == ["pod-1", "pod-2"] * 2  # in the order they were sent
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2"]
        assert gone(pid3)
        stopped = [e for e in lab.history.events if e.pod == "pod-3" and e.kind == "stopped"]
        assert len(stopped) == 1 and stopped[0].detail == "exited normally"  # SIGTERM sufficed


def test_scale_rejects_bad_counts_and_changes_nothing():
    with fl.Lab(pods=2) as lab:
        before = lab.pods
        for bad in (-1, 2.5, "3", True, None, 10_000):
            with pytest.raises(fl.BadInput):
                lab.scale(bad)
        assert lab.pods == before


def test_start_methods_are_selectable():
    for method in ("fork", "spawn"):
        with fl.Lab(pods=2, start_method=method) as lab:
            assert lab.start_method == method
            assert lab.call("add_balance", user="Ravi", amount=1).value == 1001
            pids = [p.pid for p in lab.pods]
        assert all(gone(pid) for pid in pids)
    with pytest.raises(ValueError, match="start method"):
        fl.Lab(start_method="teleport")
