"""Fuzz every FinPay endpoint with generated bad requests: each gets a clear error, no pod
dies, and no balance anywhere changes (hypothesis, 1,000 requests per endpoint)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import finpay_lab as fl
from finpay_lab.finpay import MAX_PAYMENT

CAST = {"Ravi": 20_000, "Landlord": 0, "Meena": 15_000}
EXAMPLES = 1000

junk = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                 st.integers(min_value=-(10**20), max_value=10**20))
bad_amount = st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_PAYMENT + 1, max_value=10**30),
                       st.floats(), st.text(max_size=8), st.booleans(), st.none(), st.decimals(allow_nan=False).map(str))
stranger = st.text(min_size=0, max_size=30).filter(lambda u: u not in CAST)


@pytest.fixture(scope="module", params=["memory", "redis"])
def lab(request):
    with fl.Lab(pods=2, state=request.param, accounts=CAST) as lab:
        lab.token = lab.call("login", user="Ravi").value["token"]
        lab.before = (lab.balances(), [p.pid for p in lab.pods])
        yield lab
        # after every example of every endpoint: same pods, same money everywhere
        assert [p.pid for p in lab.pods] == lab.before[1]
        assert lab.balances() == lab.before[0]
        assert lab.audit(wait=0.1).money_created == 0


def refused(lab, endpoint, params):
    r = lab.call(endpoint, **params)
    assert not r.ok, (endpoint, params, r.value)
    assert isinstance(r.error, str) and r.error and "Traceback" not in r.error
    assert all(p.status in ("ready", "busy") for p in lab.pods)
    return r


fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def pay_corruptions(token):
    good = {"sender": "Ravi", "receiver": "Landlord", "amount": 100, "token": token}
    return st.one_of(
        bad_amount.map(lambda a: dict(good, amount=a)),
        stranger.map(lambda u: dict(good, receiver=u)),
        stranger.map(lambda u: dict(good, sender=u)),
        st.just(dict(good, receiver="Ravi")),  # paying yourself
        st.integers(min_value=20_001, max_value=MAX_PAYMENT).map(lambda a: dict(good, amount=a)),  # too poor
        st.text(max_size=60).map(lambda t: dict(good, token=t)),  # forged token
        st.sampled_from(list(good)).map(lambda k: {x: v for x, v in good.items() if x != k}),  # missing field
        st.tuples(st.text(min_size=1, max_size=8).filter(lambda k: k not in set(good) | {"key"}), junk).map(
            lambda kv: dict(good, **{kv[0]: kv[1]})),  # unexpected field
        junk.filter(lambda k: not isinstance(k, str) and k is not None).map(lambda k: dict(good, key=k)),
        st.sampled_from(["sender", "receiver", "token"]).flatmap(lambda f: junk.map(lambda j: dict(good, **{f: j}))).filter(
            lambda p: not (p["sender"] == "Ravi" and p["token"] == token and p["receiver"] in ("Landlord", "Meena"))),
    )


@fuzz
@given(data=st.data())
def test_pay(lab, data):
    refused(lab, "pay", data.draw(pay_corruptions(lab.token)))


@fuzz
@given(params=st.one_of(stranger.map(lambda u: {"user": u}), junk.map(lambda j: {"user": j}),
                        st.just({}), st.tuples(junk, junk).map(lambda j: {"user": "Ravi", "x": j[0]})))
def test_balance(lab, params):
    refused(lab, "balance", params)


@fuzz
@given(params=st.one_of(stranger.map(lambda u: {"user": u}), junk.map(lambda j: {"user": j}),
                        st.integers().filter(lambda n: not 1 <= n <= 50).map(lambda n: {"user": "Ravi", "limit": n}),
                        junk.filter(lambda j: not isinstance(j, int) or isinstance(j, bool)).map(
                            lambda j: {"user": "Ravi", "limit": j})))
def test_statement(lab, params):
    refused(lab, "statement", params)


@fuzz
@given(params=st.one_of(stranger.map(lambda u: {"user": u}), junk.map(lambda j: {"user": j}), st.just({})))
def test_login(lab, params):
    refused(lab, "login", params)


@fuzz
@given(params=st.one_of(st.tuples(st.sampled_from(list(CAST)), st.text(max_size=20)).map(
    lambda t: {"user": t[0], "session": t[1]}), junk.map(lambda j: {"user": "Ravi", "session": j}),
    st.just({"user": "Ravi"})))
def test_whoami(lab, params):
    refused(lab, "whoami", params)


@fuzz
@given(params=st.one_of(stranger.map(lambda u: {"user": u, "message": "hi"}),
                        st.text(min_size=161, max_size=300).map(lambda m: {"user": "Ravi", "message": m}),
                        st.just({"user": "Ravi", "message": ""}), junk.map(lambda j: {"user": "Ravi", "message": j})
                        .filter(lambda p: not isinstance(p["message"], str))))
def test_notify(lab, params):
    refused(lab, "notify", params)


@fuzz
@given(params=st.one_of(st.tuples(stranger, stranger).map(lambda t: {"user_a": t[0], "user_b": t[1]}),
                        junk.map(lambda j: {"user_a": j, "user_b": "Ravi"}).filter(lambda p: not isinstance(p["user_a"], str)),
                        st.just({"user_a": "Ravi"})))
def test_fraud_check(lab, params):
    refused(lab, "fraud_check", params)


@fuzz
@given(params=st.one_of(st.integers(max_value=0).map(lambda a: {"amount": a}), junk.map(lambda j: {"amount": j}).filter(
    lambda p: not isinstance(p["amount"], int) or isinstance(p["amount"], bool) or p["amount"] <= 0),
    st.just({})))
def test_update_balance(lab, params):
    refused(lab, "update_balance", params)
