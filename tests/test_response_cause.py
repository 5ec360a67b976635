"""Response.cause: a failed request says why as a value, set where the failure is made;
the audit reads it, never the error's text."""

import os
import signal

import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause
from finpay_lab.services.audit import Promises
from finpay_lab.stores.state import MemoryState


def _app():
    app = fl.App("causes")

    @app.endpoint
    def echo(state, x: int):
        return x

    @app.endpoint
    def refuse(state):
        raise fl.Rejected("no, thank you")

    @app.endpoint
    def bug(state):
        return 1 / 0

    @app.endpoint
    def die(state):
        os.kill(os.getpid(), signal.SIGKILL)

    @app.endpoint
    def sleep(state, seconds: float):
        import time

        time.sleep(seconds)

    return app


def test_a_cause_prints_as_its_word_and_stays_out_of_the_repr():
    r = fl.Response(False, None, "pod-1 crashed (SIGKILL) while handling pay", "pod-1", cause=Cause.CRASHED)
    assert repr(r) == "Response(ok=False, error='pod-1 crashed (SIGKILL) while handling pay', pod='pod-1')"
    assert f"{r.cause}" == "crashed" and repr(r.cause) == "'crashed'" and r.cause == "crashed"
    assert fl.Response(True, 1).cause is None
    frame = fl.History().to_frame()
    assert list(frame.columns) == [
        "id",
        "endpoint",
        "user",
        "pod",
        "ok",
        "value",
        "error",
        "due",  # when an open-loop request was due (None otherwise): latency counted honestly
        "sent",
        "received",
        "latency",
        "service",
        "params",
    ]


def test_the_app_says_why_without_a_pod():
    app, state = _app(), MemoryState()
    assert app.serve(state, "echo", {"x": 1}) == (True, 1, None, None)
    assert app.serve(state, "nope", {})[3] is Cause.BAD_REQUEST
    assert app.serve(state, "echo", {"x": "1"})[3] is Cause.BAD_REQUEST
    assert app.serve(state, "echo", [])[3] is Cause.BAD_REQUEST
    assert app.serve(state, "refuse", {})[2:] == ("no, thank you", Cause.REJECTED)
    assert app.serve(state, "bug", {})[3] is Cause.APP_ERROR
    assert app.handle(state, "refuse", {}) == (False, None, "no, thank you")  # handle's contract is unchanged


def test_every_failure_a_lab_makes_carries_its_cause():
    with fl.Lab(pods=2, app=_app()) as lab:
        assert lab.call("echo", x=1).cause is None
        assert lab.call("refuse").cause is Cause.REJECTED
        assert lab.call("bug").cause is Cause.APP_ERROR
        assert lab.call("nope").cause is Cause.BAD_REQUEST
        assert lab.call("echo", x=lambda: 1).cause is Cause.BAD_REQUEST  # cannot even be sent
        assert lab.call("sleep", pod="pod-2", timeout=0.2, seconds=1.0).cause is Cause.TIMEOUT
        crashed = lab.call("die", pod="pod-1")
        assert crashed.cause is Cause.CRASHED and "crashed (SIGKILL)" in crashed.error
        assert lab.call("echo", pod="pod-1", x=1).cause is Cause.NO_POD
        lab.kill("pod-2")
        assert lab.call("echo", x=1).cause is Cause.NO_POD
        assert [r.cause for r in lab.history.requests if not r.ok] == [
            "rejected",
            "app_error",
            "bad_request",
            "bad_request",
            "timeout",
            "crashed",
            "no_pod",
            "no_pod",
        ]


def test_a_redis_outage_is_store_unavailable():
    with fl.Lab(pods=1, state="redis") as lab:
        lab.redis.down()
        try:
            r = lab.call("balance", user="Ravi")
        finally:
            lab.redis.up()
        assert not r.ok and r.cause is Cause.STORE_UNAVAILABLE


def _failed_pay(error, cause):
    return fl.Response(
        False, None, error, "pod-2", endpoint="pay", params={"key": "k1", "sender": "Ravi"}, cause=cause
    )


@pytest.mark.parametrize("cause", [Cause.CRASHED, Cause.TIMEOUT, Cause.STORE_UNAVAILABLE])
def test_the_audit_reads_the_cause_not_the_text(cause):
    promises = Promises()
    promises.add([_failed_pay("something went wrong", cause)])  # no telltale words in the text
    assert promises.result()["in_doubt"] == {"k1"}


@pytest.mark.parametrize("cause", [Cause.REJECTED, Cause.BAD_REQUEST, Cause.NO_POD, Cause.APP_ERROR, None])
def test_a_failure_that_moved_no_money_is_not_in_doubt_whatever_it_says(cause):
    promises = Promises()
    promises.add([_failed_pay("pod-2 crashed (SIGKILL); Redis is unreachable; did not answer", cause)])
    assert promises.result()["in_doubt"] == set()
