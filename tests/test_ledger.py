"""FinPay's ledger: a payment moves money exactly once, in one step, on every kind of store.

The ledger works on a ``State`` alone (no pods): ``MemoryState``, and ``RedisState`` on
the embedded and the real Redis server (the ``state`` fixture). The first four tests
came from ``test_money_and_security.py`` (the hardening issue's items 8-9), when ``move``
left ``State`` for ``services/ledger.py``.
"""

import threading

import pytest
import redis

import finpay_lab as fl
from finpay_lab.services.ledger import KEEP, LEDGERS, MemoryLedger, RedisLedger, ledger_for
from finpay_lab.stores.state import EXACT_MAX, MemoryState


def _receipt(sender="Ravi", receiver="Landlord", amount=100, payment="k1"):
    return {"payment": payment, "sender": sender, "receiver": receiver, "amount": amount, "sms": []}


def _books(state):
    """Ravi's balance, the landlord's, and payment k1's receipt."""
    return state.get("balance:Ravi"), state.get("balance:Landlord"), state.get("payment:k1")


def _open(state, ravi=1_000, landlord=0):
    state.set("balance:Ravi", ravi)
    state.set("balance:Landlord", landlord)
    return ledger_for(state)


# ---------------------------------------------------------------- moved: nothing half-moved
@pytest.mark.parametrize("bad", [2**63 - 1, EXACT_MAX - 50, 12.5, "ten", None], ids=repr)
def test_a_payment_to_a_receiver_the_store_cannot_credit_moves_nothing_even_when_retried(state, bad):
    """The issue's case (a receiver at 2**63 - 1: INCRBY overflowed after DECRBY) and its
    cousins: a balance Lua cannot hold exactly, one that would pass 2**53, one that is no
    whole number, none at all. Each is refused before the first write, and so is a retry
    with the same key."""
    state.set("balance:Ravi", 1_000)
    if bad is not None:
        state.set("balance:Landlord", bad)
    for _attempt in range(2):  # the retry with the same key destroyed it again
        with pytest.raises(fl.Rejected, match="Landlord"):
            ledger_for(state).move("Ravi", "Landlord", 100, "k1", _receipt())
        assert state.get("balance:Ravi") == 1_000
        assert state.get("balance:Landlord") == bad
        assert state.get("payment:k1") is None
        assert ledger_for(state).statement("Ravi") == [] and ledger_for(state).statement("Landlord") == []


def test_a_ledger_that_is_no_list_stops_the_payment_before_the_money_moves(state):
    """In Redis, LPUSH on a string fails after DECRBY and INCRBY: the checks come first."""
    state.set("balance:Ravi", 1_000)
    state.set("balance:Landlord", 0)
    state.set("ledger:Landlord", "not a list")
    with pytest.raises(fl.Rejected, match="ledger"):
        ledger_for(state).move("Ravi", "Landlord", 100, "k1", _receipt())
    assert _books(state) == (1_000, 0, None)


@pytest.mark.parametrize("amount", [0, -5, 2**53, 10**100, True, 1.5])
def test_amounts_outside_what_every_store_holds_are_refused(state, amount):
    state.set("balance:Ravi", 1_000)
    state.set("balance:Landlord", 0)
    with pytest.raises(fl.Rejected, match="whole number of rupees from 1 to"):
        ledger_for(state).move("Ravi", "Landlord", amount, "k1", _receipt(amount=amount))
    assert _books(state) == (1_000, 0, None)


def test_large_balances_stay_exact_in_the_receipt(state):
    """Lua's tostring printed 1e+15 for a balance of 10**15: the receipt held a float."""
    state.set("balance:Ravi", 10**15 + 7)
    state.set("balance:Landlord", EXACT_MAX - 10**15 - 7)
    new, receipt = ledger_for(state).move("Ravi", "Landlord", 7, "k1", _receipt(amount=7))
    assert new and receipt["balance"] == 10**15 and type(receipt["balance"]) is int
    assert state.get("balance:Landlord") == EXACT_MAX - 10**15
    assert ledger_for(state).statement("Ravi")[0]["balance"] == 10**15


# ---------------------------------------------------------------- a payment, once
def test_a_payment_moves_the_money_keeps_the_receipt_and_writes_both_ledgers(state):
    ledger = _open(state)
    new, receipt = ledger.move("Ravi", "Landlord", 300, "rent", _receipt(amount=300, payment="rent"))
    assert new and receipt == dict(_receipt(amount=300, payment="rent"), balance=700)
    assert (state.get("balance:Ravi"), state.get("balance:Landlord")) == (700, 300)
    assert state.get("payment:rent") == receipt
    assert ledger.statement("Ravi") == ledger.statement("Landlord") == [receipt]


def test_a_repeat_returns_the_first_receipt_and_moves_nothing(state):
    ledger = _open(state)
    _, first = ledger.move("Ravi", "Landlord", 300, "rent", _receipt(amount=300, payment="rent"))
    new, again = ledger.move("Ravi", "Landlord", 300, "rent", _receipt(amount=300, payment="rent"))
    assert (new, again) == (False, first)
    assert (state.get("balance:Ravi"), state.get("balance:Landlord")) == (700, 300)
    assert len(ledger.statement("Ravi")) == 1


def test_insufficient_funds_and_no_account_say_why_and_change_nothing(state):
    ledger = _open(state, ravi=50)
    with pytest.raises(fl.Rejected) as caught:
        ledger.move("Ravi", "Landlord", 100, "k1", _receipt())
    assert str(caught.value) == "insufficient funds: balance is ₹50, payment is ₹100"
    with pytest.raises(fl.Rejected) as caught:
        ledger.move("Ravi", "Nobody", 10, "k2", _receipt(receiver="Nobody", amount=10, payment="k2"))
    no_account = "no usable account at balance:Nobody: a balance is a whole number of rupees within ±₹"
    assert str(caught.value) == f"{no_account}{EXACT_MAX:,}"
    assert (state.get("balance:Ravi"), state.get("payment:k1"), state.get("payment:k2")) == (50, None, None)


def test_a_statement_is_newest_first_and_keeps_the_last_fifty(state):
    ledger = _open(state, ravi=10_000)
    for i in range(KEEP + 5):
        ledger.move("Ravi", "Landlord", 1, f"p{i}", _receipt(amount=1, payment=f"p{i}"))
    statement = ledger.statement("Ravi")
    assert [r["payment"] for r in statement] == [f"p{i}" for i in range(KEEP + 4, 4, -1)]
    assert statement[0]["balance"] == 10_000 - (KEEP + 5)
    assert ledger.statement("Arjun") == []  # no payments yet: an empty statement


# ---------------------------------------------------------------- one ledger per store
def test_ledger_for_picks_the_stores_own_ledger_once(state):
    ledger = ledger_for(state)
    assert type(ledger) is {"memory": MemoryLedger, "redis": RedisLedger}[state.kind]
    assert ledger.kind == state.kind and ledger.state is state
    assert ledger_for(state) is ledger  # built once per state (Redis: its script once)
    assert set(LEDGERS) == {"memory", "redis"}


def test_a_state_with_no_ledger_is_a_clear_error():
    class Notebook(fl.State):
        kind = "notebook"

    with pytest.raises(TypeError, match="FinPay keeps no books on a Notebook: .*'memory', 'redis'"):
        ledger_for(Notebook())


def test_memory_ledger_holds_the_states_lock_for_the_whole_payment():
    """The SMS worker shares a pod's MemoryState: while another thread holds its lock
    (a compound step of its own), a payment waits and then happens whole."""
    state = MemoryState()
    ledger = _open(state)
    state.lock.acquire()
    done = threading.Event()

    def pay():
        ledger.move("Ravi", "Landlord", 100, "k1", _receipt())
        done.set()

    thread = threading.Thread(target=pay)
    thread.start()
    try:
        assert not done.wait(0.2)  # blocked on the lock: no write happened
        assert (state.get("balance:Ravi"), state.get("payment:k1")) == (1_000, None)
    finally:
        state.lock.release()
    thread.join(timeout=10)
    assert done.is_set() and (state.get("balance:Ravi"), state.get("balance:Landlord")) == (900, 100)


def test_memory_payment_in_a_failed_request_is_rolled_back():
    state = MemoryState()
    ledger = _open(state)
    state.begin()
    ledger.move("Ravi", "Landlord", 100, "k1", _receipt())
    state.rollback()  # the handler failed after paying: the request changes nothing
    assert _books(state) == (1_000, 0, None)
    assert ledger.statement("Ravi") == []


def test_redis_ledger_loads_its_script_again_when_redis_forgot_it(state):
    if state.kind != "redis":
        pytest.skip("the Lua script is Redis's")
    ledger = _open(state)
    ledger.move("Ravi", "Landlord", 100, "k1", _receipt())
    state.redis.script_flush()  # a restarted Redis has no scripts cached
    assert ledger.move("Ravi", "Landlord", 100, "k2", _receipt(payment="k2"))[0]
    assert state.get("balance:Ravi") == 800


def test_redis_ledger_keeps_lists_redis_can_read(state):
    """The ledger is a Redis list (LPUSH/LTRIM), so redis-cli sees a customer's payments."""
    if state.kind != "redis":
        pytest.skip("a Redis list only in Redis")
    ledger = _open(state)
    ledger.move("Ravi", "Landlord", 100, "k1", _receipt())
    client = redis.Redis.from_url(state.url, decode_responses=True)
    try:
        assert client.type("ledger:Landlord") == "list" and client.llen("ledger:Landlord") == 1
    finally:
        client.close()
