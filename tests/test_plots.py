"""Figures: drawn from real runs (real pods, real kills), checked by what they contain.

Each figure is also saved to tests/artifacts/*.png, to be looked at.
"""

import dataclasses
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import finpay_lab as fl  # noqa: E402
from finpay_lab.views import plots  # noqa: E402

from .helpers import SERVICE, kill_midway, work_app  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"


def save(fig, name):
    assert isinstance(fig, Figure)
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / f"plots_{name}.png", dpi=100)


@pytest.fixture(scope="module")
def runs():
    """Two real runs of the same workload: pod-2 killed midway, replaced or not."""
    out = {}
    for restart in (False, True):
        with fl.Lab(pods=3, app=work_app(), restart=restart) as lab:
            out[restart] = lab.run(kill_midway(lab))
    return out


def with_fault(run, start, end, pod="pod-3", detail="pause pod-3 for 0.3 s"):
    """The run with one chaos fault added to its events (t and end are lab times)."""
    event = fl.PodEvent(
        run.started + start, pod, "fault", detail, end=None if end is None else run.started + end
    )
    return fl.Run(run.lab, run.requests, run.events + [event], run.started, run.ended)


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def one(items):
    items = list(items)
    assert len(items) == 1, items
    return items[0]


def legend_labels(ax):
    assert ax.get_legend() is not None
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ---------------------------------------------------------------------- timeline
@pytest.mark.parametrize("restart", [False, True], ids=["no-restart", "restart"])
def test_timeline_has_a_lane_per_pod_and_marks_failures_deaths_and_restarts(runs, restart):
    run = runs[restart]
    assert run.failed > 0, "the kill should catch requests in flight"
    fig = plots.timeline(run)
    save(fig, f"timeline_{'restart' if restart else 'no_restart'}")
    ax = one(fig.axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["pod-1", "pod-2", "pod-3"]
    failed = one(by_gid(ax, "failed"))
    assert len(failed.get_offsets()) == run.failed  # one red × per failed request
    assert to_hex(failed.get_edgecolor()[0]) == plots.FAILED
    for pod in ("pod-1", "pod-2", "pod-3"):
        dots = one(by_gid(ax, f"ok:{pod}"))
        assert len(dots.get_offsets()) == run.by_pod()[pod]
        assert to_hex(dots.get_facecolor()[0]) == plots.pod_colour(pod)
    killed = one(e for e in run.events if e.kind == "killed")
    deaths = one(by_gid(ax, "deaths"))
    assert list(deaths.get_xdata()) == [killed.t - run.started] and list(deaths.get_ydata()) == [
        1
    ]  # pod-2's lane
    ready = one(by_gid(ax, "ready")).get_offsets()
    assert len(ready) == (1 if restart else 0)  # the replacement pod-2 coming back
    if restart:
        assert ready[0][0] > killed.t - run.started and ready[0][1] == 1
    assert "(s)" in ax.get_xlabel()
    assert "failed request" in legend_labels(ax) and "pod died" in legend_labels(ax)


def test_timeline_puts_requests_no_pod_could_take_on_their_own_lane():
    with fl.Lab(pods=1) as lab:

        def workload():
            for i in range(40):
                if i == 20:
                    lab.kill("pod-1")
                yield "add_balance", {"user": "Ravi", "amount": i}

        run = lab.run(workload())
    assert run.failed >= 20
    fig = plots.timeline(run)
    save(fig, "timeline_no_pod")
    ax = one(fig.axes)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["pod-1", plots.NO_POD]
    assert len(one(by_gid(ax, "failed")).get_offsets()) == run.failed


# ---------------------------------------------------------------------- faults
@pytest.mark.parametrize("figure", ["timeline", "throughput", "latency", "overview"])
def test_a_fault_is_shaded_over_exactly_its_window(runs, figure):
    run = with_fault(runs[True], 0.2, 0.5)
    event = run.events[-1]
    fig = getattr(plots, figure)(run)
    save(fig, f"fault_{figure}")
    for ax in fig.axes:
        patch = one(by_gid(ax, "fault"))
        assert patch.get_x() == pytest.approx(event.t - run.started)  # seconds since the run started
        assert patch.get_x() + patch.get_width() == pytest.approx(event.end - run.started)
        assert "fault (chaos)" in legend_labels(ax)


def test_an_instant_fault_is_a_line_at_its_time(runs):
    run = with_fault(runs[False], 1.0, None, detail="kill pod-2 (SIGKILL)")  # a kill has no end
    line = one(by_gid(one(plots.throughput(run).axes), "fault"))
    assert list(line.get_xdata()) == [pytest.approx(1.0)] * 2  # seconds since the run started


# ---------------------------------------------------------------------- throughput, latency
@pytest.mark.parametrize("bucket", [None, 0.1, 1.0])
def test_throughput_buckets_count_every_request_once(runs, bucket):
    run = runs[True]
    fig = plots.throughput(run, bucket=bucket)
    ax = one(fig.axes)
    bars = [bar for container in ax.containers for bar in container]
    assert sum(b.get_height() * b.get_width() for b in bars) == pytest.approx(len(run.requests))
    failed = [bar for c in ax.containers if c.get_label() == "failed" for bar in c]
    assert sum(b.get_height() * b.get_width() for b in failed) == pytest.approx(run.failed)
    last = max(b.get_x() for b in bars)  # the last bucket also takes what is left of the run
    widths = {round(b.get_width(), 6) for b in bars if b.get_x() < last}
    if bucket is None:  # chosen from the run: ≤ 40 buckets of ≤ 1 s, ~10 requests or more each
        save(fig, "throughput")
        assert all(run.duration / 40 <= w <= 1.0 for w in widths)
        assert all(w >= 10 * run.duration / len(run.requests) for w in widths)
    else:
        assert widths == {bucket}
    assert ax.get_ylabel() == "requests/s" and "(s)" in ax.get_xlabel()
    assert {"ok on pod-1", "ok on pod-2", "ok on pod-3", "failed", "pod died"} <= set(legend_labels(ax))
    assert len(by_gid(ax, "death:pod-2")) == 1


def test_bad_buckets_are_refused(runs):
    for bucket in (0, -1, "1s", True, float("nan"), 1e-6):
        with pytest.raises(fl.BadInput, match="bucket"):
            plots.throughput(runs[True], bucket=bucket)


def test_latency_shows_p50_p95_p99_in_ms(runs):
    run = runs[True]
    fig = plots.latency(run)
    save(fig, "latency")
    ax = one(fig.axes)
    lines = {gid: one(by_gid(ax, gid)) for gid in ("p50", "p95", "p99")}
    p50, p95, p99 = (lines[g].get_ydata() for g in ("p50", "p95", "p99"))
    assert len(p50) > 5
    assert all(a <= b <= c for a, b, c in zip(p50, p95, p99, strict=True))
    assert min(p50) >= SERVICE * 1e3  # milliseconds: no request is faster than its handler
    # counted from when each request was due (its customer's wait), not from send
    assert max(p99) <= max(r.response_time for r in run.requests) * 1e3
    assert "(ms)" in ax.get_ylabel()
    assert {"p50", "p95", "p99"} <= set(legend_labels(ax))


def test_latency_switches_to_a_log_scale_when_the_range_is_wide(runs):
    run = runs[False]
    # due=None: the panel counts from send for these, so their latency is what it draws
    slow = [
        dataclasses.replace(r, latency=r.latency * 500, due=None) if i % 10 == 0 else r
        for i, r in enumerate(run.requests)
    ]
    wide = fl.Run(run.lab, slow, run.events, run.started, run.ended)
    assert one(plots.latency(wide).axes).get_yscale() == "log"
    assert one(plots.latency(run).axes).get_yscale() == "linear"


# ---------------------------------------------------------------------- overview, compare
def test_overview_stacks_timeline_throughput_and_latency_on_one_time_axis(runs):
    run = with_fault(runs[True], 0.3, 0.6)
    fig = plots.overview(run)
    save(fig, "overview")
    timeline_ax, throughput_ax, latency_ax = fig.axes
    assert throughput_ax.get_shared_x_axes().joined(timeline_ax, latency_ax)
    assert timeline_ax.get_title().startswith("Requests by pod")
    assert throughput_ax.get_ylabel() == "requests/s" and "(ms)" in latency_ax.get_ylabel()
    assert "(s)" in latency_ax.get_xlabel()


def test_compare_puts_two_runs_side_by_side_on_shared_axes(runs):
    a, b = runs[False], runs[True]
    fig = plots.compare(a, b, labels=("restart=False", "restart=True"))
    save(fig, "compare")
    (top_a, top_b), (counts_a, counts_b) = fig.axes[:2], fig.axes[2:]
    assert top_a.get_shared_y_axes().joined(top_a, top_b)
    assert top_a.get_shared_x_axes().joined(top_a, top_b)
    assert counts_a.get_shared_x_axes().joined(counts_a, counts_b)
    assert top_a.get_title().startswith("restart=False") and top_b.get_title().startswith("restart=True")
    for ax, run in ((counts_a, a), (counts_b, b)):
        assert [bar.get_width() for bar in ax.patches] == [run.failed, run.ok]
    for ax, run in ((top_a, a), (top_b, b)):  # both counted from their own start
        assert ax.get_xlim()[0] < 0.05
        assert sum(p.get_height() * p.get_width() for c in ax.containers for p in c) == pytest.approx(
            len(run.requests)
        )
    assert "requests/s" in top_a.get_ylabel() and "(s)" in top_a.get_xlabel()


# ---------------------------------------------------------------------- scaling
def test_scaling_draws_the_ideal_line_and_the_share_of_it_reached():
    fig = plots.scaling({1: 1000.0, 2: 1900.0, 4: 3400.0, 8: 5600.0})
    save(fig, "scaling")
    ax = one(fig.axes)
    ideal = one(by_gid(ax, "ideal"))
    assert list(ideal.get_xdata()) == [0, 1, 2, 4, 8]
    assert list(ideal.get_ydata()) == [0.0, 1000.0, 2000.0, 4000.0, 8000.0]  # slope 1000/s per pod
    assert [t.get_text() for t in ax.texts] == ["100%", "95%", "85%", "70%"]
    assert ax.get_xlabel() == "pods" and "requests/s" in ax.get_ylabel()
    assert ax.get_legend() is not None


def test_scaling_takes_runs_and_refuses_nonsense(runs):
    run = runs[True]
    ax = one(plots.scaling({3: run, 6: 2 * run.throughput}).axes)
    assert list(one(by_gid(ax, "measured")).get_ydata()) == [run.throughput, 2 * run.throughput]
    assert list(one(by_gid(ax, "ideal")).get_ydata()) == pytest.approx(
        [0, run.throughput, 2 * run.throughput]
    )
    for bad in ({}, {0: 10.0}, {"3": 10.0}, {3: "fast"}, [1, 2]):
        with pytest.raises(fl.BadInput):
            plots.scaling(bad)


# ---------------------------------------------------------------------- balances, losses
def test_balances_groups_one_bar_per_pod_by_customer():
    data = {
        "Ravi": {"pod-1": 6000, "pod-2": 1000, "pod-3": 1000},
        "Priya": {"pod-1": 2500, "pod-2": 2500, "pod-3": 2500},
    }
    fig = plots.balances(data)
    save(fig, "balances_memory")
    ax = one(fig.axes)
    for pod, heights in (("pod-1", [6000, 2500]), ("pod-2", [1000, 2500]), ("pod-3", [1000, 2500])):
        bars = by_gid(ax, f"balance:{pod}")
        assert [b.get_height() for b in bars] == heights
        assert {to_hex(b.get_facecolor()) for b in bars} == {plots.pod_colour(pod)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Ravi ≠", "Priya"]
    assert "disagree on 1 of 2" in ax.get_title()
    assert "₹" in ax.get_ylabel() and ax.yaxis.get_major_formatter()(5000, 0) == "₹5,000"
    assert legend_labels(ax) == ["pod-1", "pod-2", "pod-3"]


def test_balances_of_shared_state_agree():
    fig = plots.balances({user: {f"pod-{i}": 5000 for i in (1, 2, 3)} for user in ("Ravi", "Landlord")})
    save(fig, "balances_redis")
    assert "every pod agrees" in one(fig.axes).get_title()
    with pytest.raises(fl.BadInput):
        plots.balances({"Ravi": 5000})


def test_balances_shows_the_customers_pods_disagree_on_first():
    data = {f"cust-{i:03}": {"pod-1": 10000, "pod-2": 10000} for i in range(40)}
    data["cust-031"] = {"pod-1": 10500, "pod-2": 10000}
    ax = one(plots.balances(data, limit=5).axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "cust-000",
        "cust-001",
        "cust-002",
        "cust-003",
        "cust-031 ≠",
    ]
    assert "5 of 40 shown" in ax.get_xlabel() and "disagree on 1 of 40" in ax.get_title()
    ax = one(plots.balances(data, users=["cust-031"]).axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cust-031 ≠"]
    with pytest.raises(fl.BadInput):
        plots.balances(data, users=["nobody"])


def test_balances_takes_a_lab():
    with fl.Lab(pods=2) as lab:
        books = lab.balances()
        fig = plots.balances(lab)
    save(fig, "balances_lab")
    ax = one(fig.axes)
    shown = [t.get_text().rstrip(" ≠") for t in ax.get_xticklabels()]
    assert 0 < len(shown) <= 12 and set(shown) <= set(books)
    assert len(ax.patches) == sum(len(books[u]) for u in shown)


def audit(**fields):
    base = dict(
        divergent_balances={},
        wrong_balances={},
        lost_sessions=[],
        lost_payments=[],
        negative_balances={},
        double_debits=[],
        money_created=0,
        notifications=SimpleNamespace(lost=[]),
    )
    return SimpleNamespace(**{**base, **fields})


def test_losses_shows_what_each_customer_lost():
    a = audit(
        divergent_balances={"Ravi": {"pod-1": 6000, "pod-2": 1000}},
        wrong_balances={"Ravi": {"expected": 6000, "seen": {"pod-2": 1000}}},
        lost_sessions=["Ravi", "Asha", "Ravi"],
        lost_payments=[("rent-nov", "Meera", "Landlord", 5000)],
        notifications=SimpleNamespace(lost=[("Asha", "Payment Sent"), ("Asha", "OTP"), ("Meera", "OTP")]),
        negative_balances={"Meera": -500},
        money_created=5000,
    )
    fig = plots.losses(a)
    save(fig, "losses")
    ax = one(fig.axes)
    widths = {label: [b.get_width() for b in by_gid(ax, label)] for label, _ in plots.LOSSES}
    # Asha 3, Meera 3 (a payment, an alert, a balance below zero), Ravi 3: ties go by name
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Asha", "Meera", "Ravi"]
    assert widths == {
        "lost sessions": [1, 0, 2],
        "lost payments": [0, 1, 0],
        "lost SMS alerts": [2, 1, 0],
        "wrong balance": [0, 1, 1],
    }
    assert "3 affected" in ax.get_title() and "₹5,000 created" in ax.get_title()
    assert "(count)" in ax.get_xlabel()
    assert legend_labels(ax) == [label for label, _ in plots.LOSSES]


def test_losses_shows_the_customers_who_lost_most_when_there_are_many():
    lost = [f"cust-{i:03}" for i in range(30)] + ["cust-007"] * 4
    ax = one(plots.losses(audit(lost_sessions=lost), limit=10).axes)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 10 and labels[0] == "cust-007"
    assert "30 affected" in ax.get_title() and "10 of 30" in ax.get_xlabel()


def test_losses_of_a_clean_audit_says_nothing_was_lost():
    fig = plots.losses(audit())
    save(fig, "losses_none")
    assert one(by_gid(one(fig.axes), "nothing-lost")).get_text().startswith("Nothing lost")
    text = one(
        by_gid(one(plots.losses(audit(money_created=-300, double_debits=[("p1", 2)])).axes), "nothing-lost")
    ).get_text()
    assert "₹300 destroyed" in text and "1 payment applied twice" in text
    with pytest.raises(fl.BadInput, match="audit"):
        plots.losses({"lost_sessions": []})


def test_losses_takes_a_real_audit():
    with fl.Lab(pods=2) as lab:
        fig = plots.losses(lab.audit())
    assert one(by_gid(one(fig.axes), "nothing-lost")).get_text().startswith("Nothing lost")


# ---------------------------------------------------------------------- the module itself
def test_bad_runs_are_refused_with_a_clear_error():
    for figure in (plots.timeline, plots.throughput, plots.latency, plots.overview):
        with pytest.raises(fl.BadInput, match="needs a Run"):
            figure("not a run")


def test_pod_colours_are_stable_and_failures_have_their_own():
    assert plots.pod_colour("pod-1") == plots.pod_colour("pod-1") != plots.pod_colour("pod-2")
    looks = {(plots.pod_colour(f"pod-{i}"), plots.pod_marker(f"pod-{i}")) for i in range(1, 17)}
    assert len(looks) == 16 and plots.FAILED not in {colour for colour, _ in looks}


def test_public_names_and_no_global_matplotlib_state():
    assert sorted(plots.__all__) == sorted(
        n
        for n in vars(plots)
        if not n.startswith("_")
        and callable(getattr(plots, n))
        and getattr(plots, n).__module__ == plots.__name__
    )
    before = dict(matplotlib.rcParams)
    plots.scaling({1: 10.0, 2: 20.0})
    assert dict(matplotlib.rcParams) == before
    # rcParams.copy(): reading rcParams["backend"] would itself import pyplot
    code = (
        "import matplotlib as m, sys; before = m.rcParams.copy(); import finpay_lab.views.plots; "
        "assert dict.__eq__(m.rcParams.copy(), before); assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_figure_a_notebook_cell_returns_is_shown_as_an_image():
    # A bare matplotlib Figure shows as "<Figure size ...>" unless %matplotlib ran first.
    assert plots.scaling({1: 10.0})._repr_png_().startswith(b"\x89PNG")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = "from finpay_lab.views import plots\nplots.scaling({1: 100.0, 2: 190.0})"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    (output,) = nb.cells[0].outputs
    assert "image/png" in output["data"]
