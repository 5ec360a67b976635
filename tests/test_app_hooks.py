"""The last two FinPay words in the runtime became App declarations (issue 9):
``App.user_params`` (which parameter names whom a request is for: sticky routing and
``Response.user`` read it) and ``App.pod_stats`` (what a pod reports holding in its own
memory: ``lab.pod_stats``, the dashboard's tiles). FinPay declares both; a lab running
another app routes, records and reports nothing of FinPay's."""

import ast
import pathlib

import pytest

import finpay_lab as fl
from finpay_lab.stores.state import MemoryState

RUNTIME = pathlib.Path(fl.__file__).resolve().parent / "runtime"
PODS = ["pod-1", "pod-2", "pod-3"]


def echo_app(name="echo", user_params=None):
    """An app with one endpoint that takes any parameters and answers its pod's name."""
    app = fl.App(name)

    @app.endpoint
    def echo(state, **params):
        return fl.this_pod().name

    if user_params is not None:
        app.user_params = user_params
    return app


def test_the_runtime_names_no_finpay_parameter_or_key():
    """No string in runtime/ is a FinPay parameter (``sender``, ``user_a``) or key prefix."""
    found = []
    for path in sorted(RUNTIME.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                word = node.value
                if word in ("sender", "user_a") or word.startswith(("session:", "sms:queue")):
                    found.append((path.name, word))
    assert found == []


def test_another_apps_sender_is_nobody_sticky_routing_spreads_it():
    """``sender`` is FinPay's word: an app that does not declare it is not routed by it."""
    with fl.Lab(pods=3, app=echo_app(), balancer="sticky") as lab:
        responses = [lab.call("echo", sender="Ravi") for _ in range(4)]
        assert [r.user for r in responses] == [None] * 4
        assert [r.pod for r in responses] == ["pod-1", "pod-2", "pod-3", "pod-1"]  # round robin's fallback
        assert lab.call("echo", user="Ravi").user == "Ravi"  # `user`: every app's name for it, by default


def test_sticky_routing_follows_the_parameter_the_app_names():
    customers = [f"cust-{i}" for i in range(8)]
    with fl.Lab(pods=3, app=echo_app(user_params=("customer",)), balancer="sticky") as lab:
        owner = {c: lab.balancer.owner(c, PODS) for c in customers}
        assert len(set(owner.values())) > 1  # so routing by anything else would send some elsewhere
        for c in customers * 2:
            r = lab.call("echo", customer=c, user="someone-else", sender="x")
            assert (r.user, r.pod) == (c, owner[c])
        run = lab.run([("echo", {"customer": c}) for c in customers])
        assert {r.user: r.pod for r in run.requests} == owner


def test_finpay_names_the_payer_and_the_fraud_checks_first_customer():
    with fl.Lab(pods=2) as lab:
        token = lab.call("login", user="Ravi").value["token"]
        paid = lab.call("pay", sender="Ravi", receiver="Meena", amount=5, token=token)
        assert paid.ok and paid.user == "Ravi"
        assert lab.call("fraud_check", user_a="Meena", user_b="Ravi").user == "Meena"


def test_a_rolled_out_app_brings_its_own_user_params():
    with fl.Lab(pods=1, app=echo_app(user_params=("customer",)), balancer="sticky") as lab:
        assert lab.call("echo", customer="A", buyer="B").user == "A"
        lab.rollout(app=echo_app("echo-v2", user_params=("buyer",)))
        assert lab.call("echo", customer="A", buyer="B").user == "B"
        assert lab.balancer.user_params == ("buyer",)


def keeper_app():
    app = fl.App("keeper")

    @app.endpoint
    def keep(state, key: str):
        state.set(key, [1, 2])
        return key

    return app


def test_another_apps_pods_report_only_their_keys():
    """Keys that look like FinPay's sessions and SMS queue are just keys to another app."""
    with fl.Lab(pods=2, app=keeper_app()) as lab:
        lab.call("keep", key="session:abc", pod="pod-1")
        lab.call("keep", key="sms:queue", pod="pod-1")
        assert lab.pod_stats("pod-1") == {"keys": 2}
        lab.kill("pod-1")
        assert lab.pod_stats("pod-1") == {"keys": 0, "status": "dead", "cause": "SIGKILL"}


def carts(state):
    return {"carts": 0 if state is None else len(state.keys("cart:"))}


@pytest.mark.parametrize("state", ["memory", "redis"])
def test_an_app_declares_what_its_pods_report(state):
    app = keeper_app()
    app.pod_stats = carts
    with fl.Lab(pods=1, app=app, state=state) as lab:
        lab.call("keep", key="cart:1")
        lab.call("keep", key="other")
        held = (
            {"carts": 1, "keys": 2} if state == "memory" else {"carts": 0, "keys": 0}
        )  # Redis: the pod keeps none
        assert lab.pod_stats("pod-1") == held
        lab.kill("pod-1")
        assert lab.pod_stats("pod-1") == {"carts": 0, "keys": 0, "status": "dead", "cause": "SIGKILL"}


def test_a_pod_stats_hook_that_raises_kills_no_pod():
    app = keeper_app()
    app.pod_stats = lambda state: {"broken": 1 / 0}
    with fl.Lab(pods=1, app=app) as lab:
        assert lab.pod_stats("pod-1") is None  # an error reply, not a death
        assert lab.call("keep", key="x").ok
        assert lab.pods[0].status == "ready"


def test_finpays_pod_stats_counts_sessions_and_queued_sms():
    from finpay_lab.services.finpay import held_in_memory

    state = MemoryState()
    state.set("session:s-1", "Ravi")
    state.set("active:Ravi", "s-1")
    state.enqueue("sms:queue", {"id": "a"})
    state.enqueue("sms:queue", {"id": "b"})
    assert held_in_memory(state) == {"sessions": 1, "queued_sms": 2}
    assert held_in_memory(None) == {"sessions": 0, "queued_sms": 0}  # its state is elsewhere, or it is dead
    assert fl.finpay.app.pod_stats is held_in_memory


@pytest.mark.parametrize(
    "declare, value, match",
    [
        ("user_params", "user", "a tuple of names"),
        ("user_params", ("user", 3), "a tuple of names"),
        ("pod_stats", 5, "function"),
    ],
)
def test_a_declaration_the_lab_cannot_use_is_refused_before_any_pod_starts(declare, value, match):
    app = echo_app()
    setattr(app, declare, value)
    with pytest.raises(fl.BadInput, match=match):
        fl.Lab(pods=1, app=app)
    with fl.Lab(pods=1, app=echo_app()) as lab:
        with pytest.raises(fl.BadInput, match=match):
            lab.rollout(app=app)
        assert [p.name for p in lab.pods] == ["pod-1"]  # nothing was replaced
