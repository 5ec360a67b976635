"""Lesson 07's write-code exercise (7.2, an idempotent payment): the right answer passes, a
wrong one prints ❌ and names what broke, and an unwritten one prints no verdict.

The grader deploys the answer on 3 real pods with Redis and SQLite and crashes two
payments at the lab's crash point ``after_commit`` (a real SIGKILL after the money moved,
before the reply), so the same verdict comes out on every run and every machine.
"""

import secrets

import finpay_lab as fl


def _move(db, sender, receiver, amount, key):
    db.execute(
        "INSERT INTO payments (key, sender, receiver, amount) VALUES (:key, :sender, :receiver, :amount)",
        key=key,
        sender=sender,
        receiver=receiver,
        amount=amount,
    )
    if not db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
        amount=amount,
        user=sender,
    ):
        raise fl.Rejected(f"{sender} cannot pay ₹{amount:,}")
    db.execute(
        "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver
    )
    return {"key": key, "sender": sender, "receiver": receiver, "amount": amount, "repeated": False}


def pay(state, db, sender: str, receiver: str, amount: int, key: str):
    done = db.query("SELECT sender, receiver, amount FROM payments WHERE key = :key", key=key)
    if done:
        return dict(done[0], key=key, repeated=True)
    return _move(db, sender, receiver, amount, key)


def pay_ignoring_the_key(state, db, sender: str, receiver: str, amount: int, key: str):
    return _move(db, sender, receiver, amount, f"{key}-{secrets.token_hex(4)}")  # every call a new payment


SEEN = {}  # this pod's memory: every pod has its own copy, and it dies with the pod


def pay_remembering_in_pod_memory(state, db, sender: str, receiver: str, amount: int, key: str):
    if key in SEEN:
        return dict(SEEN[key], repeated=True)
    receipt = {"key": key, "sender": sender, "receiver": receiver, "amount": amount, "repeated": False}
    db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user", amount=amount, user=sender
    )
    db.execute(
        "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver
    )
    SEEN[key] = receipt
    return receipt


def stub(state, db, sender: str, receiver: str, amount: int, key: str):
    """Move the money once per key."""
    ...


def verdict(capsys, answer):
    passed = fl.checks.idempotent_pay(answer)
    return passed, capsys.readouterr().out


def test_a_key_recorded_in_the_payments_transaction_passes(capsys):
    passed, out = verdict(capsys, pay)
    assert passed, out
    assert out.startswith("✅ Exercise 7.2") and "BROKE" not in out
    assert "rent-nov on pod-" in out and "rent-meena on pod-" in out  # two real crashes


def test_a_handler_that_ignores_the_key_is_named_for_the_double_charge(capsys):
    passed, out = verdict(capsys, pay_ignoring_the_key)
    assert not passed
    assert out.startswith("❌ Exercise 7.2")
    assert "BROKE  no customer was charged twice" in out
    assert "Ravi was charged ₹5,000 too much" in out
    assert "BROKE  each retry answered repeated=True" in out


def test_a_key_kept_in_pod_memory_fails_when_the_retry_lands_on_another_pod(capsys):
    passed, out = verdict(capsys, pay_remembering_in_pod_memory)
    assert not passed
    assert "held   the lab crashed two payments after their commit" in out
    assert "held   each retry (same key) was served by another pod" in out
    assert "BROKE  no customer was charged twice" in out and "Ravi was charged ₹5,000 too much" in out


def test_the_same_wrong_answer_gets_the_same_verdict_every_time(capsys):
    _, first = verdict(capsys, pay_remembering_in_pod_memory)
    _, again = verdict(capsys, pay_remembering_in_pod_memory)
    assert first == again


def test_an_unwritten_pay_gives_no_verdict(capsys):
    passed, out = verdict(capsys, stub)
    assert not passed
    assert "Not answered yet" in out and "✅" not in out and "❌" not in out
    passed, out = verdict(capsys, ...)
    assert not passed and "Not answered yet" in out
