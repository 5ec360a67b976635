"""The audit counts exactly: runs built with known losses give exactly those losses."""

import finpay_lab as fl
from finpay_lab.services import finpay

CAST = {"Ravi": 20_000, "Landlord": 0, "Meena": 15_000}


def pay(lab, token, amount=5000, key=None, pod=None, receiver="Landlord"):
    r = lab.call("pay", sender="Ravi", receiver=receiver, amount=amount, token=token, key=key, pod=pod)
    assert r.ok, r.error
    return r


def test_a_clean_lab_audits_ok(make_lab):
    lab = make_lab(pods=3, accounts=CAST)
    a = lab.audit()
    assert a.ok and a.money_created == 0 and a.notifications.enqueued == 0
    assert "OK, nothing lost" in str(a) and "<table>" in a._repr_html_()


def test_payments_on_one_pod_make_pods_disagree_in_memory_only(make_lab):
    lab = make_lab(pods=3, accounts=CAST)
    token = lab.call("login", user="Ravi").value["token"]
    pay(lab, token, pod="pod-1")
    a = lab.audit()
    assert a.money_created == 0
    if lab.state == "memory":
        assert a.divergent_balances == {
            "Ravi": {"pod-1": 15_000, "pod-2": 20_000, "pod-3": 20_000},
            "Landlord": {"pod-1": 5_000, "pod-2": 0, "pod-3": 0},
        }
        assert a.wrong_balances["Ravi"]["expected"] == 15_000 and not a.ok
        assert lab.balances()["Ravi"] == {"pod-1": 15_000, "pod-2": 20_000, "pod-3": 20_000}
    else:
        assert a.divergent_balances == {} and a.wrong_balances == {} and a.ok
        assert lab.balances()["Ravi"] == {"pod-1": 15_000, "pod-2": 15_000, "pod-3": 15_000}


def test_a_retry_on_another_pod_is_a_double_debit_in_memory_only(make_lab):
    lab = make_lab(pods=2, accounts=CAST)
    token = lab.call("login", user="Ravi").value["token"]
    first = pay(lab, token, key="rent-nov", pod="pod-1")
    retry = pay(lab, token, key="rent-nov", pod="pod-2")  # the client retried after a timeout
    a = lab.audit()
    if lab.state == "memory":
        assert retry.value["repeated"] is False  # pod-2 never heard of rent-nov
        assert a.double_debits == [("rent-nov", 2)]
    else:
        assert retry.value["repeated"] is True and retry.value == dict(first.value, repeated=True)
        assert a.double_debits == [] and a.ok


def test_killed_pod_loses_exactly_its_payments_sessions_and_sms_in_memory(make_lab):
    lab = make_lab(pods=3, accounts=CAST, sms_seconds=0.3)
    s = lab.call("login", user="Ravi", pod="pod-2").value
    for i in range(2):
        pay(lab, s["token"], amount=1000, key=f"p{i}", pod="pod-2")
    pay(lab, s["token"], amount=700, key="p-safe", pod="pod-1", receiver="Meena")
    lab.kill("pod-2")
    assert not lab.call("whoami", user="Ravi", session=s["session"]).ok or lab.state == "redis"
    a = lab.audit()
    assert a.money_created == 0 and a.negative_balances == {}
    if lab.state == "memory":
        assert sorted(p[0] for p in a.lost_payments) == ["p0", "p1"]
        assert a.lost_sessions == ["Ravi"]
        assert a.notifications.enqueued == 6 and a.notifications.delivered == 2
        assert sorted(a.notifications.lost) == sorted(
            [("Ravi", "Payment Sent: ₹1,000 to Landlord"), ("Landlord", "Payment Received: ₹1,000 from Ravi")]
            * 2
        )
        assert a.wrong_balances["Landlord"] == {"expected": 2000, "seen": {"pod-1": 0, "pod-3": 0}}
        assert "sessions lost" in str(a) and "Ravi" in str(a)
    else:
        assert a.ok and a.lost_payments == [] and a.lost_sessions == []
        assert (a.notifications.enqueued, a.notifications.delivered, a.notifications.lost) == (6, 6, [])


def minting_app():
    """The FinPay app plus a buggy endpoint that changes a balance without a transfer."""
    app = fl.App("buggy-finpay")
    app.endpoints = dict(finpay.app.endpoints)
    app.on_start = list(finpay.app.on_start)
    app.on_lab_start = list(finpay.app.on_lab_start)

    @app.endpoint
    def mint(state, user: str, amount: int):
        return state.incr(f"balance:{user}", amount)

    return app


def test_money_created_and_negative_balances_are_counted_to_the_rupee(backend):
    state, redis = backend
    with fl.Lab(pods=1, state=state, redis=redis, accounts=CAST, app=minting_app()) as lab:
        lab.call("mint", user="Meena", amount=1234)
        lab.call("mint", user="Landlord", amount=-50)
        a = lab.audit()
        assert a.money_created == 1234 - 50
        assert a.negative_balances == {"Landlord": -50}
        assert a.wrong_balances["Meena"] == {
            "expected": 15_000,
            "seen": {"pod-1" if state == "memory" else "redis": 16_234},
        }
        assert "₹+1,184" in str(a)


def test_duplicate_deliveries_are_counted_and_dropped(make_lab):
    lab = make_lab(pods=1, accounts=CAST)
    lab.call("notify", user="Ravi", message="Hello")
    a = lab.audit()
    assert a.notifications.delivered == 1 and a.notifications.duplicates == 0
    lab.gateway.deliver(lab.sms()[0], "pod-x")  # a redelivery after a crash before XACK
    a = lab.audit()
    assert a.notifications.delivered == 1 and a.notifications.duplicates == 1
    assert len(lab.sms()) == 1  # the customer got it once


def test_run_audit_counts_only_that_runs_sessions_and_sms():
    with fl.Lab(pods=3, accounts=CAST) as lab:
        s = lab.call("login", user="Ravi", pod="pod-1").value
        lab.call("whoami", user="Ravi", session=s["session"], pod="pod-2")  # lost, before the run
        run = lab.run([("notify", {"user": "Meena", "message": "hi"})] * 3)
        assert run.audit().lost_sessions == [] and run.audit().notifications.enqueued == 3
        assert lab.audit().lost_sessions == ["Ravi"]
