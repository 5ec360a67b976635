"""Fuzz every FinPay endpoint with generated bad requests: each gets a clear error, no pod
dies, and no balance anywhere changes (hypothesis, 1,000 requests per endpoint, both state
kinds). Then fuzz the lab's own arguments: ``Lab(...)``, ``lab.call(...)``, ``lab.run(...)``.

Junk must be junk. hypothesis >= 6.131 mixes string literals from the project's own code
into generated text, so a "junk" string can be ``"Meena"`` (a real customer) or ``"pod"``
(a real argument of ``lab.call``). Every strategy below draws its strings from ``junk_text``,
which leaves out every real name: the cast and the accounts, every parameter of every
endpoint, and ``lab.call``'s own arguments. (Customer names are matched exactly, so a case
variant such as ``"ravi"`` is a stranger, and stays in.)
"""

import inspect
import math

import multiprocess
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import finpay_lab as fl
from finpay_lab import defaults
from finpay_lab.runtime.balancer import STRATEGIES
from finpay_lab.services.finpay import CAST as FINPAY_CAST
from finpay_lab.services.finpay import MAX_PAYMENT
from finpay_lab.services.finpay import app as finpay_app

CAST = {"Ravi": 20_000, "Landlord": 0, "Meena": 15_000}
EXAMPLES = 1000
ARGUMENT_EXAMPLES = 300

ENDPOINT_PARAMS = {name for fn in finpay_app.endpoints.values() for name in inspect.signature(fn).parameters}
CALL_ARGS = set(inspect.signature(fl.Lab.call).parameters) - {"self", "params"}  # endpoint, pod, timeout
NOT_JUNK = ENDPOINT_PARAMS | CALL_ARGS | set(CAST) | set(FINPAY_CAST) | set(finpay_app.endpoints)


def junk_text(**kw):
    return st.text(**kw).filter(lambda t: t not in NOT_JUNK)


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    junk_text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.integers(min_value=-(10**20), max_value=10**20),
)
bad_amount = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=MAX_PAYMENT + 1, max_value=10**30),
    st.floats(),
    junk_text(max_size=8),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False).map(str),
)
stranger = junk_text(min_size=0, max_size=30)


def test_junk_is_not_the_projects_own_names():
    assert {"pod", "timeout", "endpoint", "user", "sender", "Meena", "Ravi", "balance"} <= NOT_JUNK


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


fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def pay_corruptions(token):
    good = {"sender": "Ravi", "receiver": "Landlord", "amount": 100, "token": token}
    return st.one_of(
        bad_amount.map(lambda a: dict(good, amount=a)),
        stranger.map(lambda u: dict(good, receiver=u)),
        stranger.map(lambda u: dict(good, sender=u)),
        st.just(dict(good, receiver="Ravi")),  # paying yourself
        st.integers(min_value=20_001, max_value=MAX_PAYMENT).map(lambda a: dict(good, amount=a)),  # too poor
        junk_text(max_size=60).map(lambda t: dict(good, token=t)),  # forged token
        st.sampled_from(list(good)).map(lambda k: {x: v for x, v in good.items() if x != k}),  # missing field
        st.tuples(junk_text(min_size=1, max_size=8), junk).map(
            lambda kv: dict(good, **{kv[0]: kv[1]})
        ),  # unexpected field
        junk.filter(lambda k: not isinstance(k, str) and k is not None).map(lambda k: dict(good, key=k)),
        st.sampled_from(["sender", "receiver", "token"])
        .flatmap(lambda f: junk.map(lambda j: dict(good, **{f: j})))
        .filter(
            lambda p: (
                not (p["sender"] == "Ravi" and p["token"] == token and p["receiver"] in ("Landlord", "Meena"))
            )
        ),
    )


@fuzz
@given(data=st.data())
def test_pay(lab, data):
    refused(lab, "pay", data.draw(pay_corruptions(lab.token)))


@fuzz
@given(
    params=st.one_of(
        stranger.map(lambda u: {"user": u}),
        junk.map(lambda j: {"user": j}),
        st.just({}),
        st.tuples(junk, junk).map(lambda j: {"user": "Ravi", "x": j[0]}),
    )
)
def test_balance(lab, params):
    refused(lab, "balance", params)


@fuzz
@given(
    params=st.one_of(
        stranger.map(lambda u: {"user": u}),
        junk.map(lambda j: {"user": j}),
        st.integers().filter(lambda n: not 1 <= n <= 50).map(lambda n: {"user": "Ravi", "limit": n}),
        junk.filter(lambda j: not isinstance(j, int) or isinstance(j, bool)).map(
            lambda j: {"user": "Ravi", "limit": j}
        ),
    )
)
def test_statement(lab, params):
    refused(lab, "statement", params)


@fuzz
@given(params=st.one_of(stranger.map(lambda u: {"user": u}), junk.map(lambda j: {"user": j}), st.just({})))
def test_login(lab, params):
    refused(lab, "login", params)


@fuzz
@given(
    params=st.one_of(
        st.tuples(st.sampled_from(list(CAST)), junk_text(max_size=20)).map(
            lambda t: {"user": t[0], "session": t[1]}
        ),
        junk.map(lambda j: {"user": "Ravi", "session": j}),
        st.just({"user": "Ravi"}),
    )
)
def test_whoami(lab, params):
    refused(lab, "whoami", params)


@fuzz
@given(
    params=st.one_of(
        stranger.map(lambda u: {"user": u, "message": "hi"}),
        st.text(min_size=161, max_size=300).map(lambda m: {"user": "Ravi", "message": m}),
        st.just({"user": "Ravi", "message": ""}),
        junk.map(lambda j: {"user": "Ravi", "message": j}).filter(
            lambda p: not isinstance(p["message"], str)
        ),
    )
)
def test_notify(lab, params):
    refused(lab, "notify", params)


@fuzz
@given(
    params=st.one_of(
        st.tuples(stranger, stranger).map(lambda t: {"user_a": t[0], "user_b": t[1]}),
        junk.map(lambda j: {"user_a": j, "user_b": "Ravi"}).filter(
            lambda p: not isinstance(p["user_a"], str)
        ),
        st.just({"user_a": "Ravi"}),
    )
)
def test_fraud_check(lab, params):
    refused(lab, "fraud_check", params)


@fuzz
@given(
    params=st.one_of(
        st.integers(max_value=0).map(lambda a: {"amount": a}),
        junk.map(lambda j: {"amount": j}).filter(
            lambda p: not isinstance(p["amount"], int) or isinstance(p["amount"], bool) or p["amount"] <= 0
        ),
        st.just({}),
    )
)
def test_update_balance(lab, params):
    refused(lab, "update_balance", params)


# ------------------------------------------------------------ the lab's own arguments
fuzz_arguments = settings(fuzz, max_examples=ARGUMENT_EXAMPLES)


def _number_in(x, low, high, low_open=False):
    return (
        not isinstance(x, bool)
        and isinstance(x, int | float)
        and not math.isnan(x)
        and (low < x if low_open else low <= x)
        and x <= high
    )


def _is_pod_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 64


BAD_LAB_ARGS = {
    "pods": junk.filter(lambda x: not _is_pod_count(x)),
    "state": junk.filter(lambda x: x not in ("memory", "redis")),
    "balancer": junk.filter(lambda x: not (isinstance(x, str) and x in STRATEGIES)),
    "redis": junk.filter(
        lambda x: (
            x not in ("fake", "real")
            and not (isinstance(x, str) and x.startswith(("redis://", "rediss://", "unix://")))
        )
    ),
    "restart": junk.filter(lambda x: not isinstance(x, bool)),
    "seed": junk.filter(lambda x: x is not None and (isinstance(x, bool) or not isinstance(x, int | str))),
    "sms_seconds": junk.filter(lambda x: not _number_in(x, 0, 60)),
    "accounts": junk.filter(lambda x: x is not None and not (isinstance(x, dict) and x)),
    "app": junk.filter(lambda x: x is not None),
    "start_method": junk.filter(lambda x: x is not None and x not in multiprocess.get_all_start_methods()),
}


@fuzz_arguments
@given(kwargs=st.sampled_from(sorted(BAD_LAB_ARGS)).flatmap(lambda k: BAD_LAB_ARGS[k].map(lambda v: {k: v})))
def test_lab_arguments(kwargs):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(fl.BadInput):
        fl.Lab(**kwargs)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # nothing started


def _is_timeout(x):
    return _number_in(x, 0, defaults.MAX_TIMEOUT, low_open=True)


bad_calls = st.one_of(
    junk.filter(lambda e: not isinstance(e, str)).map(lambda e: {"endpoint": e}),
    junk_text(max_size=10).map(lambda e: {"endpoint": "__" + e}),
    junk.filter(lambda p: p is not None and p not in ("pod-1", "pod-2")).map(
        lambda p: {"endpoint": "balance", "user": "Ravi", "pod": p}
    ),
    junk.filter(lambda t: t is not None and not _is_timeout(t)).map(
        lambda t: {"endpoint": "balance", "user": "Ravi", "timeout": t}
    ),
    junk_text(max_size=20).map(lambda e: {"endpoint": e, "user": "Ravi"}),  # an unknown endpoint
)


@fuzz_arguments
@given(kwargs=bad_calls)
def test_call_arguments(lab, kwargs):
    sent = len(lab.history.requests)
    try:
        r = lab.call(**kwargs)
    except fl.BadInput as exc:
        assert str(exc) and len(lab.history.requests) == sent  # refused before anything was sent
    else:
        assert not r.ok and r.error and "Traceback" not in r.error, (kwargs, r)
    assert all(p.status in ("ready", "busy") for p in lab.pods)


bad_items = st.one_of(
    junk,
    st.tuples(junk),
    st.tuples(junk, junk, junk, junk),
    junk.filter(lambda a: not _number_in(a, 0, defaults.MAX_RUN_AT)).map(
        lambda a: (a, "balance", {"user": "Ravi"})
    ),
    junk.filter(lambda e: not isinstance(e, str)).map(lambda e: (e, {"user": "Ravi"})),
    junk.filter(lambda p: not isinstance(p, dict)).map(lambda p: ("balance", p)),
)
bad_runs = st.one_of(
    st.tuples(st.integers(0, 5), bad_items).map(
        lambda n_item: {"workload": [("balance", {"user": "Ravi"})] * n_item[0] + [n_item[1]]}
    ),
    junk.filter(lambda d: d is not None and not (_is_pod_count(d) and 1 <= d <= defaults.MAX_DEPTH)).map(
        lambda d: {"workload": [("balance", {"user": "Ravi"})], "depth": d}
    ),
    st.one_of(
        junk.filter(lambda c: c is not None and (not isinstance(c, list | tuple) or c)),
        st.lists(junk, min_size=1, max_size=3),
    ).map(lambda c: {"workload": [("balance", {"user": "Ravi"})], "chaos": c}),
)


@fuzz_arguments
@given(kwargs=bad_runs)
def test_run_arguments(lab, kwargs):
    sent = len(lab.history.requests)
    with pytest.raises(fl.BadInput):
        lab.run(**kwargs)
    assert len(lab.history.requests) == sent  # checked whole before anything was sent
    assert all(p.status == "ready" for p in lab.pods)
