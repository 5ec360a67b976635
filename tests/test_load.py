"""Load shapes: seeded, shaped as named, validated."""

import collections
import time

import pytest

import finpay_lab as fl
from finpay_lab.experiments.load import DEFAULT_MIX


def arrivals(shape):
    return list(shape.arrivals())


def test_same_seed_same_plan_other_seed_other_plan():
    with fl.Lab(pods=1) as lab:
        a = [
            (t, e, {k: v for k, v in p.items() if k not in ("token", "session", "key")})
            for t, e, p in fl.load.constant(rps=100, seconds=1, seed=3).plan(lab)
        ]
        b = [
            (t, e, {k: v for k, v in p.items() if k not in ("token", "session", "key")})
            for t, e, p in fl.load.constant(rps=100, seconds=1, seed=3).plan(lab)
        ]
        c = [(t, e) for t, e, _ in fl.load.constant(rps=100, seconds=1, seed=4).plan(lab)]
    assert a == b and [(t, e) for t, e, _ in a] != c


def test_constant_rate_and_mix_are_what_was_asked():
    shape = fl.load.constant(rps=500, seconds=4, seed=1)
    times = arrivals(shape)
    assert abs(len(times) - 2000) < 4 * 2000**0.5  # Poisson: within four sigma
    assert times == sorted(times) and times[0] >= 0 and times[-1] < 4
    with fl.Lab(pods=1) as lab:
        kinds = collections.Counter(e for _, e, _ in shape.plan(lab))
    total = sum(kinds.values())
    for kind, weight in DEFAULT_MIX.items():
        assert abs(kinds[kind] / total - weight) < 0.05, kind


def test_salary_day_is_quiet_then_surges_at_midnight_then_decays():
    shape = fl.load.salary_day(base=100, peak=10, seconds=10, seed=2)
    times = arrivals(shape)
    per_second = collections.Counter(int(t) for t in times)
    quiet = [per_second[s] for s in (0, 1, 2)]
    assert all(60 < n < 140 for n in quiet)  # ~base before midnight (0.3 × 10 s)
    assert per_second[3] > 5 * max(quiet)  # the surge
    assert per_second[3] > per_second[5] > per_second[8]  # and its decay
    assert shape.rate(3.0) == pytest.approx(1000)


def test_step_holds_each_level():
    shape = fl.load.step(levels=(50, 400, 50), seconds=3, seed=1)
    per_second = collections.Counter(int(t) for t in arrivals(shape))
    assert per_second[1] > 4 * per_second[0] and per_second[1] > 4 * per_second[2]


def test_payments_in_a_plan_carry_tokens_and_unique_keys():
    with fl.Lab(pods=2) as lab:
        plan = list(fl.load.constant(rps=200, seconds=1, mix={"pay": 1}, seed=5).plan(lab))
        assert {p["key"] for _, _, p in plan} and len({p["key"] for _, _, p in plan}) == len(plan)
        run = lab.run(fl.load.constant(rps=200, seconds=1, mix={"pay": 1}, seed=5))
        pays = [r for r in run.requests if r.endpoint == "pay"]
        assert pays and sum(r.ok for r in pays) > 0.95 * len(pays)
        # Landlord opens at ₹0: the only refusals are honest ones
        assert all(r.error.startswith("insufficient funds") for r in pays if not r.ok), run.errors()
        assert lab.audit().money_created == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: fl.load.constant(rps=-1),
        lambda: fl.load.constant(rps="fast"),
        lambda: fl.load.constant(seconds=0),
        lambda: fl.load.constant(mix={"steal": 1}),
        lambda: fl.load.constant(mix={"pay": 0}),
        lambda: fl.load.step(levels=()),
        lambda: fl.load.salary_day(peak=-2),
    ],
)
def test_bad_shapes_are_clear_errors(call):
    with pytest.raises(fl.BadInput):
        call()


def test_open_loop_run_sends_on_time_and_reports_when_it_falls_behind():
    with fl.Lab(pods=2) as lab:
        run = lab.run(fl.load.constant(rps=200, seconds=1, mix={"balance": 1}, seed=1))
        assert run.late <= 0.05 * len(run.requests) and run.failed == 0  # (loose: shared CI machines)
        assert 0.9 < run.duration < 2.0
    slow = fl.App("slow-balance")

    @slow.endpoint
    def balance(state, user: str):
        time.sleep(0.004)  # one pod serves ≤ 250 requests/s
        return 0

    with fl.Lab(pods=1, app=slow) as lab:  # 2,000 requests/s offered: the backlog fills, sends wait
        run = lab.run(fl.load.constant(rps=2000, seconds=0.5, mix={"balance": 1}, seed=1))
        assert run.late > 0.5 * len(run.requests)
        assert f"the lab fell behind: {run.late} requests were sent late" in run.summary()
