"""The public seams other layers use instead of reaching into a lab (``lab._x``).

``lab.record_event`` and ``History.end_event`` (chaos marks its faults), ``lab.redis``
with ``down()/up()/slow()`` (chaos breaks the Redis), ``lab.snapshot()`` (the dashboard
reads the lab under its lock, with a timeout). tests/test_layers.py checks nobody reaches
past them.
"""

import threading
import time

import pytest
import redis

import finpay_lab as fl
from finpay_lab.runtime.history import History, PodEvent


def test_end_event_gives_an_event_its_end_and_keeps_the_rest():
    history = History()
    history.events += [
        PodEvent(1.0, None, "fault", "redis down for 2 s", None, None),
        PodEvent(1.5, "pod-1", "ready", "", 7),
    ]
    history.end_event(0, 3.0)
    assert history.events[0] == PodEvent(1.0, None, "fault", "redis down for 2 s", None, 3.0)
    assert history.events[1].kind == "ready"


def test_record_event_lands_in_the_history_at_the_labs_time():
    with fl.Lab(pods=1) as lab:
        before = lab.now()
        lab.record_event("pod-1", "fault", "a test's fault", end=before + 1)
        event = lab.history.events[-1]
        assert (event.pod, event.kind, event.detail, event.end) == (
            "pod-1",
            "fault",
            "a test's fault",
            before + 1,
        )
        assert before <= event.t <= lab.now()


def test_lab_redis_goes_down_and_comes_back_with_its_data():
    with fl.Lab(pods=1, state="redis") as lab:
        client = redis.Redis.from_url(lab.redis_url, socket_timeout=2)
        client.set("k", "v")
        lab.redis.down()
        with pytest.raises(redis.exceptions.RedisError):
            client.get("k")
        lab.redis.up()
        assert client.get("k") == b"v"
        lab.redis.slow(0.05)
        began = time.monotonic()
        client.get("k")
        assert time.monotonic() - began >= 0.05
        lab.redis.slow(0)
        client.close()


def test_snapshot_shows_a_paused_pod_and_does_not_ask_it():
    with fl.Lab(pods=2) as lab:
        lab.pause("pod-2")
        began = time.monotonic()
        pods, held, state = lab.snapshot(timeout=1.0)
        assert time.monotonic() - began < 5  # a paused pod is never asked (it would take 10 s)
        assert [(p.name, p.status) for p in pods] == [("pod-1", "ready"), ("pod-2", "paused")]
        assert set(held) == {"pod-1"} and state == "memory"
        assert [p.status for p in lab.pods] == ["ready", "ready"]  # lab.pods itself is unchanged
        lab.resume("pod-2")
        pods, held, _ = lab.snapshot(timeout=1.0)
        assert [p.status for p in pods] == ["ready", "ready"] and set(held) == {"pod-1", "pod-2"}


def test_snapshot_gives_none_while_another_thread_holds_the_lab():
    with fl.Lab(pods=1) as lab:
        holding, release = threading.Event(), threading.Event()

        def hold():
            with lab._lock:  # what a long lab.run on the notebook's thread does
                holding.set()
                release.wait(10)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert holding.wait(10)
            assert lab.snapshot(timeout=0.05) is None
        finally:
            release.set()
            thread.join()
        assert lab.snapshot(timeout=1.0) is not None


def test_an_app_declares_what_the_runtime_may_ask_of_it():
    app = fl.App("counter")
    assert (app.on_start, app.on_lab_start, app.default_accounts) == ([], [], {})
    with fl.Lab(pods=1, app=app) as lab:  # a non-FinPay app: no FinPay accounts, no books
        assert lab.accounts == {}


def test_app_none_runs_the_app_the_package_registered():
    from finpay_lab.runtime import app as app_module

    with fl.Lab(pods=0) as lab:
        assert lab.app is fl.finpay.app and lab.accounts == fl.finpay.app.default_accounts
    custom = fl.App("custom")
    registered = app_module._default_app
    app_module.register_default_app(lambda: custom)
    try:
        with fl.Lab(pods=0) as lab:
            assert lab.app is custom
    finally:
        app_module.register_default_app(registered)
