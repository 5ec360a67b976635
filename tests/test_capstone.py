"""The capstone's harness (``fl.checks.capstone``): the reference solution keeps every
promise; a service that keeps its state in pod memory, one whose SMS queue dies with Redis,
and one that charges a retried payment twice each fail, and the report names the cause.
The verdict is the same on every run; a stub app gets no verdict; bad input is
``fl.BadInput`` before any pod starts; nothing outlives a run."""

import pathlib

import pytest

import finpay_lab as fl

from .conftest import finpay_processes, needs_redis_server

SOLUTION = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / "09_exercise_2.py"


def receipts_app(outbox="db", idempotent=True):
    """The receipts service with its books in the database; its SMS outbox in the same
    table (``"db"``) or in a Redis stream (``"stream"``: ``state.enqueue``); ``idempotent=
    False`` forgets to look the key up, so a retry pays again."""
    app = fl.App(f"receipts-{outbox}")
    unique = "PRIMARY KEY" if idempotent else ""

    def open_books(lab):
        lab.sql(
            f"CREATE TABLE IF NOT EXISTS payments (key TEXT {unique}, customer TEXT NOT NULL, "
            "amount INTEGER NOT NULL, sms_sent INTEGER NOT NULL DEFAULT 0)"
        )

    app.on_lab_start.append(open_books)

    def spent(db, user):
        return db.query("SELECT COALESCE(SUM(amount), 0) AS s FROM payments WHERE customer = :u", u=user)[0][
            "s"
        ]

    @app.endpoint
    def pay(state, db, user: str, amount: int, key: str):
        done = db.query("SELECT key, customer, amount FROM payments WHERE key = :key", key=key)
        if done and idempotent:
            return {"key": key, "user": done[0]["customer"], "amount": done[0]["amount"]}
        if amount > 10_000 - spent(db, user):
            raise fl.Rejected("insufficient funds")
        db.execute(
            "INSERT INTO payments (key, customer, amount) VALUES (:key, :user, :amount)",
            key=key,
            user=user,
            amount=amount,
        )
        if outbox == "stream":
            state.enqueue("sms", {"key": key, "text": f"paid ₹{amount}"})
        return {"key": key, "user": user, "amount": amount}

    @app.endpoint
    def receipt(state, db, key: str):
        rows = db.query("SELECT key, customer, amount FROM payments WHERE key = :key LIMIT 1", key=key)
        return {"key": key, "user": rows[0]["customer"], "amount": rows[0]["amount"]} if rows else None

    @app.endpoint
    def balance(state, db, user: str):
        return 10_000 - spent(db, user)

    @app.endpoint
    def next_sms(state, db, worker: str):
        if outbox == "stream":
            taken = state.take("sms", worker)
            return None if taken is None else {"id": taken[0], **taken[1]}
        rows = db.query("SELECT key FROM payments WHERE sms_sent = 0 ORDER BY key LIMIT 1")
        return {"id": rows[0]["key"], "key": rows[0]["key"]} if rows else None

    @app.endpoint
    def sms_sent(state, db, sms_id: str):
        if outbox == "stream":
            state.ack("sms", sms_id)
        else:
            db.execute("UPDATE payments SET sms_sent = 1 WHERE key = :key", key=sms_id)

    return app


def in_state_app():
    """The obvious version: everything in ``state``, so in pod memory with state='memory'."""
    app = fl.App("receipts-in-state")

    @app.endpoint
    def pay(state, user: str, amount: int, key: str):
        done = state.get(f"receipt:{key}")
        if done is not None:
            return done
        balance = state.get(f"balance:{user}", 10_000)
        if amount > balance:
            raise fl.Rejected("insufficient funds")
        state.set(f"balance:{user}", balance - amount)
        state.set(f"receipt:{key}", {"key": key, "user": user, "amount": amount})
        state.enqueue("sms", {"key": key})
        return {"key": key, "user": user, "amount": amount}

    @app.endpoint
    def receipt(state, key: str):
        return state.get(f"receipt:{key}")

    @app.endpoint
    def balance(state, user: str):
        return state.get(f"balance:{user}", 10_000)

    @app.endpoint
    def next_sms(state, worker: str):
        taken = state.take("sms", worker)
        return None if taken is None else {"id": taken[0], **taken[1]}

    @app.endpoint
    def sms_sent(state, sms_id):
        state.ack("sms", sms_id)

    return app


def held(result):
    return [kept for _, kept, _ in result.claims]


def test_the_reference_solution_keeps_every_promise(capsys):
    """The lesson's solution file, run as the lesson runs it."""
    namespace = {"fl": fl}
    exec(compile(SOLUTION.read_text(encoding="utf-8"), str(SOLUTION), "exec"), namespace)
    result, shown = namespace["graded"], capsys.readouterr().out
    assert result.passed is True and bool(result) and result.broken == []
    assert shown.startswith("✅ Capstone (receipts): every claim held.") and "BROKE" not in shown
    assert "Redis was SIGKILLed after 60 payments and came back empty" in shown  # the whole day ran
    assert "3 → 30 pods" in shown and len(result.claims) == 6
    assert finpay_processes() == []  # the lab is closed: no pod, no Redis left


def test_state_in_pod_memory_fails_and_the_report_says_it_lived_in_memory(capsys):
    result = fl.checks.capstone(in_state_app(), state="memory")
    shown = capsys.readouterr().out
    assert result.passed is False and shown.startswith("❌ Capstone (receipts): not yet.")
    assert held(result) == [True, False, False, False, False, False]  # every payment was answered, no more
    assert "BROKE  every receipt, once given, could be read back" in shown
    assert (
        "lost at step 3 (monkey): pod-1 was killed by the chaos monkey, and they lived in its memory" in shown
    )
    assert "which no other pod can see" in shown  # a receipt one pod gave, another did not know
    assert "retries charged the customer again" in shown and result.double_charges == 6
    assert result.receipts_lost_at["monkey"] == 12 and "redis crash" not in result.why[0]


def test_a_practice_run_prints_the_same_findings_with_no_verdict_and_the_same_every_time(capsys):
    first = fl.checks.capstone(in_state_app(), state="memory", practice=True)
    shown = capsys.readouterr().out
    second = fl.checks.capstone(in_state_app(), state="memory", practice=True)
    assert capsys.readouterr().out == shown  # deterministic: the same seed, the same day, word for word
    assert first.passed is None and not first and second.why == first.why
    assert "✅" not in shown and "❌" not in shown
    assert shown.startswith("📋 Practice run of the 'receipts' capstone (state='memory'): no grade. 5 of 6")
    assert "What broke, and why:" in shown and "4 no redis crash: skipped" in shown


def test_an_sms_queue_in_redis_without_persistence_loses_messages_in_the_crash(capsys):
    result = fl.checks.capstone(receipts_app(outbox="stream"), state="redis", db="sqlite")
    shown = capsys.readouterr().out
    assert result.passed is False and result.broken == ["every payment's SMS was sent at least once"]
    assert result.unsent_sms == 24  # the monkey step's payments, queued when Redis crashed
    assert (
        "24 SMS never sent, lost at step 4 (redis crash): they were in Redis, which crashed and came "
        "back empty"
    ) in shown
    assert result.lost_receipts == 0 and result.double_charges == 0  # the money was safe in the database


@needs_redis_server
def test_the_same_queue_in_a_redis_with_an_append_only_file_keeps_them(capsys):
    result = fl.checks.capstone(
        receipts_app(outbox="stream"), state="redis", db="sqlite", redis="real", redis_persistence="aof"
    )
    shown = capsys.readouterr().out
    assert result.passed is True, shown
    assert "replayed its append-only file" in shown


def test_a_service_that_ignores_the_key_charges_a_retry_twice(capsys):
    result = fl.checks.capstone(receipts_app(idempotent=False), state="memory", db="sqlite")
    shown = capsys.readouterr().out
    assert result.passed is False and result.double_charges == 6
    assert "a payment sent again (same key, another pod) charged nothing more" in result.broken[0]
    assert "6 of 6 retries charged the customer again" in shown and "did not find the key" in shown
    assert "too little" in shown  # and the balances show the second charge
    assert result.lost_receipts == 0 and result.unsent_sms == 0
    assert "4 no redis crash: skipped: this lab has no Redis" in shown


def test_a_stub_app_is_not_answered_yet_and_starts_nothing(capsys):
    app = fl.App("mine")
    for name, params in [
        ("pay", "user, amount, key"),
        ("receipt", "key"),
        ("balance", "user"),
        ("next_sms", "worker"),
        ("sms_sent", "sms_id"),
    ]:
        namespace = {}
        exec(f"def {name}(state, {params}):\n    ...\n", namespace)
        app.endpoint(namespace[name])
    assert fl.checks.capstone(app, state="redis", db="sqlite") is None
    shown = capsys.readouterr().out
    assert "Not answered yet" in shown and "✅" not in shown and "❌" not in shown
    assert "(pay, receipt, balance, next_sms, sms_sent still empty)" in shown
    app.endpoint(in_state_app().endpoints["pay"])  # one written, four to go
    assert fl.checks.capstone(app, state="redis", db="sqlite") is None
    assert "(receipt, balance, next_sms, sms_sent still empty)" in capsys.readouterr().out
    assert finpay_processes() == []


@pytest.mark.parametrize(
    "args,kwargs,says",
    [
        (
            (None,),
            {},
            "pass your service, an fl.App with the endpoints pay, receipt, balance, next_sms, sms_sent",
        ),
        (("receipts",), {}, "not str"),
        ((fl.App("x"),), {}, "your app has no endpoint pay, receipt, balance, next_sms, sms_sent"),
        (
            (fl.App("x"), "rate_limiter"),
            {},
            "spec='rate_limiter' is not a capstone brief; there is: 'receipts'",
        ),
        ((fl.App("x"), ["receipts"]), {}, "is not a capstone brief"),
        ((in_state_app(),), {"practice": "yes"}, "practice must be True"),
        ((in_state_app(),), {"state": "disk"}, "state"),
        ((in_state_app(),), {"db": "mysql"}, "db='mysql'"),
    ],
)
def test_bad_input_is_a_clear_bad_input_before_anything_starts(args, kwargs, says):
    with pytest.raises(fl.BadInput) as caught:
        fl.checks.capstone(*args, **kwargs)
    assert says in str(caught.value)
    assert finpay_processes() == []


def test_the_brief_prints_the_endpoints_and_their_promises(capsys):
    fl.checks.capstone_brief("receipts")
    shown = capsys.readouterr().out
    for endpoint in [
        "pay(user: str, amount: int, key: str)",
        "receipt(key: str)",
        "balance(user: str)",
        "next_sms(worker: str)",
        "sms_sent(sms_id)",
    ]:
        assert endpoint in shown
    assert "The same key again (a client's retry) charges nothing more" in shown
    with pytest.raises(fl.BadInput, match="not a capstone brief"):
        fl.checks.capstone_brief("limits")
    from finpay_lab import grading

    assert grading.names()["capstone"] == grading.names()["capstone_brief"] == "finpay_lab.grading.capstone"


def test_a_pay_that_answers_no_receipt_is_unanswered_and_the_report_quotes_it():
    """The judging alone, on what a run could have seen (no pods needed)."""
    from finpay_lab.grading import capstone_run, capstone_specs
    from finpay_lab.grading.capstone_checks import judge
    from finpay_lab.grading.report import Report

    class Lab:  # what Scenario.record_payment reads of a lab: nothing
        pass

    scenario = capstone_run.Scenario(Lab(), capstone_specs.RECEIPTS, seed=0)
    scenario.step("payments", "2 payments")
    params = {"user": "Ravi", "amount": 100, "key": "ravi-1"}
    answered = fl.Response(ok=True, value=None, pod="pod-1", endpoint="pay", params=params)
    scenario.record_payment(answered, 1)
    second = dict(params, key="ravi-2")
    good = fl.Response(ok=True, value=second, pod="pod-2", endpoint="pay", params=second)
    scenario.record_payment(good, 1)
    report = Report("Capstone")
    why = judge(report, scenario.seen, capstone_specs.RECEIPTS)
    assert report.claims[0][:2] == ("every payment within the balance was answered with its receipt", False)
    assert (
        "At step 1, pay(user='Ravi', amount=100, key='ravi-1') failed: it answered None, not the payment's "
        "receipt" in why[0]
    )
    assert list(scenario.seen.paid) == ["ravi-2"]
