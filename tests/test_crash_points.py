"""Crash points and pause points (issue 10): a pod SIGKILLs itself at a named point of a
handler, or a request is held there until nothing else can move. Atomicity and the lost
update, shown on purpose, with exact numbers: no timing, no luck."""

import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause
from finpay_lab.stores.postgres_server import have_postgres

needs_postgres = pytest.mark.skipif(
    not have_postgres(), reason="no PostgreSQL server binaries on this machine"
)
SQL = ["sqlite", pytest.param("postgres", marks=needs_postgres)]


def finpay_lab(db, **kwargs):
    return fl.Lab(pods=kwargs.pop("pods", 2), state="redis", db=db, sms_seconds=0.0005, **kwargs)


def token(lab, user="Ravi"):
    return lab.call("login", user=user).value["token"]


def books(lab, *users):
    if lab.db is not None:
        rows = lab.sql("SELECT name, balance FROM accounts")
        return {r["name"]: r["balance"] for r in rows if r["name"] in users}
    seen = lab.balances()
    return {u: next(iter(seen[u].values())) for u in users}


# ---------------------------------------------------------------- atomicity: after_debit
@pytest.mark.parametrize("db", SQL)
def test_a_crash_after_the_debit_moves_no_money_with_the_sql_ledger(db):
    with finpay_lab(db) as lab:
        tok = token(lab)
        lab.crash_at("after_debit", endpoint="pay", times=1)
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
        assert not r.ok and r.cause == Cause.CRASHED and "SIGKILL" in r.error
        assert sum(p.status == "dead" for p in lab.pods) == 1  # a real SIGKILL, of the pod itself
        assert books(lab, "Ravi", "Landlord") == {"Ravi": 20_000, "Landlord": 0}
        assert lab.sql("SELECT count(*) AS n FROM payments")[0]["n"] == 0
        a = lab.audit()
        assert a.money_created == 0 and a.lost_payments == [] and a.wrong_balances == {} and a.ok, str(a)
        # the retry (same key) goes through, once
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
        assert r.ok and not r.value["repeated"]
        assert books(lab, "Ravi", "Landlord") == {"Ravi": 8_000, "Landlord": 12_000}


def test_in_redis_after_debit_comes_after_the_whole_atomic_move():
    """Redis moves the money in one Lua script: no moment holds only the debit, so the point
    sits after all of it. The crash loses the reply, not the money (the receipt is there)."""
    with finpay_lab(None) as lab:
        tok = token(lab)
        lab.crash_at("after_debit", endpoint="pay")
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
        assert not r.ok and r.cause == Cause.CRASHED
        assert books(lab, "Ravi", "Landlord") == {"Ravi": 8_000, "Landlord": 12_000}
        a = lab.audit()
        assert a.money_created == 0 and a.wrong_balances == {}  # in doubt, and the books hold its receipt


naive = fl.App("naive")
naive.default_accounts = {"Ravi": 20_000, "Landlord": 0}


@naive.endpoint
def open_account(state, user: str, amount: int):
    state.set(f"balance:{user}", amount)


@naive.endpoint
def transfer(state, sender: str, receiver: str, amount: int):
    """The learner's two-step transfer: two separate writes to Redis."""
    state.incr(f"balance:{sender}", -amount)
    fl.crash_point("after_debit")
    state.incr(f"balance:{receiver}", amount)


def test_a_naive_two_step_redis_transfer_loses_the_money_at_the_crash():
    with fl.Lab(pods=2, state="redis", app=naive) as lab:
        lab.call("open_account", user="Ravi", amount=20_000)
        lab.call("open_account", user="Landlord", amount=0)
        fl.chaos.crash_at("after_debit", endpoint="transfer").apply(lab)  # a fault, outside a run
        r = lab.call("transfer", sender="Ravi", receiver="Landlord", amount=12_000)
        assert not r.ok and r.cause == Cause.CRASHED
        seen = lab.balances()
        total = sum(next(iter(seen[u].values())) for u in ("Ravi", "Landlord"))
        assert total == 20_000 - 12_000  # ₹12,000 debited, never credited: gone


# ---------------------------------------------------------------- after_commit: the receipt answers the retry
@pytest.mark.parametrize("db", [None, *SQL])
def test_after_commit_a_retry_with_the_same_key_is_answered_from_the_receipt(db):
    with finpay_lab(db) as lab:
        tok = token(lab)
        lab.crash_at("after_commit", endpoint="pay")
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
        assert not r.ok and r.cause == Cause.CRASHED
        again = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
        assert again.ok and again.value["repeated"] is True and again.value["balance"] == 8_000
        assert books(lab, "Ravi", "Landlord") == {"Ravi": 8_000, "Landlord": 12_000}  # moved once
        a = lab.audit()
        assert a.money_created == 0 and a.double_debits == [] and a.wrong_balances == {}


# ---------------------------------------------------------------- times, and bad input
def test_times_counts_across_every_pod_of_the_lab():
    with finpay_lab("sqlite", pods=3) as lab:
        tok = token(lab)
        run = lab.run(
            [
                ("pay", {"sender": "Ravi", "receiver": "Meena", "amount": 10, "token": tok, "key": f"k{i}"})
                for i in range(30)
            ],
            chaos=[fl.chaos.crash_at("after_debit", endpoint="pay", times=2)],
        )
        crashed = [r for r in run.requests if r.cause == Cause.CRASHED]
        exits = [e for e in lab.history.events if e.kind == "exited"]
        assert len(exits) == 2 and all(
            e.detail == "SIGKILL" for e in exits
        )  # two firings in the lab, not per pod
        assert len(crashed) >= 2  # each killed pod also fails the requests queued behind it
        a = lab.audit()
        assert a.money_created == 0 and a.wrong_balances == {} and a.double_debits == []
        paid = lab.sql("SELECT count(*) AS n FROM payments")[0]["n"]
        assert books(lab, "Ravi")["Ravi"] == 20_000 - 10 * paid and paid <= 28


def test_a_point_nobody_reaches_never_fires():
    with finpay_lab("sqlite") as lab:
        tok = token(lab)
        lab.crash_at("nowhere", endpoint="pay")
        assert all(lab.call("pay", sender="Ravi", receiver="Meena", amount=1, token=tok).ok for _ in range(5))
        assert all(p.status == "ready" for p in lab.pods)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"times": 0}, "times"),
        ({"times": 1.5}, "times"),
        ({"times": True}, "times"),
        ({"times": "1"}, "times"),
        ({"endpoint": "teleport"}, "no such endpoint"),
        ({"point": 7}, "string"),
        ({"point": ""}, "string"),
    ],
)
def test_bad_crash_at_arguments_are_refused_and_change_nothing(kwargs, match):
    args = {"point": "after_debit", "endpoint": "pay", "times": 1, **kwargs}
    with finpay_lab("sqlite") as lab:
        with pytest.raises(fl.BadInput, match=match):
            lab.crash_at(**args)
        with pytest.raises(fl.BadInput, match=match):
            lab.run([("balance", {"user": "Ravi"})], chaos=[fl.chaos.crash_at(**args)])
        assert lab.history.total == 0 and "points" not in lab._config
        tok = token(lab)
        assert lab.call("pay", sender="Ravi", receiver="Meena", amount=1, token=tok).ok


def test_a_crash_point_outside_a_pod_does_nothing_and_names_must_be_strings():
    fl.crash_point("after_debit")  # not armed, not in a pod: nothing
    with pytest.raises(fl.BadInput, match="string"):
        fl.crash_point(42)
    assert fl.pause_point is fl.crash_point


# ---------------------------------------------------------------- the lost update, on purpose
race = fl.App("race")
race.default_accounts = {"Ravi": 1000}


def make_account_table(lab):
    if lab.db is not None:
        lab.sql("CREATE TABLE accounts (name TEXT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0))")
        lab.sql("INSERT INTO accounts (name, balance) VALUES ('Ravi', 1000)")


race.on_lab_start = [make_account_table]


@race.endpoint
def open_race_account(state, user: str, amount: int):
    state.set(f"balance:{user}", amount)


@race.endpoint
def withdraw_redis(state, user: str, amount: int):
    """Naive read-modify-write in Redis: read, (held here), write what was read minus amount."""
    balance = state.get(f"balance:{user}")
    fl.pause_point("after_read")
    state.set(f"balance:{user}", balance - amount)
    return balance - amount


@race.endpoint
def withdraw_naive_sql(state, db, user: str, amount: int):
    """The same mistake in SQL: SELECT, then UPDATE to the value computed in Python."""
    balance = db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]
    fl.pause_point("after_read")
    db.execute("UPDATE accounts SET balance = :new WHERE name = :user", new=balance - amount, user=user)
    return balance - amount


@race.endpoint
def withdraw_atomic_sql(state, db, user: str, amount: int):
    """One statement that reads and writes: the database applies one after the other."""
    fl.pause_point("after_read")
    if not db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
        amount=amount,
        user=user,
    ):
        raise fl.Rejected("insufficient funds")
    return db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]


def race_two(lab, endpoint):
    """Two withdrawals of ₹100 on two pods, both held at after_read until both got there."""
    work = [(endpoint, {"user": "Ravi", "amount": 100})] * 2
    run = lab.run(work, chaos=[fl.chaos.pause_at("after_read", endpoint=endpoint, times=2)])
    assert sorted(r.pod for r in run.requests) == ["pod-1", "pod-2"]
    assert lab.held() == []  # everything held was released
    return run


def test_a_naive_read_modify_write_in_redis_loses_an_update_every_time():
    with fl.Lab(pods=2, state="redis", app=race) as lab:
        lab.call("open_race_account", user="Ravi", amount=1000)
        run = race_two(lab, "withdraw_redis")
        assert [r.value for r in run.requests] == [900, 900]  # both read ₹1,000
        assert lab.balances()["Ravi"] == {"pod-1": 900, "pod-2": 900}  # ₹200 taken, ₹100 recorded


@needs_postgres
def test_a_naive_read_modify_write_in_postgres_loses_an_update_every_time():
    with fl.Lab(pods=2, app=race, db="postgres") as lab:
        run = race_two(lab, "withdraw_naive_sql")
        assert [r.value for r in run.requests] == [900, 900]
        assert lab.sql("SELECT balance FROM accounts")[0]["balance"] == 900  # READ COMMITTED: lost


@pytest.mark.parametrize("db", SQL)
def test_the_atomic_update_loses_nothing_under_the_same_race(db):
    with fl.Lab(pods=2, app=race, db=db) as lab:
        run = race_two(lab, "withdraw_atomic_sql")
        assert all(r.ok for r in run.requests) and sorted(r.value for r in run.requests) == [800, 900]
        assert lab.sql("SELECT balance FROM accounts")[0]["balance"] == 800
