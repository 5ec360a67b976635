"""The FinPay services, on memory and Redis, through real pods."""

import time

import pytest

import finpay_lab as fl
from finpay_lab.services import auth

CAST = {"Ravi": 20_000, "Landlord": 0, "Meena": 15_000}


def login(lab, user="Ravi", **kw):
    r = lab.call("login", user=user, **kw)
    assert r.ok, r.error
    return r.value


def test_default_cast_and_custom_accounts(make_lab):
    lab = make_lab(pods=1)
    assert {"Ravi", "Meena", "Landlord"} <= set(lab.accounts) and len(lab.accounts) >= 50
    assert lab.call("balance", user="Ravi").value == 20_000
    lab2 = make_lab(pods=1, accounts=CAST)
    assert lab2.accounts == CAST
    assert [lab2.call("balance", user=u).value for u in CAST] == [20_000, 0, 15_000]
    r = lab2.call("balance", user="Arjun")
    assert not r.ok and r.error == "unknown customer 'Arjun'"


def test_pay_moves_money_atomically_and_is_idempotent_with_a_key(make_lab):
    lab = make_lab(pods=1, accounts=CAST)
    s = login(lab)
    r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=5000, token=s["token"], key="rent-nov")
    assert r.ok and r.value["balance"] == 15_000 and r.value["repeated"] is False
    again = lab.call("pay", sender="Ravi", receiver="Landlord", amount=5000, token=s["token"], key="rent-nov")
    assert again.ok and again.value["repeated"] is True and again.value["payment"] == "rent-nov"
    assert lab.call("balance", user="Ravi").value == 15_000
    assert lab.call("balance", user="Landlord").value == 5_000
    statement = lab.call("statement", user="Landlord").value
    assert [(p["sender"], p["amount"]) for p in statement] == [("Ravi", 5000)]
    r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=16_000, token=s["token"])
    assert not r.ok and r.error == "insufficient funds: balance is ₹15,000, payment is ₹16,000"
    assert lab.call("balance", user="Ravi").value == 15_000


def test_tokens_are_checked_on_any_pod_without_state(make_lab):
    lab = make_lab(pods=3, accounts=CAST)
    s = login(lab, pod="pod-1")
    lab.kill("pod-1")  # the pod that issued the token is gone; its memory too
    r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=s["token"], pod="pod-3")
    assert r.ok  # stateless auth: pod-3 verifies the signature with the shared secret
    secret = lab._config["secret"]
    cases = {
        s["token"][:-3]
        + ("AAA" if not s["token"].endswith("AAA") else "BBB"): "invalid token: the signature",
        auth.sign("Ravi", "not-the-secret"): "invalid token: the signature",
        auth.sign("Ravi", secret, ttl=-5): "expired token",
        s["token"].replace("Ravi", "Meena", 1): "invalid token: the signature",
        "garbage": "invalid token: log in",
        auth.sign("Meena", secret): "this token was issued to someone else, not Ravi",
    }
    for token, error in cases.items():
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=token)
        assert not r.ok and r.error.startswith(error), (token, r.error)
    assert lab.call("balance", user="Ravi", pod="pod-2").value == (19_900 if lab.state == "redis" else 20_000)


def test_sessions_live_where_state_lives(make_lab):
    lab = make_lab(pods=3, accounts=CAST)
    s = login(lab, pod="pod-3")
    lab.kill("pod-3")
    r = lab.call("whoami", user="Ravi", session=s["session"])
    if lab.state == "memory":
        assert not r.ok and r.error.startswith(f"unknown session {s['session']} for Ravi on pod-1")
    else:
        assert r.ok and r.value == "Ravi"
    r = lab.call("whoami", user="Meena", session=s["session"])
    assert not r.ok


def test_fraud_check_needs_both_sessions_on_one_pod(make_lab):
    lab = make_lab(pods=2, accounts=CAST)
    login(lab, "Ravi", pod="pod-1")
    login(lab, "Meena", pod="pod-2")
    r = lab.call("fraud_check", user_a="Ravi", user_b="Meena", pod="pod-1")
    if lab.state == "memory":
        assert not r.ok and r.error == "fraud check on pod-1 cannot see the session of Meena"
    else:
        assert r.ok and r.value["risk"] == "low" and r.value["checked_on"] == "pod-1"


def test_notifications_reach_the_gateway(make_lab):
    lab = make_lab(pods=2, accounts=CAST)
    s = login(lab)
    lab.call("pay", sender="Ravi", receiver="Landlord", amount=5000, token=s["token"], key="rent")
    lab.call("notify", user="Meena", message="Salary credited")
    deadline = time.monotonic() + 10
    while len(lab.sms()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    got = sorted((m["to"], m["text"]) for m in lab.sms())
    assert got == [
        ("Landlord", "Payment Received: ₹5,000 from Ravi"),
        ("Meena", "Salary credited"),
        ("Ravi", "Payment Sent: ₹5,000 to Landlord"),
    ]


def test_a_killed_pods_queued_sms_are_lost_in_memory_and_delivered_from_redis(make_lab):
    lab = make_lab(pods=2, accounts=CAST, sms_seconds=0.3)
    s = login(lab)
    for i in range(3):
        assert lab.call(
            "pay", sender="Ravi", receiver="Landlord", amount=100, token=s["token"], key=f"k{i}", pod="pod-2"
        ).ok
    lab.kill("pod-2")  # the first SMS is being sent, five wait in pod-2's queue
    a = lab.audit()
    if lab.state == "memory":
        assert a.notifications.enqueued == 6 and a.notifications.delivered == 0
        assert sorted(a.notifications.lost) == sorted(
            [("Ravi", "Payment Sent: ₹100 to Landlord"), ("Landlord", "Payment Received: ₹100 from Ravi")] * 3
        )
    else:
        assert (a.notifications.enqueued, a.notifications.delivered, a.notifications.lost) == (6, 6, [])
        assert {m["pod"] for m in lab.sms()} == {"pod-1"}  # reclaimed by the survivor


def test_update_balance_and_add_balance_follow_the_course(make_lab):
    lab = make_lab(pods=3)
    assert [lab.call("add_balance", user="Ravi", amount=5000).value for _ in range(3)] == [6000] * 3
    got = [lab.call("update_balance", amount=a).value for a in (500, 300)]
    assert got == ([1500, 1300] if lab.state == "memory" else [1500, 1800])


def test_sms_seconds_is_validated():
    for bad in (-1, "slow", 100, True):
        with pytest.raises(fl.BadInput):
            fl.Lab(pods=1, sms_seconds=bad)
