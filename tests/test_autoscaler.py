"""The HPA's arithmetic against hand-worked cases of Kubernetes' rules, and its metric.

Each case is worked by hand in its comment, with Kubernetes' own steps: the utilization in
whole percent (rounded down), ratio = utilization / target, tolerance, ceil(ratio × ready),
the stabilization window, the scale-up limit max(+4, +100%) per period, [min, max].
"""

import math

import pytest

import finpay_lab as fl
from finpay_lab import defaults
from finpay_lab.runtime import autoscaler, utilization
from finpay_lab.runtime.history import Response


def hpa(**kw):
    args = {"min": 1, "max": 64, "target": 0.8, "period": 1.0, "tolerance": 0.1, "scale_down_window": 0.0}
    return fl.HPA(**{**args, **kw})


# ---------------------------------------------------------------------- tolerance
def test_tolerance_boundary_up():
    # 88% / 80% = 1.10: within 1 ± 0.10, stay. 89% / 80% = 1.1125: ceil(3 × 1.1125) = 4.
    h = hpa()
    d = h.decide(0.0, 3, [0.88] * 3)
    assert (d.utilization, d.desired, d.new_replicas) == (0.88, 3, 3)
    assert "within tolerance 0.1" in d.arithmetic and d.arithmetic.endswith("stay at 3")
    d = h.decide(1.0, 3, [0.89] * 3)
    assert (d.desired, d.new_replicas) == (4, 4)
    assert "ceil(3 × 0.89 / 0.80) = 4" in d.arithmetic


def test_tolerance_boundary_down_and_percent_rounded_down():
    # 72% / 80% = 0.90: within, stay at 10. 71%: 0.8875, ceil(10 × 0.8875) = 9.
    h = hpa()
    assert h.decide(0.0, 10, [0.72] * 10).new_replicas == 10
    assert h.decide(1.0, 10, [0.71] * 10).new_replicas == 9
    # Kubernetes rounds usage up to millicores (881m) and the mean down to a whole percent:
    # 88.09% is 881m → 88%, within tolerance; 88.89% is 889m → 88% too; 88.91% is 890m → 89%.
    assert hpa().decide(0.0, 3, [0.8809] * 3).new_replicas == 3
    assert hpa().decide(0.0, 3, [0.8889] * 3).new_replicas == 3
    assert hpa().decide(0.0, 3, [0.8891] * 3).new_replicas == 4


# ---------------------------------------------------------------------- scale-up limit
def test_scale_up_limit_from_3_is_plus_4():
    # 100% / 10% = 10: ceil(3 × 10) = 30; limit max(3 + 4, 2 × 3) = 7 → 7.
    h = hpa(target=0.1)
    d = h.decide(0.0, 3, [1.0] * 3)
    assert (d.desired, d.new_replicas) == (30, 7)
    assert "capped at +4 (max(3 + 4, 2 × 3) = 7) → 7" in d.arithmetic


def test_scale_up_limit_from_20_is_plus_100_percent():
    # ceil(20 × 10) = 200; limit max(20 + 4, 2 × 20) = 40 → 40; with max=30 → 30.
    assert hpa(target=0.1).decide(0.0, 20, [1.0] * 20).new_replicas == 40
    d = hpa(target=0.1, max=30).decide(0.0, 20, [1.0] * 20)
    assert d.new_replicas == 30 and "capped at max 30" in d.arithmetic


def test_scale_up_limit_counts_from_the_start_of_the_period():
    # t=0: 3 → 7. t=0.5 (same period: +4 already): limit from 3 is 7, stay. t=1.0: the
    # event at 0 is not after 1.0 − 1 = 0, so the period starts at 7: max(11, 14) = 14.
    h = hpa(target=0.1)
    assert h.decide(0.0, 3, [1.0] * 3).new_replicas == 7
    assert h.decide(0.5, 7, [1.0] * 7).new_replicas == 7
    assert h.decide(1.0, 7, [1.0] * 7).new_replicas == 14


# ---------------------------------------------------------------------- stabilization
def test_scale_down_keeps_the_highest_recommendation_of_the_window():
    h = hpa(min=3, scale_down_window=5.0)
    # t=0: 80% → within, recommendation 10 (and the seed: 10 at t=0).
    assert h.decide(0.0, 10, [0.8] * 10).new_replicas == 10
    # t=1: 40% → ceil(10 × 0.5) = 5, but 10 was recommended in the last 5 s → stay.
    d = h.decide(1.0, 10, [0.4] * 10)
    assert (d.desired, d.new_replicas) == (5, 10)
    assert "highest recommendation in the last 5 s is 10" in d.arithmetic
    # t=2..4: 20% → ceil(10 × 0.25) = 3; still 10 in the window.
    for t in (2.0, 3.0, 4.0):
        assert h.decide(t, 10, [0.2] * 10).new_replicas == 10
    # t=5: the window is (0, 5]: recommendations 5, 3, 3, 3 and now 3 → 5.
    d = h.decide(5.0, 10, [0.2] * 10)
    assert (d.desired, d.new_replicas) == (3, 5)
    # t=6: (1, 6]: 3, 3, 3, 3 and now ceil(5 × 0.2) = 1 → 3 (also min).
    assert h.decide(6.0, 5, [0.16] * 5).new_replicas == 3


def test_the_window_never_delays_a_scale_up():
    h = hpa(scale_down_window=5.0)
    h.decide(0.0, 10, [0.2] * 10)  # recommends 3 (held at 10 by the seed)
    assert h.decide(1.0, 10, [1.0] * 10).new_replicas == 13  # ceil(10 × 1.25) = 13


# ---------------------------------------------------------------------- min / max
def test_clamped_to_min_and_max():
    # ceil(5 × 0.1) = 1 → min 3.
    d = hpa(min=3).decide(0.0, 5, [0.08] * 5)
    assert (d.desired, d.new_replicas) == (1, 3) and "floored at min 3" in d.arithmetic
    # ceil(28 × 1.25) = 35; limit 56; max 30 → 30.
    d = hpa(max=30).decide(0.0, 28, [1.0] * 28)
    assert (d.desired, d.new_replicas) == (35, 30)
    # A Deployment already outside [min, max] is brought back at once, whatever the metric.
    assert hpa(min=3, max=30).decide(0.0, 40, [0.01] * 40).new_replicas == 30
    assert hpa(min=3, max=30).decide(0.0, 1, [0.99]).new_replicas == 3
    # Scaled to 0 by hand: the HPA is off.
    assert hpa(min=3).decide(0.0, 0, []).new_replicas == 0


# ---------------------------------------------------------------------- who counts
def test_not_ready_pods_damp_a_scale_up():
    # 3 ready at 100%, 2 starting, target 90%: 100/90 = 1.11 > 1.1 → counting the 2 as 0%:
    # 60% → 0.67 < 1, the direction turns round → stay at 5 (not ceil(3 × 1.11) = 4).
    d = hpa(target=0.9).decide(0.0, 5, [1.0] * 3, unready=2)
    assert (d.ready, d.unready, d.new_replicas) == (3, 2, 5)
    assert "2 not ready as 0%" in d.arithmetic and "turns the direction round" in d.arithmetic
    # 3 ready at 100%, 2 starting, target 50%: 60% of 5 → 1.2 → ceil(5 × 1.2) = 6.
    assert hpa(target=0.5).decide(0.0, 5, [1.0] * 3, unready=2).new_replicas == 6


def test_not_ready_pods_are_left_out_of_a_scale_down():
    # 20% / 80% = 0.25 over the 3 ready pods: ceil(3 × 0.25) = 1; the 2 starting pods ignored.
    d = hpa().decide(0.0, 5, [0.2] * 3, unready=2)
    assert (d.desired, d.new_replicas) == (1, 1)


def test_missing_pods_count_full_when_scaling_down_and_idle_when_scaling_up():
    # 3 ready at 40%, 1 missing, target 50%: 0.8 < 1 → missing as 100%: 55% → 1.1, within.
    d = hpa(target=0.5).decide(0.0, 4, [0.4] * 3, missing=1)
    assert d.new_replicas == 4 and "1 missing as 100%" in d.arithmetic
    # 3 ready at 100%, 1 missing, target 50%: 2.0 > 1 → missing as 0%: 75% → 1.5 → ceil(6).
    d = hpa(target=0.5).decide(0.0, 4, [1.0] * 3, missing=1)
    assert d.new_replicas == 6 and "1 missing as 0%" in d.arithmetic


def test_no_metrics_no_change():
    h = hpa()
    d = h.decide(0.0, 3, [], unready=3)
    assert (d.utilization, d.ready, d.new_replicas) == (None, 0, 3)
    assert "no utilization" in d.arithmetic
    assert h.decide(1.0, 3, {"pod-1": 1.0, "pod-2": 1.0, "pod-3": 1.0}).new_replicas == 4


def test_decisions_are_logged_in_order():
    h = hpa(min=3)
    h.decide(0.0, 3, [0.5] * 3)  # ceil(3 × 0.625) = 2, floored at min 3
    h.decide(1.0, 3, [1.0] * 3)  # ceil(3 × 1.25) = 4
    assert [d.time for d in h.decisions] == [0.0, 1.0] and h.next_at == 2.0
    assert str(h.decisions[1]).strip().startswith("1.000s  mean 100% of 3 ready pods")
    assert h.decisions[1].scaled and not h.decisions[0].scaled


def test_the_step_load_takes_4_periods_from_3_to_30():
    # Kubernetes' default policy: 3 → 7 → 14 → 28 → 30 when the metric is far above target.
    # Demand: 27 pods' worth of work, and a metric that may exceed 100% (CPU against a request
    # below the limit): at 3 pods 900% → ceil(3 × 9.00 / 0.80) = 34, capped at 7; at 7, 385%
    # → 34, capped at 14; at 14, 192% → 34, capped at 28; at 28, 96% → 34, max 30; at 30,
    # 90% → 34, max 30: stays.
    h, n = fl.HPA(min=3, max=30, target=0.8), 3
    path = [n]
    for t in range(6):
        n = h.decide(float(t), n, [27 / n] * n).new_replicas
        path.append(n)
    assert path == [3, 7, 14, 28, 30, 30, 30]


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw",
    [
        {"min": 5, "max": 3},
        {"min": 0, "max": 3},
        {"min": 3, "max": defaults.MAX_PODS + 1},
        {"min": True, "max": 3},
        {"min": 2.5, "max": 3},
        {"target": 0},
        {"target": 1.5},
        {"target": -0.8},
        {"target": "0.8"},
        {"target": 0.805},
        {"target": math.nan},
        {"period": 0},
        {"period": -1},
        {"period": math.inf},
        {"tolerance": -0.1},
        {"tolerance": 1},
        {"scale_down_window": -1},
        {"scale_down_window": None},
    ],
)
def test_bad_hpa_arguments(kw):
    args = {"min": 3, "max": 30, "target": 0.8, **kw}
    with pytest.raises(fl.BadInput, match=r"HPA \w+ (must|is|can)"):
        fl.HPA(**args)


@pytest.mark.parametrize(
    "args",
    [
        (-1.0, 3, [0.5]),
        (0.0, -1, [0.5]),
        (0.0, 3.0, [0.5]),
        (0.0, 3, "abc"),
        (0.0, 3, [-0.1]),
        (0.0, 3, [math.nan]),
        (0.0, 3, 0.5),
        (0.0, 3, [0.5], -1),
        (0.0, 3, [0.5], 0, True),
        (math.inf, 3, [0.5]),
    ],
)
def test_bad_decide_arguments_change_nothing(args):
    h = hpa()
    h.decide(1.0, 3, [0.5] * 3)
    before = (list(h.decisions), list(h._recommendations), list(h._scale_events))
    with pytest.raises(fl.BadInput):
        h.decide(*args)
    assert (h.decisions, h._recommendations, h._scale_events) == before


def test_time_runs_forward():
    h = hpa()
    h.decide(2.0, 3, [0.5] * 3)
    with pytest.raises(fl.BadInput, match="time runs forward"):
        h.decide(1.0, 3, [0.5] * 3)


def test_exported():
    assert fl.HPA is autoscaler.HPA and "HPA" in fl.__all__
    assert (
        repr(fl.HPA(3, 30, 0.8))
        == "HPA(min=3, max=30, target=0.8, period=1, tolerance=0.1, scale_down_window=5)"
    )


# ---------------------------------------------------------------------- the metric
def rec(pod, received, service):
    return Response(ok=True, pod=pod, received=received, service=service)


def test_utilization_from_records_places_each_handler_before_its_reply():
    records = [
        rec("pod-1", 1.5, 0.2),  # [1.3, 1.5]: 0.2 inside [1, 2]
        rec("pod-1", 1.1, 0.3),  # [0.8, 1.1]: only 0.1 inside
        rec("pod-1", 1.45, 0.1),  # [1.35, 1.45] overlaps the first: counted once
        rec("pod-2", 2.2, 0.5),  # [1.7, 2.2]: 0.3 inside
        rec("pod-2", 0.5, 0.4),  # before the interval
        Response(ok=False, error="pod-2 died", pod="pod-2", received=1.9),  # no reply: 0
        rec("pod-4", 3.0, 2.5),  # [0.5, 3.0] covers it all: 1.0
    ]
    got = utilization.from_records(records, 1.0, 2.0, pods=["pod-1", "pod-2", "pod-3"])
    assert got == pytest.approx({"pod-1": 0.3, "pod-2": 0.3, "pod-3": 0.0, "pod-4": 1.0})


def test_utilization_from_records_misses_work_in_progress_unless_told():
    # A 2 s handler started at 0.5 and still running at t1 = 2: the records see nothing.
    assert utilization.from_records([], 1.0, 2.0, pods=["pod-1"]) == {"pod-1": 0.0}
    assert utilization.from_records([], 1.0, 2.0, running={"pod-1": 0.5}) == {"pod-1": 1.0}
    assert utilization.from_records([], 1.0, 2.0, running={"pod-1": 1.75}) == {"pod-1": 0.25}
    with pytest.raises(fl.BadInput):
        utilization.from_records([], 2.0, 1.0)


def test_utilization_from_counters():
    before = {("pod-1", 101): (1.0, 0.50), ("pod-2", 102): (1.0, 3.0)}
    after = {("pod-1", 101): (2.0, 1.25), ("pod-2", 102): (2.0, 4.0), ("pod-3", 103): (2.0, 0.1)}
    # pod-1: 0.75 s busy in 1 s; pod-2: always busy; pod-3 is new: no full period, left out.
    assert utilization.from_counters(before, after) == pytest.approx(
        {("pod-1", 101): 0.75, ("pod-2", 102): 1.0}
    )
    with pytest.raises(fl.BadInput):
        utilization.from_counters({"p": (2.0, 1.0)}, {"p": (1.0, 2.0)})


# ---------------------------------------------------------------------- the figure
def test_replicas_figure_from_plain_data(tmp_path):
    from finpay_lab.views.replicas import replicas

    h = fl.HPA(min=3, max=30, target=0.8)
    decisions = [
        h.decide(0.0, 3, [1.0] * 3),
        h.decide(1.0, 4, [1.0] * 3, unready=1),
        h.decide(2.0, 4, [1.0] * 4),
    ]
    demand = [(0.0, 300.0), (1.0, 1000.0), (2.0, 1000.0), (3.0, 1000.0)]
    ready = [(0.0, 3), (2.0, 4), (3.0, 5)]
    latency = {"p50": [(0.5, 5.0), (1.5, 40.0)], "p99": [(0.5, 9.0), (1.5, 900.0)]}
    fig = replicas(demand, ready, latency, decisions, per_pod=160, target=0.8)
    top, pods, bottom = fig.axes[0], fig.axes[2], fig.axes[1]
    gids = {a.get_gid() for ax in fig.axes for a in ax.get_children()}
    assert {"demand", "beyond", "ready", "asked", "scaled-up", "p50", "p99"} <= gids
    # 3 ready pods serve 3 × 160 = 480 requests/s at the target: the rest of 1000 is beyond.
    beyond = [p for p in top.patches if p.get_gid() == "beyond"]
    assert [round(p.get_height()) for p in beyond][1] == 1000 - 480
    assert top.get_ylim()[1] == pytest.approx(pods.get_ylim()[1] * 160)  # the axes line up
    assert bottom.get_yscale() == "log"  # 5 ms to 900 ms
    assert "3 → 5 pods in 2 scaling decisions (target 80%)" in top.get_title()
    fig.savefig(tmp_path / "replicas.png")
    assert (tmp_path / "replicas.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "kw",
    [
        {"demand": [(0, -1)]},
        {"demand": "abc"},
        {"ready": [(0, 1, 2)]},
        {"latency": {"p42": []}},
        {"latency": [(0, 1)]},
        {"per_pod": 0},
        {"decisions": [1, 2]},
    ],
)
def test_replicas_figure_bad_input(kw):
    from finpay_lab.views.replicas import replicas

    args = {"demand": [(0.0, 1.0)], "ready": [(0.0, 3)], **kw}
    with pytest.raises(fl.BadInput):
        replicas(**args)
