"""Every call and pod event is recorded with times; runs keep every pod busy."""

import time

import pytest

import finpay_lab as fl


def test_calls_and_events_are_recorded_in_order_with_times():
    with fl.Lab(pods=2) as lab:
        t0 = lab.now()
        r1 = lab.call("add_balance", user="Ravi", amount=5000)
        lab.kill("pod-2")
        r2 = lab.call("add_balance", user="Meena", amount=3000)
        assert lab.history.requests == [r1, r2]
        assert t0 <= r1.sent <= r1.received <= r2.sent <= r2.received <= lab.now()
        assert r1.latency == pytest.approx(r1.received - r1.sent)
        assert 0 < r1.service <= r1.latency
        kinds = [(e.pod, e.kind) for e in lab.history.events]
        assert sorted(kinds[:4]) == [
            ("pod-1", "ready"),
            ("pod-1", "started"),
            ("pod-2", "ready"),
            ("pod-2", "started"),
        ]  # the pods start concurrently
        assert kinds[4:] == [("pod-2", "killed"), ("pod-2", "exited")]
        assert "pod-2 exited: SIGKILL" in lab.history.event_log()
        assert r1.user == "Ravi"


def test_run_pipelines_requests_so_every_pod_is_busy():
    app = fl.App("slow")

    @app.endpoint
    def work(state):
        time.sleep(0.02)
        return 1

    with fl.Lab(pods=3, app=app) as lab:
        run = lab.run([("work", {})] * 60)
        assert run.ok == 60 and run.failed == 0
        assert run.by_pod() == {"pod-1": 20, "pod-2": 20, "pod-3": 20}
        # pipelined: a pod's next request was already waiting when it finished the last,
        # so each pod's requests overlap in time (sent before the previous one came back)
        for pod in ("pod-1", "pod-2", "pod-3"):
            rs = sorted((r for r in run.requests if r.pod == pod), key=lambda r: r.id)
            overlapping = sum(b.sent < a.received for a, b in zip(rs, rs[1:]))
            assert overlapping >= len(rs) - 2
        assert run.duration < 60 * 0.02  # three pods in parallel, not one after another
        assert "60 requests" in run.summary() and "pod-1 20" in run.summary()


def test_timed_workload_is_sent_on_schedule():
    with fl.Lab(pods=2) as lab:
        work = [(i * 0.01, "add_balance", {"user": "Ravi", "amount": i}) for i in range(30)]
        run = lab.run(work)
        sent = sorted(r.sent - run.started for r in run.requests)
        assert run.ok == 30 and run.late <= 3  # (a stalled shared CI machine may delay a few)
        for i, s in enumerate(sent):
            assert s >= i * 0.01 - 1e-3  # never early


def test_to_frame_gives_one_row_per_request():
    pd = pytest.importorskip("pandas")
    with fl.Lab(pods=2) as lab:
        run = lab.run([("add_balance", {"user": "Ravi", "amount": 1})] * 10 + [("nope", {})])
        df = run.to_frame()
        assert isinstance(df, pd.DataFrame) and len(df) == 11
        assert df["ok"].sum() == 10 and set(df["pod"]) == {"pod-1", "pod-2"}
        assert list(df.columns[:4]) == ["id", "endpoint", "user", "pod"]
        assert len(lab.history.to_frame()) == 11


def test_a_runs_summary_times_its_events_from_the_run_start_as_its_figures_do():
    with fl.Lab(pods=3) as lab:
        time.sleep(1.0)  # the lab's clock is now a second ahead of any run's
        run = lab.run(
            [(i * 0.01, "add_balance", {"user": "Ravi", "amount": 1}) for i in range(40)],
            chaos=[fl.chaos.kill("pod-2", at=0.2)],
        )
    killed = next(e for e in run.events if e.kind == "killed")
    lines = [line for line in run.summary().splitlines() if "pod-2 killed" in line]
    assert lines and float(lines[0].split("s")[0]) == round(killed.t - run.started, 3)
    assert killed.t - run.started < run.duration < 1.0 <= killed.t  # run time, not the lab's
    assert "events (seconds since the run started" in run.summary()
    assert str(killed).startswith(f"{killed.t:8.3f}s")  # the lab's own log keeps the lab's time
