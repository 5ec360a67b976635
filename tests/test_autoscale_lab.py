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


# ---------------------------------------------------------------------- the HPA in the lab
SERVICE = 0.02  # each request occupies its pod 20 ms: a pod serves at most 50/s


def surge_app(startup_delay=0.0):
    app = fl.App("surge", startup_delay=startup_delay)

    @app.endpoint
    def balance(state, user="Ravi"):
        time.sleep(SERVICE)  # a fixed service time: the pods' capacity does not depend on the machine
        return 1

    return app


def surge(seconds=4.0, rps=300):
    # 300/s of 20 ms requests is 6 pods busy all the time: 7.5 pods at 80%, 2.5× the 3 we start with.
    return fl.load.constant(rps=rps, seconds=seconds, mix={"balance": 1}, seed=3)


def check_rules(hpa, decisions):
    """Each decision obeys Kubernetes' rules, whatever the timing made the path."""
    for before, d in zip(decisions, decisions[1:]):
        assert d.replicas == before.new_replicas  # nothing else changed the replica count
    for d in decisions:
        assert d.new_replicas <= max(d.replicas + 4, 2 * d.replicas)  # max(+4, +100%) per period
        assert hpa.min <= d.new_replicas <= hpa.max
        if d.scaled and d.unready == 0 and d.missing == 0:
            # the arithmetic in words is the arithmetic done: ceil(ready × utilization / target)
            assert f"ceil({d.ready} × {d.utilization:.2f} / {hpa.target:.2f}) = {d.desired}" in d.arithmetic
            assert d.desired == -(-round(d.ready * d.utilization * 100) // round(hpa.target * 100))


def test_the_lab_climbs_under_a_surge_by_the_rules():
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.5, scale_down_window=30.0)
    with fl.Lab(pods=3, app=surge_app(), autoscaler=hpa) as lab:
        assert lab.autoscaler is hpa
        run = lab.run(surge())
        decisions = list(lab.autoscaler.decisions)
        assert len(decisions) >= 5  # one a period (the first after a period of measuring)
        check_rules(hpa, decisions)
        ups = [d for d in decisions if d.scaled]
        assert all(d.new_replicas > d.replicas for d in ups)  # monotone while overloaded
        # Even a slow lab sends 250/s: 3, 4 and 5 pods (150-250/s) are all overloaded.
        assert len(ups) >= 2 and decisions[-1].new_replicas >= 5
        assert ups[0].replicas == 3 and ups[0].utilization >= 0.9 and ups[0].unready == 0
        # every scale-up is an event with its arithmetic; the new pods are the lab's pods
        events = [e for e in lab.history.events if e.kind == "autoscaled"]
        assert [e.detail for e in events] == [d.arithmetic for d in ups]
        assert len(lab.pods) == decisions[-1].new_replicas
        assert all(p.status in ("ready", "busy") for p in lab.pods)
        started = [e.pod for e in run.events if e.kind == "started"]
        assert len(started) == decisions[-1].new_replicas - 3
        assert run.failed == 0
        assert set(run.by_pod()) > {"pod-1", "pod-2", "pod-3"}  # new pods took load


def test_nothing_scales_between_runs():
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.25, scale_down_window=0.0)
    with fl.Lab(pods=3, app=surge_app(), autoscaler=hpa) as lab:
        lab.run(surge(seconds=1.5))
        n, pods, events = len(hpa.decisions), len(lab.pods), len(lab.history.events)
        assert n >= 3
        time.sleep(4 * hpa.period)  # idle pods, four periods: an HPA driven by runs does nothing
        assert len(lab.pods) == pods and len(hpa.decisions) == n and len(lab.history.events) == events
        lab.call("balance")  # a call is not a run: still nothing
        assert len(hpa.decisions) == n and len(lab.pods) == pods


def test_a_quiet_run_scales_down_gracefully():
    # After the surge, a trickle: utilization far under the target, the window short.
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.25, scale_down_window=0.5)
    with fl.Lab(pods=3, app=surge_app(), autoscaler=hpa) as lab:
        lab.run(surge(seconds=2.0))
        high = len(lab.pods)
        assert high > 3
        quiet = lab.run(fl.load.constant(rps=20, seconds=2.5, mix={"balance": 1}))
        assert quiet.failed == 0  # drained pods finished every request they had
        downs = [d for d in hpa.decisions if d.new_replicas < d.replicas]
        assert downs and downs[-1].new_replicas == 3
        # the run finished its drains before returning: exactly 3 pods, all serving, none left stopping
        assert [p.status for p in lab.pods] == ["ready"] * 3
        stopped = [e.pod for e in quiet.events if e.kind == "stopped"]
        assert len(stopped) == high - 3 and "pod-1" not in stopped  # the newest go first
        assert not [e for e in quiet.events if e.kind == "killed"]  # SIGTERM sufficed


def test_pods_starting_count_as_not_ready():
    # Pods take 1 s to get ready: the decisions meanwhile count them "not ready", and the
    # ready pods lag what the HPA asked for.
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.25, scale_down_window=30.0)
    with fl.Lab(pods=3, app=surge_app(startup_delay=1.0), autoscaler=hpa) as lab:
        run = lab.run(surge(seconds=2.5))
        check_rules(hpa, hpa.decisions)
        first_up = next(d for d in hpa.decisions if d.scaled)
        waiting = [d for d in hpa.decisions if d.time > first_up.time and d.time < first_up.time + 0.9]
        assert waiting and all(d.unready >= first_up.new_replicas - first_up.replicas for d in waiting)
        assert all(
            "not ready as 0%" in d.arithmetic for d in waiting if d.utilization and d.utilization > 0.88
        )
        ready = {e.pod: e.t for e in run.events if e.kind == "ready"}
        started = {e.pod: e.t for e in run.events if e.kind == "started" and e.pod in ready}
        assert started, "pods the HPA started became ready during the run"
        for pod, t in started.items():
            # The pod waits its 1 s from its own start; the lab writes "started" once the fork
            # has returned, which on a loaded machine can be a little later (0.95 s was seen).
            assert ready[pod] - t >= 0.5
        # not routable before it is ready: no request of the run was sent to a pod earlier
        assert all(r.sent >= ready[r.pod] for r in run.requests if r.pod in started)


def test_bad_autoscaler_is_refused_and_starts_nothing():
    import psutil

    before = len(psutil.Process().children(recursive=True))
    for bad in ("hpa", 3, fl.HPA):
        with pytest.raises(fl.BadInput, match="autoscaler must be an fl.HPA"):
            fl.Lab(pods=1, autoscaler=bad)
    used = fl.HPA(min=1, max=3, target=0.8)
    used.decide(0.0, 1, [0.5])
    with pytest.raises(fl.BadInput, match="new fl.HPA"):
        fl.Lab(pods=1, autoscaler=used)
    assert len(psutil.Process().children(recursive=True)) == before


def test_replicas_figure_from_a_run():
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.5, scale_down_window=30.0)
    with fl.Lab(pods=3, app=surge_app(), autoscaler=hpa) as lab:
        run = lab.run(surge(seconds=2.5))
        fig = fl.plots.replicas(run)
    gids = {a.get_gid() for ax in fig.axes for a in ax.get_children()}
    assert {"demand", "ready", "asked", "scaled-up", "p99"} <= gids
    ready = next(a for ax in fig.axes for a in ax.get_lines() if a.get_gid() == "ready")
    ys = list(ready.get_ydata())
    assert ys[0] == 3 and max(ys) == hpa.decisions[-1].new_replicas  # replayed from the pod events
    with pytest.raises(fl.BadInput, match="needs a Run"):
        fl.plots.replicas("run")
    with pytest.raises(fl.BadInput, match="bucket"):
        fl.plots.replicas(run, bucket=0)


# ---------------------------------------------------------------------- the live dashboard
def test_the_dashboard_shows_the_hpa_and_it_decides_during_the_background_load():
    import html
    import re

    def text(widget):
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", widget.value)).split())

    hpa = fl.HPA(min=3, max=6, target=0.8, period=0.25, scale_down_window=0.0)
    with fl.Lab(pods=3, autoscaler=hpa) as lab:
        board = fl.dashboard(lab)
        try:
            board.refresh()
            assert "HPA: target 80%, utilization not measured yet (3–6 pods)" in text(board.header)
            board.rate.value = 100
            board.load_button.value = True  # a stream of short lab.runs: the HPA decides in them
            wait_until(lambda: len(hpa.decisions) >= 2)
            board.load_button.value = False
            wait_until(lambda: board.load_thread is None)
            board.refresh()
            shown = re.search(r"HPA: target 80%, utilization (\d+)% \(3–6 pods\)", text(board.header))
            assert shown and int(shown[1]) == round(hpa.decisions[-1].utilization * 100)
            assert html.escape(hpa.decisions[-1].arithmetic, quote=True) in board.header.value  # the tooltip
        finally:
            board.close()
    with fl.Lab(pods=1) as plain:  # no autoscaler: no word of one
        board = fl.dashboard(plain)
        try:
            board.refresh()
            assert "HPA" not in text(board.header)
        finally:
            board.close()


def test_a_reader_never_sees_a_half_written_counter():
    # The pod is mid-write (odd sequence) and the pair is torn: the total already grew
    # while the handler's start is not yet cleared, so the running part would count twice.
    # The reader waits for the write to end, then reads the whole pair.
    import ctypes
    import threading

    import multiprocess

    from finpay_lab.runtime.busy import BusyCounter

    shared = multiprocess.get_context("forkserver").RawArray(ctypes.c_double, 3)
    shared[0], shared[1], shared[2] = 1.0, 5.0, time.monotonic() - 1.0
    got = []
    reader = threading.Thread(target=lambda: got.append(BusyCounter(shared).read()))
    reader.start()
    reader.join(0.1)
    assert reader.is_alive() and not got  # still waiting: the sequence is odd
    shared[2], shared[0] = 0.0, 2.0  # the write ends
    reader.join(5)
    assert got[0][1] == 5.0


def test_pods_still_starting_are_removed_first(tmp_path):
    # New pods cannot get ready (their readiness check fails: the gate is gone once the
    # first three are up). The quiet run's scale-down stops those starting pods (SIGTERM
    # during their start-up), not the serving ones.
    gate = tmp_path / "gate"
    gate.touch()
    app = surge_app()
    app.readiness(lambda state: os.path.exists(gate))
    hpa = fl.HPA(min=3, max=9, target=0.8, period=0.25, scale_down_window=0.0)
    with fl.Lab(pods=3, app=app, autoscaler=hpa) as lab:
        gate.unlink()
        lab.run(surge(seconds=0.8))
        starting = {p.name for p in lab.pods if p.status == "starting"}
        assert starting  # asked for, never ready
        first_up = next(d for d in hpa.decisions if d.scaled)
        assert all(d.unready >= 1 for d in hpa.decisions if d.time > first_up.time)
        quiet = lab.run(fl.load.constant(rps=10, seconds=1.0, mix={"balance": 1}))
        assert quiet.failed == 0
        stopped = {e.pod for e in quiet.events if e.kind == "stopped"}
        assert stopped == starting and {p.name for p in lab.pods} == {"pod-1", "pod-2", "pod-3"}
        assert not any(e.kind == "ready" and e.pod in starting for e in lab.history.events)
