"""Honest latency: a request of an open-loop load is timed from when it was due.

The lab keeps at most ``OPEN_LOOP_MAX_IN_FLIGHT`` requests in a pod; the rest of an
overload waits in the lab's own queue before it is sent. Timing from send leaves that wait
out (coordinated omission): the measure plateaus at ~64 × the service time however long
customers wait. These tests overload one pod on purpose (a handler that sleeps: a lower
bound on its time, whatever the machine) and check that the wait is counted.
"""

import time

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import finpay_lab as fl  # noqa: E402
from finpay_lab import defaults  # noqa: E402
from finpay_lab.views import plots  # noqa: E402

SERVICE = 0.01  # seconds each request sleeps in its pod: a lower bound on its time
N = 100  # requests all due at once: more than one pod takes in flight
DEPTH = defaults.OPEN_LOOP_MAX_IN_FLIGHT


def sleeper():
    app = fl.App("sleeper")

    @app.endpoint
    def work(state, n: int, seconds: float = SERVICE):
        time.sleep(seconds)
        return n

    @app.endpoint
    def add_balance(state, user: str, amount: int):
        return amount

    return app


@pytest.fixture(scope="module")
def overload():
    """One pod, N requests due at the run's start: DEPTH are sent at once, the rest wait."""
    with fl.Lab(pods=1, app=sleeper()) as lab:
        run = lab.run([(0.0, "work", {"n": i}) for i in range(N)])
        yield run


def test_every_timed_request_carries_its_due_time(overload):
    run = overload
    assert run.ok == N and len(run.due) == N
    for r in run.requests:
        assert r.due == run.started  # every item was due at 0 s
        assert r.due <= r.sent  # the lab never sends early
        assert r.response_time == pytest.approx(r.received - r.due)
        assert r.response_time >= r.latency


def test_the_wait_in_the_labs_queue_is_counted(overload):
    run = overload
    by_send = sorted(run.requests, key=lambda r: r.sent)
    queued = by_send[DEPTH:]  # sent only once the pod had answered one: after ≥ one service time
    assert len(queued) == N - DEPTH
    first_reply = min(r.received for r in run.requests)
    for r in queued:
        assert r.sent >= first_reply
        assert r.response_time - r.latency >= SERVICE  # the wait that timing from send leaves out
    # One pod serves one at a time: the last reply came ≥ N service times after they were due.
    q = run.latency_quantiles()
    assert max(run.latencies()) >= N * SERVICE
    assert q[0.99] >= 0.98 * N * SERVICE
    sent = run.latency_quantiles(since="sent")
    assert all(q[k] >= sent[k] for k in q)


def test_the_summary_and_the_latency_figure_count_from_due(overload, tmp_path):
    run = overload
    q = run.latency_quantiles()
    assert f"p99 {q[0.99] * 1e3:.2f} ms" in run.summary()
    assert "from when each was due" in run.summary()
    fig = plots.latency(run, bucket=0.1)
    (p99,) = [line for line in fig.axes[0].get_lines() if line.get_gid() == "p99"]
    assert max(p99.get_ydata()) >= 0.9 * N * SERVICE * 1e3  # ms: the last customers' wait
    assert "from when each was due" in fig.alt
    fig.savefig(tmp_path / "due_latency.png")  # it draws without error


def test_due_times_pair_with_their_own_requests_though_replies_come_out_of_order():
    """Two pods, alternately slow and quick handlers: replies arrive in another order than
    sends; each response still gets the due time of its own item."""
    items = [(0.002 * i, "work", {"n": i, "seconds": 0.03 if i % 2 else 0.001}) for i in range(40)]
    with fl.Lab(pods=2, app=sleeper()) as lab:
        run = lab.run(items)
    assert [r.value for r in run.requests] != sorted(r.value for r in run.requests)  # out of order
    for r in run.requests:
        assert r.due == pytest.approx(run.started + 0.002 * r.value, abs=1e-9)


def test_untimed_requests_have_no_due_time_and_one_measure():
    with fl.Lab(pods=1, app=sleeper()) as lab:
        run = lab.run([("work", {"n": i, "seconds": 0.0}) for i in range(20)])
        called = lab.call("work", n=1, seconds=0.0)
    assert run.due == [] and all(r.due is None for r in run.requests)
    assert run.latency_quantiles() == run.latency_quantiles(since="sent")
    assert all(r.response_time == r.latency for r in run.requests)
    assert called.due is None and called.response_time == called.latency
    assert "from when each was due" not in run.summary()


def test_a_load_shape_run_has_its_plan_as_due_times_and_in_its_frame():
    pytest.importorskip("pandas")
    shape = fl.load.constant(rps=100, seconds=0.3, mix={"add_balance": 1}, seed=3)
    with fl.Lab(pods=2, app=sleeper()) as lab:
        run = lab.run(shape)
    planned = sorted(run.started + at for at in shape.arrivals())
    assert sorted(r.due for r in run.requests) == pytest.approx(planned, abs=1e-9)
    frame = run.to_frame()
    assert list(frame["due"]) == pytest.approx([r.due for r in run.requests])


def test_bad_since_is_refused(overload):
    for bad in ("send", None, 1):
        with pytest.raises(fl.BadInput, match='since must be "due"'):
            overload.latency_quantiles(since=bad)


def test_the_replicas_figure_counts_from_due_on_the_runs_clock(overload):
    run = overload
    fig = plots.replicas(run, bucket=0.5)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()}
    assert max(lines["p99"].get_ydata()) >= 0.9 * N * SERVICE * 1e3  # ms, from when each was due
    assert min(lines["p99"].get_xdata()) < 0.5  # seconds since the run started, not lab time
    assert fig.axes[1].get_xlabel() == "time since the run started (s)"
