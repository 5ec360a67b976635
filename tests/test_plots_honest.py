"""Honest figures (issue 13): one clock, demand over throughput, a compact compare, colours
and markers that tell 30 pods apart, labels that never overlap, a caption under every
figure, and a sequence diagram of requests around a crash. Drawn from real runs.

Each figure is also saved to tests/artifacts/honest_*.png, to be looked at.
"""

import itertools
import time
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import finpay_lab as fl  # noqa: E402
from finpay_lab.views import live_chart, plots  # noqa: E402

from .helpers import kill_midway, work_app  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"
OKABE_ITO = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"]
TIME_AXIS = "time since the run started (s)"


def save(fig, name):
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / f"honest_{name}.png", dpi=100)


OVERLOAD = fl.load.constant(rps=600, seconds=1.0, mix={"add_balance": 1})  # 6 × what 1 pod serves


@pytest.fixture(scope="module")
def runs():
    out = {}
    with fl.Lab(pods=3, app=work_app(), restart=True) as lab:
        time.sleep(0.6)  # the lab's clock is past 0.6 s when the run starts: two origins differ
        out["kill"] = lab.run(kill_midway(lab))
    with fl.Lab(pods=3, app=work_app()) as lab:  # 600 due per second, 3 pods serve ≤ 300
        out["overload"] = lab.run((at, "work", {"user": "u"}) for at in OVERLOAD.arrivals())
    with fl.Lab(pods=30, app=work_app()) as lab:
        out["thirty"] = lab.run((i / 1200, "work", {"user": f"u{i}"}) for i in range(600))
    return out


def with_faults(run, *faults):
    """The run with chaos faults added: (start, end or None, detail), times from its start."""
    extra = [
        fl.PodEvent(run.started + a, None, "fault", detail, end=None if b is None else run.started + b)
        for a, b, detail in faults
    ]
    return fl.Run(run.lab, run.requests, run.events + extra, run.started, run.ended)


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def bars_area(ax, label=None):
    return sum(
        p.get_height() * p.get_width() for c in ax.containers if label in (None, c.get_label()) for p in c
    )


def drawn(fig):
    """Draw the figure as a notebook would; returns a renderer for measuring it."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def assert_apart(texts, renderer):
    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the words, not an annotation's line
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not a.overlaps(b), f"labels {texts[i].get_text()!r} and {texts[j].get_text()!r} overlap"


# ---------------------------------------------------------------------- one clock
@pytest.mark.parametrize("figure", ["timeline", "throughput", "latency", "overview"])
def test_every_time_axis_counts_seconds_since_the_run_started(runs, figure):
    run = runs["kill"]
    assert run.started > 0.5, "a lab's clock is well past zero when its run starts: the test needs that"
    fig = getattr(plots, figure)(run)
    bottom = fig.axes[-1]
    assert bottom.get_xlabel() == TIME_AXIS
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert lo == pytest.approx(-0.01 * run.duration) and hi == pytest.approx(1.01 * run.duration)
    killed = next(e for e in run.events if e.kind == "killed")
    ax = fig.axes[0]
    if figure in ("timeline", "overview"):
        assert list(by_gid(ax, "deaths")[0].get_xdata()) == [pytest.approx(killed.t - run.started)]
        dots = by_gid(ax, "ok:pod-1")[0].get_offsets()[:, 0]
        assert min(dots) >= 0 and max(dots) <= run.duration + 1e-9
    else:
        assert list(by_gid(ax, "death:pod-2")[0].get_xdata()) == [pytest.approx(killed.t - run.started)] * 2


def test_compare_and_trace_use_the_same_clock(runs):
    run = runs["kill"]
    for ax in plots.compare(run, run).axes[:2]:
        assert ax.get_xlabel() == TIME_AXIS and ax.get_xlim()[0] <= 0
    ax = plots.trace(run).axes[0]
    assert ax.get_ylabel().startswith(TIME_AXIS)
    assert max(ax.get_ylim()) < run.duration  # seconds since the start, not lab time


# ---------------------------------------------------------------------- demand
def test_demand_is_drawn_over_the_throughput_of_an_overloaded_run(runs):
    run = runs["overload"]
    planned = list(OVERLOAD.arrivals())
    assert len(run.requests) == len(planned)
    fig = plots.throughput(run, demand=OVERLOAD)
    save(fig, "throughput_demand")
    ax = fig.axes[0]
    (line,) = by_gid(ax, "demand")
    due, edges = line.get_data().values, line.get_data().edges
    assert sum(d * (b - a) for d, a, b in zip(due, edges, edges[1:], strict=False)) == pytest.approx(
        len(planned)
    )
    assert "demand (requests due/s)" in [t.get_text() for t in ax.get_legend().get_texts()]
    # 3 pods of 10 ms handlers answer at most ~300/s: the demand (600/s) stands well above
    served = [sum(p.get_height() for c in ax.containers for p in c if p.get_x() == x) for x in edges[:-1]]
    assert max(due) > 1.3 * max(served)
    assert edges[0] == pytest.approx(0.0) and run.duration > OVERLOAD.seconds  # the lab fell behind
    assert bars_area(ax) == pytest.approx(len(run.requests))  # the bars still count every request once
    assert "demand" in fig.alt


def test_the_run_keeps_its_own_demand_so_no_argument_is_needed(runs):
    """run.due (when each timed request was due) is the same plan as the load shape: the
    line drawn without ``demand=`` is the line drawn with it."""
    run = runs["overload"]
    assert len(run.due) == len(list(OVERLOAD.arrivals()))
    (own,) = by_gid(plots.throughput(run).axes[0], "demand")
    (given,) = by_gid(plots.throughput(run, demand=OVERLOAD).axes[0], "demand")
    assert list(own.get_data().values) == pytest.approx(list(given.get_data().values))


def test_demand_from_timed_items_and_none_without_a_plan(runs):
    run = runs["overload"]
    items = [(at, "work", {"user": "u"}) for at in OVERLOAD.arrivals()]
    a = by_gid(plots.throughput(run, demand=items).axes[0], "demand")[0].get_data().values
    b = by_gid(plots.throughput(run, demand=OVERLOAD).axes[0], "demand")[0].get_data().values
    assert list(a) == list(b)
    planless = fl.Run(run.lab, run.requests, run.events, run.started, run.ended)  # no run.due
    assert by_gid(plots.throughput(planless).axes[0], "demand") == []
    assert by_gid(plots.overview(run, demand=OVERLOAD).axes[1], "demand")
    for bad in ("600/s", [(-1, "work", {})], 42):
        with pytest.raises(fl.BadInput, match="demand"):
            plots.throughput(run, demand=bad)


# ---------------------------------------------------------------------- compare
def test_compare_is_a_thin_ok_failed_bar_with_a_legend(runs):
    a, b = runs["kill"], runs["overload"]
    fig = plots.compare(a, b, labels=("kill", "overload"))
    save(fig, "compare")
    drawn(fig)
    top_a, _, bar_a, bar_b = fig.axes
    assert bar_a.get_position().height < 0.25 * top_a.get_position().height  # was ~45%
    for ax, run in ((bar_a, a), (bar_b, b)):
        assert [p.get_width() for p in ax.patches] == [run.failed, run.ok]
        assert [to_hex(p.get_facecolor()) for p in ax.patches] == [plots.FAILED, to_hex(plots.OK)]
        counts = by_gid(ax, "counts")[0]
        assert f"{run.ok:,} ok, {run.failed:,} failed" in counts.get_text()
        renderer = fig.canvas.get_renderer()
        text, bars = counts.get_window_extent(renderer), [p.get_window_extent(renderer) for p in ax.patches]
        assert text.x0 >= max(b.x1 for b in bars), "the counts are written over the bar"
        assert text.x1 <= ax.get_window_extent(renderer).x1, "the counts run past the panel"
    assert [t.get_text() for t in bar_b.get_legend().get_texts()] == ["ok", "failed"]


# ---------------------------------------------------------------------- colours and markers
def test_pods_one_to_eight_take_the_okabe_ito_colours():
    assert [plots.pod_colour(f"pod-{i}") for i in range(1, 9)] == OKABE_ITO
    assert {plots.pod_marker(f"pod-{i}") for i in range(1, 9)} == {"o"}
    assert plots.FAILED not in OKABE_ITO


def test_thirty_pods_have_thirty_looks_never_told_by_colour_alone(runs):
    looks = [
        (plots.pod_colour(f"pod-{i}"), plots.pod_marker(f"pod-{i}"), plots.pod_hatch(f"pod-{i}"))
        for i in range(1, 31)
    ]
    assert len(set(looks)) == 30
    assert len({(c, m) for c, m, _ in looks}) == 30 and len({(c, h) for c, _, h in looks}) == 30
    run = runs["thirty"]
    fig = plots.timeline(run)
    save(fig, "timeline_30_pods")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"pod-{i}" for i in range(1, 31)]
    shapes = {}
    for i in (1, 9, 17, 25):
        (dots,) = by_gid(ax, f"ok:pod-{i}")
        assert to_hex(dots.get_facecolor()[0]) == OKABE_ITO[0]  # same blue...
        shapes[i] = dots.get_paths()[0].vertices.round(3).tobytes()
    assert len(set(shapes.values())) == 4  # ...four different markers
    fig = plots.throughput(run)
    save(fig, "throughput_30_pods")
    hatches = {c.get_label(): c.patches[0].get_hatch() for c in fig.axes[0].containers}
    assert hatches["ok on pod-1"] != hatches["ok on pod-9"] != hatches["ok on pod-17"]


# ---------------------------------------------------------------------- labels apart
def test_fault_labels_on_the_timeline_never_overlap(runs):
    run = with_faults(
        runs["kill"],
        (0.20, 0.5, "pause pod-3 for 0.3 s"),
        (0.21, None, "kill pod-1 (SIGKILL)"),
        (0.22, 0.4, "redis down for 0.2 s"),
        (0.9, None, "kill pod-2 (SIGKILL)"),
    )
    for figure in (plots.timeline, plots.overview):
        fig = figure(run)
        renderer = drawn(fig)
        labels = by_gid(fig.axes[0], "fault-label")
        assert len(labels) == 4
        assert_apart(labels, renderer)
        top = fig.axes[0].get_window_extent(renderer)
        assert all(top.y0 <= t.get_window_extent(renderer).y1 <= top.y1 + 1 for t in labels)
    save(fig, "overview_faults")


def test_the_dashboard_chart_labels_never_overlap():
    chart = live_chart.Chart()
    marks = [(20.0, "pod-2 killed"), (20.3, "pod-2 restarted"), (21.1, "pod-3 killed"), (21.4, "scaled")]
    png = chart.png([40] * 60, [0] * 60, marks, 0, 30.0)
    (ARTIFACTS / "honest_dashboard_chart.png").write_bytes(png)
    labels = by_gid(chart.ax, "mark")
    assert [t.get_text().strip() for t in labels] == [label for _, label in marks]
    assert_apart(labels, chart.fig.canvas.get_renderer())
    assert "0 is now" in chart.alt and "4 pod events" in chart.alt


# ---------------------------------------------------------------------- captions
def test_every_figure_has_a_one_line_caption(runs):
    run = runs["kill"]
    figures = {
        "timeline": plots.timeline(run),
        "throughput": plots.throughput(run),
        "latency": plots.latency(run),
        "overview": plots.overview(run),
        "compare": plots.compare(run, runs["overload"]),
        "scaling": plots.scaling({1: 100.0, 2: 180.0}),
        "trace": plots.trace(run),
        "balances": plots.balances({"Ravi": {"pod-1": 10, "pod-2": 20}}),
        "losses": plots.losses(SimpleNamespace(lost_sessions=["Ravi", "Asha"], notifications=None)),
    }
    for name, fig in figures.items():
        assert fig.alt and "\n" not in fig.alt and len(fig.alt) < 240, name
        shown = fig._supxlabel
        assert shown.get_gid() == "caption" and shown.get_text().replace("\n", " ") == fig.alt, name
    assert "pod-2 died at" in figures["timeline"].alt and "240 ok" not in figures["timeline"].alt
    assert f"{run.ok:,} ok, {run.failed:,} failed, on 3 pods" in figures["timeline"].alt
    assert "2 pods reach 90% of it" in figures["scaling"].alt
    renderer = drawn(figures["overview"])
    caption = figures["overview"]._supxlabel.get_window_extent(renderer)
    assert caption.x1 <= figures["overview"].bbox.x1 and caption.y0 >= 0  # inside the figure
    assert all(not caption.overlaps(ax.get_window_extent(renderer)) for ax in figures["overview"].axes)


# ---------------------------------------------------------------------- trace
def test_trace_draws_lanes_arrows_and_the_crash(runs):
    run = runs["kill"]
    killed = next(e for e in run.events if e.kind == "killed")
    fig = plots.trace(run, n=8)
    save(fig, "trace")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["client", "balancer", "pod-1", "pod-2", "pod-3"]
    for lane in ("client", "balancer", "pod-1", "pod-3"):
        assert by_gid(ax, f"lane:{lane}")
    (pod2,) = by_gid(ax, "lane:pod-2")  # pod-2's lane stops where it died, at the ✗
    (cross,) = by_gid(ax, "crash:pod-2")
    assert cross.get_text() == "✗" and cross.get_position() == (3, pytest.approx(killed.t - run.started))
    assert max(pod2.get_ydata()) == pytest.approx(killed.t - run.started)
    ids = {int(t.get_gid().split(":")[1]) for t in ax.texts if (t.get_gid() or "").endswith(":label")}
    assert len(ids) == 8
    requests = {r.id: r for r in run.requests}
    failed = [i for i in ids if not requests[i].ok]
    assert failed, "around a crash, some requests fail"
    for i in ids:
        r = requests[i]
        arrows = {step: by_gid(ax, f"req:{i}:{step}") for step in ("send", "route", "reply")}
        assert all(len(a) == 1 for a in arrows.values()), arrows
        colour = to_hex(arrows["reply"][0].arrow_patch.get_edgecolor())
        assert (colour == plots.FAILED) == (not r.ok)
        (_, start), (_, end) = arrows["send"][0].xyann, arrows["send"][0].xy
        assert start == end == pytest.approx(r.sent - run.started)
        assert arrows["reply"][0].xy == (0, pytest.approx(r.received - run.started))  # back at the client
        if r.ok:  # to the pod that served it, arriving when its handler began
            assert arrows["route"][0].xy[0] == ["client", "balancer", "pod-1", "pod-2", "pod-3"].index(r.pod)
            assert arrows["route"][0].xy[1] == pytest.approx(r.received - r.service - run.started)
    renderer = drawn(fig)
    labels = [t for t in ax.texts if (t.get_gid() or "").endswith(":label")]
    assert_apart(labels, renderer)
    assert "pod-2 died at" in fig.alt and f"{len(failed)} failed" in fig.alt


def test_trace_shows_redis_and_refuses_nonsense():
    with fl.Lab(pods=2, state="redis") as lab:
        run = lab.run([("add_balance", {"user": "Ravi", "amount": 1})] * 20)
    fig = plots.trace(run, around=run.duration / 2, n=4)
    save(fig, "trace_redis")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "redis" and by_gid(ax, "lane:redis")
    assert "Redis" in fig.alt and "0 failed" in fig.alt
    for bad in (
        {"n": 0},
        {"n": 31},
        {"n": 2.5},
        {"around": -1},
        {"around": run.duration + 1},
        {"around": "now"},
    ):
        with pytest.raises(fl.BadInput):
            plots.trace(run, **bad)
    with pytest.raises(fl.BadInput, match="needs a Run"):
        plots.trace("a run")


def test_compare_never_clips_the_taller_runs_bars():
    """The two panels share their y axis; the first one's limit (set for its demand line)
    must not cut off the second run's taller bars."""
    with fl.Lab(pods=3, app=work_app()) as lab:
        slow = lab.run([(i * 0.05, "work", {"user": "u"}) for i in range(20)])  # ~20/s, with demand
        fast = lab.run([("work", {"user": "u"})] * 300)  # as fast as it goes, no demand line
    fig = plots.compare(slow, fast, labels=("slow", "fast"))
    drawn(fig)
    for ax in fig.axes[:2]:
        tallest = max(p.get_y() + p.get_height() for p in ax.patches if hasattr(p, "get_height"))  # bars
        assert tallest <= ax.get_ylim()[1], f"{ax.get_title()}: a bar of {tallest:.0f}/s is clipped"


def test_the_replicas_figure_has_a_caption_with_its_numbers():
    hpa = fl.HPA(min=2, max=6, target=0.5, period=0.1, scale_down_window=0.3)
    with fl.Lab(pods=2, app=work_app(), autoscaler=hpa) as lab:
        run = lab.run([(i / 200, "work", {"user": "u"}) for i in range(200)])
    fig = plots.replicas(run)
    drawn(fig)
    assert fig.alt.startswith("Over time: demand per second (bars, peak ")
    assert (
        "the ready pods (2 at first, " in fig.alt
        and f"of its {len(hpa.decisions)} decisions scaled" in fig.alt
    )
    assert any(t.get_gid() == "caption" and t.get_text() for t in fig.findobj())
