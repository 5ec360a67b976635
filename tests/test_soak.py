"""Chaos soak: thousands of payments, a pod killed every few hundred, restarts on.

Redis: the books balance to the rupee, nothing is applied twice, no SMS is lost.
Memory: the losses are real, and the audit reports exactly the ones the pods' own
records (the history of who served what, and who died when) say were lost."""

import random

import pytest

import finpay_lab as fl

from .helpers import assert_books_balance, soak_payments

PAYMENTS = 5000
KILL_EVERY = 450  # → 11 kills


def soak_workload(lab, seed=7):
    rng = random.Random(seed)
    users = list(lab.accounts)[:40]
    tokens = {u: lab.call("login", user=u).value["token"] for u in users}
    yield from soak_payments(lab, tokens, rng, PAYMENTS, KILL_EVERY)


@pytest.mark.slow
def test_redis_soak_loses_nothing():
    with fl.Lab(pods=3, state="redis", restart=True, sms_seconds=0.0005) as lab:
        run = lab.run(soak_workload(lab))
        assert lab.soak_kills >= 10
        pays = [r for r in run.requests if r.endpoint == "pay"]
        assert len(pays) == PAYMENTS
        crashed = [r for r in pays if not r.ok and "crashed" in r.error]
        assert crashed, "the kills should catch some payments in flight"
        a = run.audit(wait=60)
        assert_books_balance(a)
        assert a.notifications.lost == [] and a.notifications.pending == 0
        assert a.notifications.delivered == a.notifications.enqueued >= 2 * (PAYMENTS - len(crashed) - 50)
        assert a.ok, str(a)


@pytest.mark.slow
def test_memory_soak_losses_match_the_pods_own_records():
    with fl.Lab(pods=3, state="memory", restart=True, sms_seconds=0.0005) as lab:
        run = lab.run(soak_workload(lab))
        a = run.audit(wait=30)
        # Independently of the audit: a payment acknowledged by a pod that died *after*
        # answering is gone (its books died with it); one whose pod never died since, stays.
        deaths = [(e.pod, e.t) for e in lab.history.events if e.kind == "exited"]
        acknowledged = [r for r in run.requests if r.endpoint == "pay" and r.ok]
        doomed = {
            r.value["payment"]
            for r in acknowledged
            if any(pod == r.pod and t > r.received for pod, t in deaths)
        }
        assert doomed and {p[0] for p in a.lost_payments} == doomed
        assert a.money_created == 0  # each pod's books still balance; they are just wrong
        assert not a.ok and a.wrong_balances
        # every lost SMS belongs to a payment whose pod died after queueing it
        doomed_sms = {
            (m["to"], m["text"]) for r in acknowledged if r.value["payment"] in doomed for m in r.value["sms"]
        }
        assert a.notifications.lost and set(a.notifications.lost) <= doomed_sms
        n = a.notifications
        assert n.enqueued == n.delivered + len(n.lost) + n.pending
