"""Lesson 07's write-code exercise: a payment that a retry on another pod cannot repeat.

    def pay(state, db, sender, receiver, amount, key):
        ...      # move the money once per key; a repeat answers the first result
    fl.checks.idempotent_pay(pay)

The grader deploys the learner's ``pay`` on 3 pods with Redis and SQLite
(``state="redis", db="sqlite"``): the books are the SQL tables ``accounts`` (name,
balance) and ``payments`` (key, sender, receiver, amount, key the primary key), so the
record of a key can be written in the same transaction that moves the money. Four
payments, each with its own key. Two of them are crashed **on purpose** at
``after_commit``: the money has moved and is committed, the reply has not left the pod,
and the pod SIGKILLs itself (the lab's crash point, not a moment in time). The client
sees a failure, so it retries with the same key; its pod is dead, so the balancer sends
the retry to a survivor. Then the client sends one payment that did succeed a second time
(a double tap), to compare the answers.

The books are counted from the outside, in SQL: nobody charged twice, every payment
applied exactly once, and every retry answered ``repeated=True`` with the first result.
"""

from .report import Report, unanswered

__all__ = ["idempotent_pay"]

PODS = 3
SEED = 7  # which pod serves which request: the same on every run
ACCOUNTS = {"Ravi": 20_000, "Meena": 15_000, "Landlord": 0, "Grocer": 0}
PAYMENTS = [  # (key, sender, receiver, amount, crashed after its commit?)
    ("rent-nov", "Ravi", "Landlord", 5_000, True),
    ("veg-1", "Meena", "Grocer", 700, False),
    ("rent-meena", "Meena", "Landlord", 6_000, True),
    ("veg-2", "Ravi", "Grocer", 300, False),
]
TAPPED = "veg-1"  # the payment the client sends twice although the first reply arrived
SCHEMA = [
    "CREATE TABLE accounts (name TEXT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0))",
    "CREATE TABLE payments (key TEXT PRIMARY KEY, sender TEXT NOT NULL, receiver TEXT NOT NULL, "
    "amount BIGINT NOT NULL)",
]


def _app(pay):
    import finpay_lab as fl

    app = fl.App("idempotent-pay")

    def make_books(lab):
        for statement in SCHEMA:
            lab.sql(statement)
        for user, amount in ACCOUNTS.items():
            lab.sql("INSERT INTO accounts (name, balance) VALUES (:user, :amount)", user=user, amount=amount)

    app.on_lab_start = [make_books]

    def endpoint(state, db, sender: str, receiver: str, amount: int, key: str):
        # after this returns: the commit, then the lab's crash point after_commit
        return pay(state, db, sender=sender, receiver=receiver, amount=amount, key=key)

    app.endpoint(endpoint, name="pay")
    return app


def idempotent_pay(pay) -> bool:
    """Exercise 7.2: run ``pay(state, db, sender, receiver, amount, key)`` on 3 pods, crash
    two payments after their commit, retry each with its key, and count the money."""
    name = "Exercise 7.2 (an idempotent payment)"
    if unanswered(name, pay):
        return False
    import finpay_lab as fl
    from finpay_lab.runtime.history import Cause

    report = Report(name)
    retries, crashed = {}, []
    with fl.Lab(pods=PODS, state="redis", db="sqlite", app=_app(pay), balancer="random", seed=SEED) as lab:
        for key, *_, crash in PAYMENTS:
            request = _request(key)
            if crash:
                lab.crash_at("after_commit", endpoint="pay", times=1)
            reply = lab.call("pay", **request)
            if reply.ok:
                continue
            if reply.cause != Cause.CRASHED:
                report.claim(
                    f"your pay runs ({key})", held=False, detail=f"{reply.pod} answered: {reply.error}"
                )
                return report.show(hint="pay raised an error: read it, fix it and run both cells again")
            crashed.append((key, reply.pod))
            retries[key] = lab.call("pay", **request)  # same key; its pod is dead: another pod
        tap = lab.call("pay", **_request(TAPPED))  # a double tap: the first reply did arrive
        books = {r["name"]: r["balance"] for r in lab.sql("SELECT name, balance FROM accounts")}
        paid = lab.sql("SELECT key FROM payments")
    meant = [p for p in PAYMENTS if p[4]]
    report.claim(
        "the lab crashed two payments after their commit, before the reply left the pod",
        held=len(crashed) == len(meant),
        detail=", ".join(f"{key} on {pod}" for key, pod in crashed) or "none reached the commit",
    )
    retry_pods = {key: retries[key].pod for key, _ in crashed}
    report.claim(
        "each retry (same key) was served by another pod",
        held=all(retry_pods[key] != pod for key, pod in crashed),
        detail=", ".join(f"{key} retried on {pod}" for key, pod in retry_pods.items()),
    )
    expected = _expected()
    wrong_books = {
        user: (books.get(user), balance) for user, balance in expected.items() if books.get(user) != balance
    }
    report.claim(
        "no customer was charged twice: every balance is what the four payments make it",
        held=not wrong_books,
        detail=_difference(wrong_books),
    )
    keys = sorted(p[0] for p in PAYMENTS)
    applied = sorted(row["key"] for row in paid)
    report.claim(
        "every payment was recorded exactly once (one row per key in payments)",
        held=applied == keys,
        detail=""
        if applied == keys
        else f"payments holds {len(applied)} rows for {len(keys)} payments: {applied!r:.120}",
    )
    answers = [(key, retries[key]) for key, _ in crashed] + [(TAPPED, tap)]
    wrong = [f"{key}: {_reply(reply)}" for key, reply in answers if not _repeat_of(reply, _payment(key))]
    report.claim(
        "each retry answered repeated=True with the first payment's sender, receiver and amount",
        held=not wrong,
        detail="; ".join(wrong),
    )
    return report.show(
        hint="Look the key up in the database first; if it is there, answer that payment with repeated=True. "
        "If not, INSERT it into payments and move the money with db, in the same transaction. "
        "A key kept in pod memory dies with the pod, and the retry runs on another pod.",
        explain="The key was recorded in the same transaction that moved the money, in a store every pod "
        "shares: a crash after the commit left a record, and the retry found it.",
    )


def _payment(key):
    return next(p for p in PAYMENTS if p[0] == key)


def _request(key):
    _, sender, receiver, amount, _ = _payment(key)
    return {"sender": sender, "receiver": receiver, "amount": amount, "key": key}


def _expected():
    books = dict(ACCOUNTS)
    for _, sender, receiver, amount, _ in PAYMENTS:
        books[sender] -= amount
        books[receiver] += amount
    return books


def _difference(wrong_books):
    if not wrong_books:
        return ""
    told = ", ".join(
        f"{user} was charged ₹{meant - has:,} too much"
        if has < meant
        else f"{user} got ₹{has - meant:,} too much"
        for user, (has, meant) in wrong_books.items()
    )
    return f"{told}: a retry paid again, though the first payment was committed before its pod died"


def _repeat_of(reply, payment):
    _, sender, receiver, amount, _ = payment
    if not reply.ok or not isinstance(reply.value, dict):
        return False
    value = reply.value
    return value.get("repeated") is True and [value.get(k) for k in ("sender", "receiver", "amount")] == [
        sender,
        receiver,
        amount,
    ]


def _reply(reply):
    if not reply.ok:
        return f"error on {reply.pod}: {reply.error}"
    value = reply.value
    if not isinstance(value, dict):
        return f"{reply.pod} answered {value!r:.40}, not a dict with repeated, sender, receiver and amount"
    shown = ", ".join(f"{k}={value.get(k)!r}" for k in ("repeated", "sender", "receiver", "amount"))
    return f"{reply.pod} answered {shown}"
