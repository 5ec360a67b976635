"""Graders for lesson 06 (databases, caches and what survives): the learner's code on pods.

    fl.checks.cache_aside(balance)            # 6.2: a balance read through a Redis cache
    fl.checks.crash_safe_transfer(transfer)   # 6.3: a transfer that a crash cannot split
    fl.checks.race_free_debit(withdraw)       # 6.4: a debit that two racing pods cannot spoil

Each grader deploys the learner's handler on a fresh lab (two pods, Redis, SQLite, a fixed
seed), makes the fault happen on purpose (a payment between two reads, a Redis outage, a
SIGKILL at ``after_debit``, two pods held at ``after_read``) and reports in rupees what
held and what broke. The experiments are exact: a crash point fires at one line of the
handler, a pause point holds both requests until both are there, so no verdict depends on
the machine's speed.

The money is counted in both stores the handler could use, the SQL table ``accounts`` and
the Redis keys ``balance:<user>``, both opened with the same balances: a transfer written
on either store is graded by what it did to that store.
"""

import copy
import json

import redis

import finpay_lab as fl
from finpay_lab.experiments.chaos import PauseAt
from finpay_lab.runtime.history import Cause

from .report import Report, unanswered

__all__ = ["cache_aside", "crash_safe_transfer", "race_free_debit"]

CACHE_KEY = "cache:balance:{user}"  # the key FinPay's pay deletes after its commit
SEED = 6


# ---------------------------------------------------------------- 6.2 cache-aside
def cache_aside(balance) -> bool:
    """Grade ``balance(state, user, db=None)``: a cache-aside read of a balance.

    FinPay (with the learner's ``balance`` in place of its own) on 2 pods, books in SQLite:
    Ravi's balance read on both pods, Ravi pays ₹12,000, read again; then Redis goes down
    and the balance is read once more. Claims: right answers, cached in Redis with a TTL,
    no stale read after the payment (the audit's count), reads that survive the outage."""
    name = "Exercise 6.2 (cache-aside)"
    if unanswered(name, balance):
        return False
    report = Report(name)
    with fl.Lab(
        pods=2, state="redis", db="sqlite", app=_with_balance(balance), sms_seconds=0.0005, seed=SEED
    ) as lab:
        token = lab.call("login", user="Ravi").value["token"]
        before = [lab.call("balance", user="Ravi", pod=pod) for pod in ("pod-1", "pod-2")]
        report.claim(
            "it answers Ravi's balance on every pod",
            held=[r.value for r in before] == [20_000, 20_000],
            detail=_answers(before),
        )
        key = CACHE_KEY.format(user="Ravi")
        client = redis.Redis.from_url(lab.redis_url, decode_responses=True)
        try:
            cached, ttl = client.exists(key), client.ttl(key)
        finally:
            client.close()
        report.claim(
            f"it keeps what it read in the cache ({key}) with a TTL",
            held=cached and ttl > 0,
            detail="not in the cache"
            if not cached
            else ("no TTL: kept forever" if ttl < 0 else f"TTL {ttl} s"),
        )
        paid = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=token, key="rent")
        after = [lab.call("balance", user="Ravi", pod=pod) for pod in ("pod-1", "pod-2", "pod-1")]
        stale = lab.audit(wait=5).stale_reads
        report.claim(
            "after Ravi pays ₹12,000, every read says ₹8,000 (no stale read)",
            held=paid.ok and [r.value for r in after] == [8_000] * 3 and not stale,
            detail=f"the audit counted {len(stale)} stale read(s); " + _answers(after),
        )
        lab.redis.down()
        try:
            down = lab.call("balance", user="Ravi")
        finally:
            lab.redis.up()
        report.claim(
            "with Redis down, the read falls back to the database",
            held=down.ok and down.value == 8_000,
            detail=_answers([down]),
        )
    return report.show(
        hint="Read the cache; on a miss read the database and put the value in the cache with a ttl; "
        "if the cache raises (Redis down), answer from the database.",
        explain="Reads come from Redis, the truth from the database, and an outage only slows them.",
    )


def _with_balance(balance):
    """FinPay's app with the learner's ``balance``, leaving FinPay's own app untouched."""
    app = copy.copy(fl.finpay.finpay_app())
    app.endpoints = dict(app.endpoints, balance=balance)
    app._specs = {}
    return app


# ---------------------------------------------------------------- 6.3 atomicity
def _accounts_app(name, handler, endpoint, accounts):
    """An app with one learner's endpoint, and the same accounts in SQL and in Redis."""
    app = fl.App(name)
    app.default_accounts = dict(accounts)

    def make_accounts(lab):
        lab.sql("CREATE TABLE accounts (name TEXT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0))")
        for user, amount in accounts.items():
            lab.sql("INSERT INTO accounts (name, balance) VALUES (:user, :amount)", user=user, amount=amount)

    app.on_lab_start = [make_accounts]
    app.endpoint(_open_account, name="open_account")
    app.endpoint(handler, name=endpoint)
    return app


def _open_account(state, user: str, amount: int):
    state.set(f"balance:{user}", amount)


def _books(lab, users):
    """``(in SQL, in Redis)``: each store's balances of ``users`` (None: no such account)."""
    sql = {r["name"]: r["balance"] for r in lab.sql("SELECT name, balance FROM accounts")}
    client = redis.Redis.from_url(lab.redis_url, decode_responses=True)
    try:
        kept = client.mget([f"balance:{u}" for u in users])
    finally:
        client.close()
    return {u: sql.get(u) for u in users}, {
        u: None if v is None else json.loads(v) for u, v in zip(users, kept)
    }


def _open(lab, accounts):
    for user, amount in accounts.items():
        lab.call("open_account", user=user, amount=amount)


def crash_safe_transfer(transfer) -> bool:
    """Grade ``transfer(state, db, sender, receiver, amount)``, which marks
    ``fl.crash_point("after_debit")`` between taking the money and giving it.

    Its pod is SIGKILLed at that point during Ravi's ₹12,000 rent; then the rent is sent
    again. Claims: the crash came at after_debit, it created or destroyed ₹0 (in whichever
    store holds the money), and the retry moved the ₹12,000 exactly once."""
    name = "Exercise 6.3 (a transfer that survives a crash)"
    if unanswered(name, transfer):
        return False
    report = Report(name)
    accounts = {"Ravi": 20_000, "Landlord": 0}
    rent = {"sender": "Ravi", "receiver": "Landlord", "amount": 12_000}
    app = _accounts_app("transfer-check", transfer, "transfer", accounts)
    with fl.Lab(pods=2, state="redis", db="sqlite", app=app, sms_seconds=0.0005, seed=SEED) as lab:
        _open(lab, accounts)
        fl.chaos.crash_at("after_debit", endpoint="transfer", times=1).apply(lab)
        crashed = lab.call("transfer", **rent)
        report.claim(
            "the pod was killed at after_debit, in the middle of the transfer",
            held=crashed.cause == Cause.CRASHED,
            detail="it was"
            if crashed.cause == Cause.CRASHED
            else f"it never reached fl.crash_point('after_debit') ({_answers([crashed])})",
        )
        sql, kept = _books(lab, accounts)
        change = _change(sql, accounts) + _change(kept, accounts)
        report.claim(
            "the crash created or destroyed ₹0",
            held=change == 0,
            detail=f"₹{change:+,}: SQL holds {sql}, Redis holds {kept}",
        )
        again = lab.call("transfer", **rent)
        sql, kept = _books(lab, accounts)
        moved = {"Ravi": 8_000, "Landlord": 12_000}
        report.claim(
            "sent again, the rent moved ₹12,000 exactly once",
            held=again.ok and {sql == moved, kept == moved} == {True, False} and accounts in (sql, kept),
            detail=f"the retry {'succeeded' if again.ok else 'failed: ' + str(again.error)}; "
            f"SQL holds {sql}, Redis holds {kept}",
        )
    return report.show(
        hint="Make the debit and the credit one unit: both UPDATEs on db, in the request's transaction "
        "(a crash before the commit rolls back both).",
        explain="The database rolled back the half-done transaction: all or nothing.",
    )


def _change(books, accounts):
    if any(v is None for v in books.values()):
        return -sum(accounts.values())  # the account is gone: so is its money
    return sum(books.values()) - sum(accounts.values())


# ---------------------------------------------------------------- 6.4 the lost update
class _Witness(PauseAt):
    """``pause_at`` that also notes how many requests it held when it let them go."""

    held_at_release = 0

    def stop(self, active):
        self.held_at_release = len(active.lab.held())
        super().stop(active)


def race_free_debit(withdraw) -> bool:
    """Grade ``withdraw(state, db, user, amount)``, which marks ``fl.pause_point("after_read")``
    where a read-modify-write would have read and not yet written.

    Two ₹100 withdrawals from Ravi's ₹1,000, on two pods, both held at after_read until both
    are there, then released together. Claims: the race happened (both held), both
    succeeded, and ₹800 is left (no update lost)."""
    name = "Exercise 6.4 (a race-free debit)"
    if unanswered(name, withdraw):
        return False
    report = Report(name)
    accounts = {"Ravi": 1_000}
    app = _accounts_app("debit-check", withdraw, "withdraw", accounts)
    with fl.Lab(pods=2, state="redis", db="sqlite", app=app, sms_seconds=0.0005, seed=SEED) as lab:
        _open(lab, accounts)
        witness = _Witness(point="after_read", endpoint="withdraw", times=2)
        run = lab.run([("withdraw", {"user": "Ravi", "amount": 100})] * 2, chaos=[witness])
        report.claim(
            "two pods were held at after_read at the same moment (the race, on purpose)",
            held=witness.held_at_release == 2 and {r.pod for r in run.requests} == {"pod-1", "pod-2"},
            detail=f"{witness.held_at_release} of 2 were held there together",
        )
        report.claim(
            "both withdrawals succeeded", held=all(r.ok for r in run.requests), detail=_answers(run.requests)
        )
        sql, kept = _books(lab, accounts)
        report.claim(
            "₹800 is left of ₹1,000 after two ₹100 withdrawals (no update lost)",
            held={sql["Ravi"], kept["Ravi"]} == {800, 1_000},
            detail=f"SQL holds ₹{sql['Ravi']:,}, Redis holds ₹{kept['Ravi']:,}",
        )
    return report.show(
        hint="Don't compute the new balance in Python: let one UPDATE read and write it "
        "(SET balance = balance - :amount ... AND balance >= :amount).",
        explain="The database applied the two UPDATEs one after the other: nothing lost.",
    )


def _answers(responses):
    return ", ".join(
        f"₹{r.value:,}" if r.ok and isinstance(r.value, int) else f"error: {r.error}" for r in responses
    )
