"""Chaos soak with the books in a database: 5,000 payments, a pod SIGKILLed every few
hundred requests (some of them between the debit and the credit of their own
transaction), and the Redis server itself crashed twice, empty each time.

With ``db="sqlite"`` (the embedded Redis) and ``db="postgres"`` (a real ``redis-server``),
the books must balance to the rupee: ₹0 created or lost, no payment applied twice, every
acknowledged payment in the books. Checked twice: by ``lab.audit()``, and independently
from the tables themselves (each payment has exactly its two ledger rows, and every
balance is its opening balance plus its ledger).

Every fault fires at a request count (the workload's own ``lab.kill``, and chaos ``after=``),
from a seeded generator: the same kills at the same payments on any machine, however fast.
"""

import random

import pytest

import finpay_lab as fl
from finpay_lab.stores.postgres_server import have_postgres

from .helpers import assert_books_balance, soak_payments

PAYMENTS = 5000
KILL_EVERY = 450  # → 11 kills from the workload, plus the crash points'
REDIS_CRASHES = (1700, 3900)  # after this many requests of the run
CRASH_POINTS = 3  # pods that SIGKILL themselves at "after_debit", mid-transaction
USERS = 40

needs_postgres = pytest.mark.skipif(
    not have_postgres(), reason="no PostgreSQL server binaries on this machine"
)


def books_from_the_tables(lab):
    """What the tables say, read without the audit: totals, ledger rows per payment, and
    each account's balance against its opening balance plus its ledger."""
    balances = {r["name"]: r["balance"] for r in lab.sql("SELECT name, balance FROM accounts")}
    rows = lab.sql("SELECT payment, COUNT(*) AS n, SUM(delta) AS net FROM ledger GROUP BY payment")
    moved = {
        r["account"]: r["moved"]
        for r in lab.sql("SELECT account, SUM(delta) AS moved FROM ledger GROUP BY account")
    }
    payments = {r["id"] for r in lab.sql("SELECT id FROM payments")}
    return balances, rows, moved, payments


@pytest.mark.slow
@pytest.mark.parametrize(
    "db, redis",
    [
        pytest.param("sqlite", "fake", id="sqlite-embedded-redis"),
        pytest.param("postgres", "real", id="postgres-real-redis", marks=needs_postgres),
    ],
)
def test_db_soak_loses_and_creates_nothing_through_kills_and_redis_crashes(db, redis):
    seed = 11
    with fl.Lab(
        pods=3, state="redis", redis=redis, db=db, restart=True, seed=seed, sms_seconds=0.0005
    ) as lab:
        users = list(lab.accounts)[:USERS]
        tokens = {u: lab.call("login", user=u).value["token"] for u in users}
        opened = dict(lab.accounts)
        chaos = [fl.chaos.redis_crash(after=n) for n in REDIS_CRASHES]
        chaos.append(fl.chaos.crash_at("after_debit", endpoint="pay", times=CRASH_POINTS, after=2500))
        workload = soak_payments(lab, tokens, random.Random(seed), PAYMENTS, KILL_EVERY, key=f"soak-{seed}-")
        run = lab.run(workload, chaos=chaos)

        pays = [r for r in run.requests if r.endpoint == "pay"]
        assert len(pays) == PAYMENTS
        exits = [e for e in lab.history.events if e.kind == "exited"]
        assert lab.soak_kills >= 10 and len(exits) >= lab.soak_kills + CRASH_POINTS
        crashed = [r for r in pays if not r.ok and "crashed" in (r.error or "")]
        assert crashed, "the kills should catch some payments in flight"
        redis_events = [
            e for e in lab.history.events if e.kind == "redis" and "restarted" in (e.detail or "")
        ]
        assert len(redis_events) == len(REDIS_CRASHES)
        acknowledged = {r.value["payment"] for r in pays if r.ok}
        assert len(acknowledged) > PAYMENTS // 2

        audit = run.audit(wait=30)
        assert audit.database == db
        assert_books_balance(audit)

        balances, rows, moved, payments = books_from_the_tables(lab)
        assert sum(balances.values()) == sum(opened.values())  # ₹0 created or lost
        assert all(r["n"] == 2 and r["net"] == 0 for r in rows)  # each payment debited once, credited once
        assert {r["payment"] for r in rows} == payments
        assert acknowledged <= payments  # every payment a client was told about is in the books
        for user, opening in opened.items():
            assert balances[user] == opening + moved.get(user, 0), user
        assert all(b >= 0 for b in balances.values())
