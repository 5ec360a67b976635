"""FinPay with its books in a database (issue 10), and without one, by the same tests:
payments, idempotent retries, the CHECK that refuses an overdraft, statements, the audit;
the cache of balances and its stale reads; a soak with kills and a Redis crash; a served pod
with DATABASE_URL."""

import random
import sqlite3
import time

import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause
from finpay_lab.services.finpay import finpay_app
from finpay_lab.stores.postgres_server import have_postgres

from .helpers import assert_books_balance, soak_payments
from .test_serve import servers  # noqa: F401 - a fixture

needs_postgres = pytest.mark.skipif(
    not have_postgres(), reason="no PostgreSQL server binaries on this machine"
)
DBS = [None, "sqlite", pytest.param("postgres", marks=needs_postgres)]
SQL = ["sqlite", pytest.param("postgres", marks=needs_postgres)]


def books(lab, *users):
    if lab.db is not None:
        return {
            r["name"]: r["balance"]
            for r in lab.sql("SELECT name, balance FROM accounts")
            if r["name"] in users
        }
    return {u: next(iter(lab.balances()[u].values())) for u in users}


@pytest.fixture(params=DBS, ids=["no-db", "sqlite", "postgres"])
def lab(request):
    with fl.Lab(pods=3, state="redis", db=request.param, sms_seconds=0.0005) as lab:
        yield lab


def test_pay_moves_the_money_and_balance_reads_it(lab):
    tok = lab.call("login", user="Ravi").value["token"]
    r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
    assert r.ok and r.value["balance"] == 8_000 and r.value["repeated"] is False
    assert books(lab, "Ravi", "Landlord") == {"Ravi": 8_000, "Landlord": 12_000}
    assert {lab.call("balance", user="Ravi").value for _ in range(6)} == {8_000}  # every pod
    assert lab.balances()["Ravi"] == {p.name: 8_000 for p in lab.pods}


def test_a_retry_with_the_same_key_moves_nothing_again(lab):
    tok = lab.call("login", user="Ravi").value["token"]
    first = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
    again = lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
    assert again.ok and again.value["repeated"] is True and again.value["payment"] == first.value["payment"]
    assert books(lab, "Ravi", "Landlord") == {"Ravi": 8_000, "Landlord": 12_000}
    other = lab.call("pay", sender="Ravi", receiver="Landlord", amount=1, token=tok, key="rent")
    assert not other.ok and "already used for a different payment" in other.error


def test_insufficient_funds_is_rejected_and_changes_nothing(lab):
    tok = lab.call("login", user="Kiran").value["token"]
    r = lab.call("pay", sender="Kiran", receiver="Ravi", amount=5_001, token=tok)
    assert not r.ok and r.cause == Cause.REJECTED and "insufficient funds" in r.error
    if lab.db is not None:
        assert "CHECK balance >= 0" in r.error  # the table's constraint said no
    assert books(lab, "Kiran", "Ravi") == {"Kiran": 5_000, "Ravi": 20_000}
    assert lab.call("pay", sender="Kiran", receiver="Ravi", amount=5_000, token=tok).ok  # to the last rupee
    unknown = lab.call("pay", sender="Kiran", receiver="Nobody", amount=1, token=tok)
    assert not unknown.ok and "unknown customer" in unknown.error


def test_the_statement_lists_payments_newest_first(lab):
    tok = lab.call("login", user="Ravi").value["token"]
    for i, amount in enumerate((100, 200, 300)):
        assert lab.call("pay", sender="Ravi", receiver="Meena", amount=amount, token=tok, key=f"s{i}").ok
    rows = lab.call("statement", user="Ravi").value
    assert [r["amount"] for r in rows] == [300, 200, 100]
    assert [r["balance"] for r in rows] == [19_400, 19_700, 19_900]
    assert [r["amount"] for r in lab.call("statement", user="Meena", limit=2).value] == [300, 200]


def test_the_audit_finds_nothing_lost_or_created(lab):
    tokens = {u: lab.call("login", user=u).value["token"] for u in ("Ravi", "Meena", "Arjun")}
    rng = random.Random(3)
    for n in range(60):
        s, r = rng.sample(list(tokens), 2)
        lab.call("pay", sender=s, receiver=r, amount=rng.randint(1, 900), token=tokens[s], key=f"a{n}")
        lab.call("balance", user=s)
    a = lab.audit(wait=10)
    assert a.money_created == 0 and a.double_debits == [] and a.lost_payments == [] and a.wrong_balances == {}
    assert a.stale_reads == [] and a.ok, str(a)
    assert ("stale balance reads (cache)" in str(a)) == (lab.db is not None)  # db=None: the audit as before


# ---------------------------------------------------------------- the cache and its stale reads
@pytest.mark.parametrize("db", SQL)
def test_skipping_the_invalidation_gives_stale_reads_the_audit_counts(db):
    with fl.Lab(pods=2, state="redis", db=db, app=finpay_app(invalidate_cache=False)) as lab:
        tok = lab.call("login", user="Ravi").value["token"]
        assert lab.call("balance", user="Ravi").value == 20_000  # cached now
        assert lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok).ok
        assert [lab.call("balance", user="Ravi").value for _ in range(3)] == [20_000] * 3  # the cache, stale
        a = lab.audit(wait=5)
        assert a.stale_reads == [("Ravi", 20_000, 8_000)] * 3 and not a.ok
        assert a.money_created == 0 and a.wrong_balances == {}  # the books themselves are right


def test_with_invalidation_the_cache_is_right_after_every_payment():
    with fl.Lab(pods=2, state="redis", db="sqlite") as lab:
        tok = lab.call("login", user="Ravi").value["token"]
        for i in range(5):
            assert lab.call("balance", user="Ravi").value == 20_000 - 100 * i
            assert lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=tok).ok
        assert lab.audit(wait=5).stale_reads == []


def test_a_cache_in_pod_memory_is_invalidated_only_on_the_paying_pod():
    with fl.Lab(pods=2, state="memory", db="sqlite") as lab:
        tok = lab.call("login", user="Ravi", pod="pod-1").value["token"]
        assert [lab.call("balance", user="Ravi", pod=p).value for p in ("pod-1", "pod-2")] == [20_000, 20_000]
        assert lab.call("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, pod="pod-1").ok
        assert lab.call("balance", user="Ravi", pod="pod-1").value == 8_000
        assert lab.call("balance", user="Ravi", pod="pod-2").value == 20_000  # pod-2's own cache, never told
        assert [s[:2] for s in lab.audit(wait=5).stale_reads] == [("Ravi", 20_000)]


def test_balance_falls_back_to_the_database_when_the_cache_is_down():
    with fl.Lab(pods=2, state="redis", db="sqlite") as lab:
        tok = lab.call("login", user="Ravi").value["token"]
        lab.redis.down()
        try:
            assert lab.call("balance", user="Ravi").value == 20_000  # from the database
            assert not lab.call("login", user="Meena").ok  # sessions live in Redis: logins fail
            r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=tok, key="down")
            assert not r.ok and r.cause == Cause.STORE_UNAVAILABLE  # committed; its SMS could not be queued
        finally:
            lab.redis.up()
        assert books(lab, "Ravi")["Ravi"] == 19_900
        again = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=tok, key="down")
        assert again.ok and again.value["repeated"]


# ---------------------------------------------------------------- the soak
PAYMENTS = 2000
KILL_EVERY = 250  # -> 7 kills


def soak(lab, seed=11):
    rng = random.Random(seed)
    users = list(lab.accounts)[:30]
    tokens = {u: lab.call("login", user=u).value["token"] for u in users}
    yield from soak_payments(lab, tokens, rng, PAYMENTS, KILL_EVERY, most=400)


@pytest.mark.slow
@pytest.mark.parametrize("db", SQL)
def test_soak_with_kills_and_a_redis_crash_loses_no_rupee(db):
    t0 = time.perf_counter()
    with fl.Lab(pods=3, state="redis", db=db, restart=True, sms_seconds=0.0005) as lab:
        run = lab.run(soak(lab), chaos=[fl.chaos.redis_crash(after=PAYMENTS // 2)])
        pays = [r for r in run.requests if r.endpoint == "pay"]
        assert len(pays) == PAYMENTS and lab.soak_kills == 7
        assert any(e.kind == "redis" and "restarted" in e.detail for e in lab.history.events)
        crashed = [r for r in pays if r.cause == Cause.CRASHED]
        a = run.audit(wait=5)
        committed = lab.sql("SELECT count(*) AS n FROM payments")[0]["n"]
        print(
            f"\nsoak db={db}: {len(pays)} payments, {lab.soak_kills} kills, {len(crashed)} caught in flight, "
            f"{committed} committed, ₹{a.money_created:+,} created, {len(a.double_debits)} double debits, "
            f"{time.perf_counter() - t0:.1f} s"
        )
        assert_books_balance(a)
        total = lab.sql("SELECT sum(balance) AS total FROM accounts")[0]["total"]
        assert total == sum(lab.accounts.values())
        assert committed >= sum(r.ok for r in pays)


# ---------------------------------------------------------------- a served pod, DATABASE_URL
def test_a_served_pod_keeps_its_books_in_database_url(servers, tmp_path):  # noqa: F811
    url = f"sqlite:///{tmp_path}/books.db"
    pod = servers("pod-a", env={"DATABASE_URL": url})
    pod.wait_ready()
    status, reply = pod.post("login", user="Ravi")
    assert status == 200
    tok = reply["value"]["token"]
    status, reply = pod.post("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
    assert status == 200 and reply["value"]["balance"] == 8_000
    status, reply = pod.post("pay", sender="Ravi", receiver="Landlord", amount=12_000, token=tok, key="rent")
    assert status == 200 and reply["value"]["repeated"] is True
    status, reply = pod.post("pay", sender="Ravi", receiver="Landlord", amount=9_000, token=tok)
    assert status == 422 and "CHECK balance >= 0" in reply["error"]
    pod.stop()
    with sqlite3.connect(f"{tmp_path}/books.db") as conn:
        assert dict(
            conn.execute("SELECT name, balance FROM accounts WHERE name IN ('Ravi', 'Landlord')")
        ) == {"Ravi": 8_000, "Landlord": 12_000}
    again = servers("pod-b", env={"DATABASE_URL": url})  # a new pod opens only what is missing
    again.wait_ready()
    assert again.post("balance", user="Ravi")[1]["value"] == 8_000
