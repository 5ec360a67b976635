"""Bad input is a clear error and changes nothing: no request kills a pod, no frame size
deadlocks the pipe, no argument hangs the lab, and an interrupted caller leaves no pod busy.

After every bad input: the same pods (same pids), still serving, and the money unchanged.
"""

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import finpay_lab as fl
from finpay_lab import defaults
from finpay_lab.runtime.pod_loop import _peek, _stats

CAST = {"Ravi": 20_000, "Landlord": 0, "Meena": 15_000}


@pytest.fixture(scope="module")
def lab():
    with fl.Lab(pods=2, accounts=CAST) as lab:
        yield lab


def snapshot(lab):
    return [p.pid for p in lab.pods], lab.balances()


def unchanged(lab, before):
    """Same pods, all serving, same money: the bad input changed nothing."""
    pods = lab.pods
    assert [p.pid for p in pods] == before[0]
    assert all(p.status == "ready" for p in pods), pods
    assert lab.balances() == before[1]
    assert lab.call("balance", user="Ravi").ok


# ------------------------------------------------------------ item 6: big frames
BIG_FRAMES = textwrap.dedent("""
    import finpay_lab as fl

    echo = fl.App("echo")

    @echo.endpoint
    def shout(state, data: str):
        return data * 2  # the reply is twice the request

    with fl.Lab(pods=2) as lab:
        before = [p.pid for p in lab.pods]
        run = lab.run([("balance", {"user": "x" * 300_000})] * 3)  # the issue's deadlock
        assert run.failed == 3 and all(len(r.error) <= 500 for r in run.requests), run.summary()
        assert lab.call("balance", user="x" * 10_000_000).error.startswith("unknown customer")
        assert [p.pid for p in lab.pods] == before
    with fl.Lab(pods=2, app=echo) as lab:
        run = lab.run([("shout", {"data": "y" * 400_000})] * 12)  # big both ways, pipelined
        assert run.ok == 12 and all(len(r.value) == 800_000 for r in run.requests), run.summary()
        r = lab.call("shout", data="z" * 5_000_000)
        assert r.ok and len(r.value) == 10_000_000
        assert all(p.status == "ready" for p in lab.pods), lab.pods
    print("done")
""")


def test_big_frames_both_ways_never_deadlock():
    # A subprocess, so a deadlock fails the test instead of hanging the suite.
    try:
        out = subprocess.run([sys.executable, "-c", BIG_FRAMES], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("lab.run with big frames deadlocked")
    assert out.returncode == 0 and "done" in out.stdout, out.stderr[-3000:]


def interrupt_after(seconds):
    """Ctrl-C, as the notebook's Stop button sends it: SIGINT to this process, later."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_in_the_middle_of_a_big_write_leaves_the_stream_whole(lab):
    before = snapshot(lab)
    lab.pause("pod-1")  # it reads nothing: the 10 MB request cannot all be written
    try:
        interrupt_after(0.3)
        with pytest.raises(KeyboardInterrupt):
            lab.call("balance", pod="pod-1", timeout=60, user="x" * 10_000_000)
        assert lab.pods[0].status == "ready"  # the interrupted request is given up, not left busy
        assert "gave up" in lab.history.requests[-1].error
    finally:
        lab.resume("pod-1")
    # The rest of the big frame is still sent whole, then the next request is understood.
    r = lab.call("balance", pod="pod-1", timeout=20, user="Ravi")
    assert r.ok and r.value == 20_000, r
    unchanged(lab, before)


def test_ctrl_c_during_a_run_leaves_no_pod_busy(lab):
    before = snapshot(lab)
    lab.pause("pod-2")
    try:
        interrupt_after(0.3)
        with pytest.raises(KeyboardInterrupt):
            lab.run([("balance", {"user": "Ravi"})] * 40)  # waits for the paused pod-2
        assert [p.status for p in lab.pods] == ["ready", "ready"]  # nothing left in flight
        assert all(not p.in_flight for p in lab._pods.values())
    finally:
        lab.resume("pod-2")
    unchanged(lab, before)  # the late replies of pod-2 are dropped


# ------------------------------------------------------------ item 7: no request kills a pod
class Local:
    """A class defined in a notebook: it lives in ``__main__``, which pods do not share."""


Local.__module__ = "__main__"


def test_params_a_pod_cannot_read_are_an_error_reply(lab, monkeypatch):
    monkeypatch.setattr(sys.modules["__main__"], "Local", Local, raising=False)  # as in a notebook
    before = snapshot(lab)
    for pod in ("pod-1", "pod-2"):
        r = lab.call("balance", pod=pod, user=Local())
        assert not r.ok and "pass plain values" in r.error, r
    r = lab.run([("balance", {"user": Local()})] * 4)
    assert r.failed == 4 and all("pass plain values" in x.error for x in r.requests)
    r = lab.call("balance", user=lambda: "Ravi")  # cannot even be pickled here
    assert not r.ok and "pass plain values" in r.error, r
    unchanged(lab, before)


@pytest.mark.parametrize(
    "call",
    [
        lambda lab: lab.call(["x"]),
        lambda lab: lab.call(None),
        lambda lab: lab.call("__peek__", prefix=5),
        lambda lab: lab.call("__stats__"),
        lambda lab: lab.peek("pod-2", prefix=5),
        lambda lab: lab.run([(["x"], {})]),
        lambda lab: lab.run([("__peek__", {"prefix": 5})]),
    ],
    ids=[
        "list-endpoint",
        "none-endpoint",
        "raw-peek",
        "raw-stats",
        "peek-prefix",
        "run-list-endpoint",
        "run-raw-peek",
    ],
)
def test_requests_that_killed_a_pod_are_refused_at_the_lab(lab, call):
    before = snapshot(lab)
    with pytest.raises(fl.BadInput):
        call(lab)
    unchanged(lab, before)


def test_a_pod_survives_malformed_requests_that_get_past_the_lab(lab):
    # Defence in depth: send what the lab now refuses straight down the pipe.
    before = snapshot(lab)
    pod = lab._pods["pod-2"]
    assert lab._control(pod, "__peek__", {"prefix": 5}) is None  # an error reply, not a death
    assert lab._control(pod, "__peek__", ["not", "a", "dict"]) is None
    for endpoint in (["x"], {"a": 1}, 5, None):
        assert lab._control(pod, endpoint, {}) is None
    unchanged(lab, before)


def test_control_handlers_and_app_handle_validate():
    class State:
        kind = "memory"

        def keys(self, prefix=""):
            return []

    assert _peek(State(), {"prefix": 5})[0] is False
    assert _peek(State(), {"prefix": "a"}) == (True, {}, None)
    assert _stats(State(), None)[0] is True
    ok, value, error = fl.App("x").handle(State(), ["x"], {})
    assert ok is False and "unknown endpoint" in error


# ------------------------------------------------------------ item 9: argument checks
BAD_ARGUMENTS = {
    "depth=0": (lambda lab: lab.run([("balance", {"user": "Ravi"})], depth=0), "depth"),
    "depth=True": (lambda lab: lab.run([], depth=True), "depth"),
    "at=3600": (lambda lab: lab.run([(3600, "balance", {"user": "Ravi"})]), "600"),
    "at=nan": (lambda lab: lab.run([(math.nan, "balance", {"user": "Ravi"})]), "at="),
    "at=-1": (lambda lab: lab.run([(-1, "balance", {"user": "Ravi"})]), "at="),
    "timeout='x'": (lambda lab: lab.call("balance", timeout="x", user="Ravi"), "timeout"),
    "timeout=-1": (lambda lab: lab.call("balance", timeout=-1, user="Ravi"), "timeout"),
    "timeout=nan": (lambda lab: lab.call("balance", timeout=math.nan, user="Ravi"), "timeout"),
    "timeout=True": (lambda lab: lab.call("balance", timeout=True, user="Ravi"), "timeout"),
    "pod=['x']": (lambda lab: lab.call("balance", pod=["x"], user="Ravi"), "pod-1"),
    "pod_stats(['x'])": (lambda lab: lab.pod_stats(["x"]), "pod-1"),
    "pod_stats(timeout=0)": (lambda lab: lab.pod_stats("pod-1", timeout=0), "timeout"),
    "audit(wait='x')": (lambda lab: lab.audit(wait="x"), "wait"),
    "audit(wait=-1)": (lambda lab: lab.audit(wait=-1), "wait"),
    "run item 3": (lambda lab: lab.run([3]), "(endpoint, params)"),
    "run item 1-tuple": (lambda lab: lab.run([("balance",)]), "(endpoint, params)"),
    "run params list": (lambda lab: lab.run([("balance", ["Ravi"])]), "dict"),
    "run workload 5": (lambda lab: lab.run(5), "workload"),
    "run workload str": (lambda lab: lab.run("balance"), "workload"),
    "late bad item": (lambda lab: lab.run([("balance", {"user": "Ravi"})] * 5 + [("balance",)]), "item 5"),
    "chaos=1": (lambda lab: lab.run([], chaos=1), "chaos"),
    "chaos=[1]": (lambda lab: lab.run([], chaos=[1]), "chaos"),
    "chaos=fault": (lambda lab: lab.run([], chaos=fl.chaos.kill("pod-1")), "chaos"),
    "Lab(seed=object())": (lambda lab: fl.Lab(seed=object()), "seed"),
    "Lab(seed=1.5)": (lambda lab: fl.Lab(seed=1.5), "seed"),
    "rps=nan": (lambda lab: fl.load.constant(rps=math.nan), "rps"),
    "rps=inf": (lambda lab: fl.load.constant(rps=math.inf), "rps"),
    "18 GB plan": (lambda lab: fl.load.constant(rps=100_000, seconds=600), "1,000,000"),
    "step levels nan": (lambda lab: fl.load.step(levels=(1, math.nan)), "level"),
    "seconds=True": (lambda lab: fl.load.constant(seconds=True), "seconds"),
    "shape seed": (lambda lab: fl.load.constant(seed=object()), "seed"),
    "shape users": (lambda lab: fl.load.constant(users=0), "users"),
    "mix junk": (lambda lab: fl.load.constant(mix={"pay": "x"}), "mix"),
}


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_unchecked_arguments_are_bad_input(lab, name):
    call, says = BAD_ARGUMENTS[name]
    before = snapshot(lab)
    sent = len(lab.history.requests)
    with pytest.raises(fl.BadInput) as err:
        call(lab)
    assert says in str(err.value)
    assert len(lab.history.requests) == sent  # refused before anything was sent
    unchanged(lab, before)


def test_a_generator_s_bad_item_stops_the_run_after_what_was_sent_is_answered(lab):
    before = snapshot(lab)
    sent = len(lab.history.requests)

    def workload():  # a generator may act between items, so its items are checked as drawn
        yield from [("balance", {"user": "Ravi"})] * 3
        yield ("balance", "Ravi")

    with pytest.raises(fl.BadInput, match="the 3 items before it were sent"):
        lab.run(workload())
    assert [r.ok for r in lab.history.requests[sent:]] == [True] * 3  # answered, not abandoned
    unchanged(lab, before)


def test_bounds_live_in_defaults():
    assert defaults.MAX_RUN_AT == 600 and defaults.MAX_PLANNED_REQUESTS == 1_000_000
    assert fl.load.constant(rps=1000, seconds=600).seconds == 600  # a big but sane plan is fine


# ------------------------------------------------------------ item 19: out-of-order cells
def test_pod_stats_of_a_dead_pod_says_it_is_dead():
    with fl.Lab(pods=2, accounts=CAST) as lab:
        lab.kill("pod-2")
        stats = lab.pod_stats("pod-2")
        assert stats["status"] == "dead" and stats["cause"] == "SIGKILL"
        assert stats["queued_sms"] == 0 and stats["sessions"] == 0  # the old KeyError
        assert lab.peek("pod-2") == {}
        assert "status" not in lab.pod_stats("pod-1")  # a live pod's stats are unchanged


def test_lab_errors_render_as_one_sentence_in_jupyter():
    err = fl.BadInput("depth must be a whole number of requests from 1 to 64, not 0")
    assert err._render_traceback_() == [
        "BadInput: depth must be a whole number of requests from 1 to 64, not 0"
    ]
    assert fl.LabError("closed")._render_traceback_() == ["LabError: closed"]
    assert not hasattr(ValueError("x"), "_render_traceback_")  # only the lab's own errors
