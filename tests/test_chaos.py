"""Chaos faults: each one happens when scheduled, does what it says, and is recorded."""

import time

import pytest

import finpay_lab as fl


def balance_checks(n):
    return [("balance", {"user": "Ravi"})] * n


def faults(run):
    return [e for e in run.events if e.kind == "fault"]


def test_kill_after_n_requests_is_exact():
    with fl.Lab(pods=3) as lab:
        run = lab.run(balance_checks(100), chaos=[fl.chaos.kill("pod-2", after=40)])
        (fault,) = faults(run)
        assert fault.pod == "pod-2" and "SIGKILL" in fault.detail
        before = sorted((r for r in run.requests), key=lambda r: r.id)
        # requests sent after the kill never go to pod-2
        kill_t = fault.t
        assert all(r.pod != "pod-2" for r in before if r.sent > kill_t)
        assert sum(r.sent <= kill_t for r in before) == 40
        assert [p.status for p in lab.pods] == ["ready", "dead", "ready"]


def test_kill_a_random_pod_is_reproducible_under_the_seed():
    def victim(seed):
        with fl.Lab(pods=5, seed=seed) as lab:
            lab.run(balance_checks(20), chaos=[fl.chaos.kill(after=10)])
            return [p.name for p in lab.pods if p.status == "dead"]

    assert victim(1) == victim(1)
    assert len({tuple(victim(s)) for s in range(6)}) > 1


def test_monkey_kills_repeatedly_and_restart_replaces():
    with fl.Lab(pods=3, restart=True, seed=3) as lab:
        shape = fl.load.constant(rps=300, seconds=2, mix={"balance": 1}, seed=1)
        run = lab.run(shape, chaos=[fl.chaos.monkey(every=0.4)])
        kills = [e for e in run.events if e.kind == "fault"]
        assert len(kills) >= 2
        assert sum(e.kind == "restarted" for e in run.events) >= len(kills) - 1
        assert run.ok > 0.9 * len(run.requests)  # a stateless endpoint shrugs it off


def test_pause_holds_requests_until_resume():
    with fl.Lab(pods=2) as lab:
        run = lab.run(balance_checks(40), chaos=[fl.chaos.pause("pod-1", after=10, seconds=0.5)])
        (fault,) = faults(run)
        assert fault.end - fault.t == pytest.approx(0.5, abs=0.1)
        held = [r for r in run.requests if r.pod == "pod-1" and r.sent >= fault.t]
        assert held and all(r.ok for r in run.requests)
        assert all(r.received >= fault.end - 0.01 for r in held)  # answered only after SIGCONT
        kinds = [e.kind for e in run.events if e.pod == "pod-1"]
        assert kinds.index("paused") < kinds.index("resumed")


def test_redis_down_fails_requests_clearly_then_recovers_with_data():
    with fl.Lab(pods=2, state="redis") as lab:

        def workload():
            for _ in range(10):
                yield "balance", {"user": "Ravi"}
            time.sleep(0.3)  # inside the outage
            for _ in range(4):
                yield "balance", {"user": "Ravi"}

        run = lab.run(workload(), chaos=[fl.chaos.redis_down(after=10, seconds=0.8)])
        (fault,) = faults(run)
        during = [r for r in run.requests if fault.t < r.sent < fault.end]
        assert during and all(not r.ok and "Redis is unreachable" in r.error for r in during)
        time.sleep(0.05)
        assert lab.call("balance", user="Ravi").value == 20_000  # back, with its data


def test_redis_slow_adds_the_delay_to_every_command():
    with fl.Lab(pods=1, state="redis") as lab:
        run = lab.run(balance_checks(20), chaos=[fl.chaos.redis_slow(after=10, seconds=5, delay=0.1)])
        (fault,) = faults(run)
        slow = [r for r in run.requests if fault.t < r.sent and r.received < fault.end]
        assert slow and all(r.service >= 0.1 for r in slow)  # a sleep is a lower bound: exact
        # Before the fault nothing sleeps. (Not "each under the delay": a loaded CI machine
        # can stall one request that long; the typical one is ~1 ms.)
        before = sorted(r.service for r in run.requests if r.received < fault.t)
        assert before and before[len(before) // 2] < 0.1


@pytest.mark.parametrize(
    "call",
    [
        lambda: fl.chaos.kill(at=-1),
        lambda: fl.chaos.kill(after=2.5),
        lambda: fl.chaos.monkey(every=0),
        lambda: fl.chaos.pause(seconds=-1),
        lambda: fl.chaos.redis_slow(delay=5),
    ],
)
def test_bad_faults_are_clear_errors(call):
    with pytest.raises(fl.BadInput):
        call()


def test_impossible_faults_are_refused_before_anything_is_sent():
    with fl.Lab(pods=1, state="memory") as lab:
        for fault in (fl.chaos.redis_down(seconds=0.1), fl.chaos.redis_slow(seconds=0.1)):
            with pytest.raises(fl.BadInput, match="state='redis'"):
                lab.run(balance_checks(2), chaos=[fault])
        assert len(lab.history.requests) == 0


def test_payments_cut_off_by_a_redis_outage_are_in_doubt_not_wrong():
    """A pay that failed with 'Redis is unreachable' may have moved the money first; with
    an idempotency key the audit finds its receipt and counts it, so the books agree."""
    with fl.Lab(pods=3, state="redis") as lab:
        run = lab.run(
            fl.load.constant(rps=200, seconds=1.5, mix={"pay": 1}, seed=3),
            chaos=[fl.chaos.redis_down(at=0.5, seconds=0.4)],
        )
        assert any(not r.ok and "Redis is unreachable" in r.error for r in run.requests)
        assert len(run.setup) > 0 and all(r.endpoint == "login" for r in run.setup)
        a = run.audit()
        assert a.money_created == 0 and a.wrong_balances == {} and a.lost_payments == []
        assert a.notifications.lost == []
