"""What made ``pay`` cheaper (benchmarks/stores.py, issue 10) keeps its behaviour.

* With a database, a payment makes five statements (was eight): one query asks whether
  both customers exist and whether the key has paid; one INSERT writes both ledger rows.
  The refusals are the same, in the same order.
* The embedded Redis (fakeredis) compiles a script once and keeps it, and looks for new Lua
  globals only when their count changed: a script still may not set a global, a syntax
  error reads as before, and a script still sees what it saw.
"""

import os
import random

import pytest
import redis

from finpay_lab.runtime import pod_loop
from finpay_lab.runtime.pod_loop import PodContext
from finpay_lab.services import auth, finpay
from finpay_lab.stores import sql
from finpay_lab.stores.redis_server import _FakeKeeper
from finpay_lab.stores.state import MemoryState

SECRET = "s" * 32


@pytest.fixture
def pod(tmp_path):
    """FinPay's handlers in this process, as a pod runs them, on a SQLite database."""
    database = sql.Database("sqlite").start(str(tmp_path))
    finpay.open_books(database.sql, {"Ravi": 1000, "Meena": 500}, fresh=True)
    context = PodContext("pod-1", os.getpid(), 0, {"secret": SECRET}, random.Random(0), settings={})
    context.db = sql.connect(database.url)
    previous = pod_loop._this_pod
    pod_loop.install(context)
    yield database, MemoryState()
    pod_loop.install(previous)
    context.db.close()
    database.stop()


def pay(state, sender="Ravi", receiver="Meena", amount=100, key="k1"):
    params = {
        "sender": sender,
        "receiver": receiver,
        "amount": amount,
        "token": auth.sign(sender, SECRET),
        "key": key,
    }
    return finpay.app.serve(state, "pay", params)


def test_a_payment_with_a_database_makes_five_statements(pod, monkeypatch):
    database, state = pod
    statements = []
    run = sql.Transaction._run
    monkeypatch.setattr(
        sql.Transaction, "_run", lambda self, text, params: statements.append(text) or run(self, text, params)
    )
    ok, receipt, error, _ = pay(state)
    assert ok, error
    assert len(statements) == 5, statements
    assert receipt["balance"] == 900 and not receipt["repeated"]
    rows = database.sql("SELECT account, delta FROM ledger WHERE payment = 'k1' ORDER BY delta")
    assert rows == [{"account": "Ravi", "delta": -100}, {"account": "Meena", "delta": 100}]
    statements.clear()
    ok, again, _, _ = pay(state)  # the retry: one statement, the first receipt, nothing moved
    assert ok and again["repeated"] and again["balance"] == 900 and len(statements) == 1
    assert database.sql("SELECT balance FROM accounts WHERE name = 'Ravi'") == [{"balance": 900}]


def test_the_refusals_are_the_same_and_in_the_same_order(pod):
    database, state = pod
    assert pay(state)[0]
    # an unknown customer is named before a reused key is noticed, the sender first
    assert pay(state, receiver="Nobody", key="k1")[2] == "unknown customer 'Nobody'"
    assert pay(state, sender="Nobody", receiver="Nowhere", key="k2")[2] == "unknown customer 'Nobody'"
    assert pay(state, receiver="", key="k3")[2] == "unknown customer ''"
    refused = pay(state, receiver="Meena", amount=7, key="k1")[2]
    assert "already used for a different payment" in refused
    assert "insufficient funds" in pay(state, amount=5000, key="k4")[2]
    assert database.sql("SELECT SUM(balance) AS s FROM accounts") == [{"s": 1500}]
    assert database.sql("SELECT COUNT(*) AS n FROM payments") == [{"n": 1}]


@pytest.fixture
def fake_redis():
    keeper = _FakeKeeper()  # in this process, so the test can look at its Lua runtime
    client = redis.Redis(host="127.0.0.1", port=keeper.port, password=keeper.password)
    yield keeper, client
    client.close()
    keeper.stop()


def test_the_embedded_redis_compiles_a_script_once(fake_redis):
    keeper, client = fake_redis
    script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert [script(keys=["n"], args=[2]) for _ in range(5)] == [2, 4, 6, 8, 10]
    runtime = keeper.data._lua_runtime
    assert len(runtime._compiled) == 1  # five runs, one compilation


def test_the_embedded_redis_still_refuses_globals_and_reads_syntax_errors_as_before(fake_redis):
    _, client = fake_redis
    with pytest.raises(redis.ResponseError, match="global variables: y"):
        client.eval("redis.call('SET', 'a', '1'); y = 2; redis.call('SET', 'b', '1'); return 1", 0)
    assert client.get("a") == b"1" and client.get("b") is None  # refused at the next call, as before
    assert client.eval("return redis.call('GET', 'a')", 0) == b"1"  # the global is gone: scripts run on
    # (fakeredis drops a refused global since 2.41, which pyproject requires: before, every later script failed)
    with pytest.raises(redis.ResponseError, match="error loading code"):
        client.eval("return (", 0)
