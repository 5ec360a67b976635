"""Bad requests get a clear error; the pod stays up; nothing changes."""

import pytest

import finpay_lab as fl


@pytest.mark.parametrize(
    "endpoint,params,error",
    [
        ("pay_rent", {}, "unknown endpoint 'pay_rent' (this app has: add_balance, "),
        ("add_balance", {"user": "Ravi"}, "add_balance: missing required parameter 'amount'"),
        (
            "add_balance",
            {"user": "Ravi", "amount": "5000"},
            "add_balance: amount must be int, got str '5000'",
        ),
        ("add_balance", {"user": "Ravi", "amount": True}, "add_balance: amount must be int, got bool True"),
        (
            "add_balance",
            {"user": "Ravi", "amount": 1, "pin": 1234},
            "add_balance: unexpected parameter 'pin'",
        ),
        ("add_balance", {"state": 1, "user": "R", "amount": 1}, "add_balance: 'state' is the pod's state"),
        ("update_balance", {"amount": -5}, "amount must be a positive number of rupees, not -5"),
        ("whoami", {"user": "Ravi", "session": "s-nope"}, "unknown session s-nope for Ravi on pod-1"),
    ],
)
def test_bad_requests_are_clear_errors_and_the_pod_keeps_serving(make_lab, endpoint, params, error):
    lab = make_lab(pods=1)
    before = lab.call("update_balance", amount=1).value
    r = lab.call(endpoint, **params)
    assert not r.ok and r.error.startswith(error), r.error
    assert r.pod == "pod-1" and lab.pods[0].status == "ready"
    assert lab.call("update_balance", amount=1).value == before + 1  # nothing else changed


def test_handlers_from_a_notebook_style_app_with_annotations_and_defaults():
    app = fl.App("counter")

    @app.endpoint
    def update_balance(state, amount: int, user: str = "Ravi"):
        if amount <= 0:
            raise fl.Rejected("amount must be positive")
        return state.incr(f"balance:{user}", amount, initial=1000)

    @app.endpoint(name="echo")
    def _echo(state, *args, **kwargs):
        return kwargs

    with fl.Lab(pods=1, app=app) as lab:
        assert lab.call("update_balance", amount=500).value == 1500
        assert lab.call("update_balance", amount=300, user="Meena").value == 1300
        r = lab.call("update_balance", amount=0)
        assert (r.ok, r.error) == (False, "amount must be positive")
        assert lab.call("echo", a=1).value == {"a": 1}


def test_unpicklable_values_are_errors_not_crashes():
    app = fl.App("odd")

    @app.endpoint
    def gen(state):
        return (i for i in range(3))

    with fl.Lab(pods=1, app=app) as lab:
        r = lab.call("gen")
        assert not r.ok and "could not be sent back" in r.error
        r = lab.call("gen", x=lambda: 1)
        assert not r.ok and "could not be sent" in r.error
        assert lab.pods[0].status == "ready"


def test_app_rejects_non_functions_and_handlers_without_state():
    app = fl.App()
    with pytest.raises(TypeError, match="state"):
        app.endpoint(lambda: 1)
    with pytest.raises(TypeError, match="function"):
        app.endpoint(42)
