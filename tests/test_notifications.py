"""The notification service without pods: the gateway's file, and a worker on a State alone.

A worker here is the real ``Worker`` (its real thread) on a ``MemoryState`` or a
``RedisState`` of each kind (the ``state`` fixture); a pod is only its name and restarts.
"""

import json
import os
import stat
from types import SimpleNamespace

import pytest

from finpay_lab.services.notifications import QUEUE, Gateway, Worker

from .helpers import wait_until as _wait_until


def _sms(n, to="Ravi"):
    return {"id": f"p{n}:sent", "to": to, "text": f"Payment Sent: ₹{n}"}


@pytest.fixture
def workers():
    """Start workers; every one is stopped, and its thread gone, after the test."""
    started = []

    def start(state, gateway, name="pod-1", restarts=0, sms_seconds=0.0):
        worker = Worker(state, SimpleNamespace(name=name, restarts=restarts), gateway, sms_seconds)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        worker.thread.join(timeout=10)
        assert not worker.thread.is_alive()


# ---------------------------------------------------------------- the gateway
def test_the_gateway_keeps_every_attempt_and_delivers_each_message_once(tmp_path):
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    assert gateway.attempts() == [] and gateway.delivered() == []  # no file yet
    gateway.deliver(_sms(1), "pod-1")
    gateway.deliver(_sms(2), "pod-2")
    gateway.deliver(_sms(1), "pod-3")  # a duplicate: a pod died before acknowledging
    attempts = gateway.attempts()
    assert [(a["id"], a["pod"]) for a in attempts] == [
        ("p1:sent", "pod-1"),
        ("p2:sent", "pod-2"),
        ("p1:sent", "pod-3"),
    ]
    assert [(d["id"], d["pod"]) for d in gateway.delivered()] == [("p1:sent", "pod-1"), ("p2:sent", "pod-2")]
    assert stat.S_IMODE(os.stat(gateway.path).st_mode) == 0o600  # phone numbers: the owner's only


def test_a_torn_last_line_is_no_attempt(tmp_path):
    """A line with no newline yet (a file read while it is written) is not counted."""
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    gateway.deliver(_sms(1), "pod-1")
    with open(gateway.path, "a", encoding="utf-8") as f:
        f.write(json.dumps(dict(_sms(2), pod="pod-2"))[:20])
    assert [a["id"] for a in gateway.attempts()] == ["p1:sent"]


# ---------------------------------------------------------------- a worker
def test_a_worker_sends_the_queue_in_order_and_acknowledges_it(state, workers, tmp_path):
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    for n in range(5):
        state.enqueue(QUEUE, _sms(n))
    workers(state, gateway.path, name="pod-2", restarts=1)
    assert _wait_until(lambda: len(gateway.attempts()) == 5)
    assert [a["id"] for a in gateway.attempts()] == [f"p{n}:sent" for n in range(5)]
    assert {a["pod"] for a in gateway.attempts()} == {"pod-2"}
    assert _wait_until(lambda: state.backlog(QUEUE) == 0)  # acknowledged after the gateway has it


def test_a_woken_worker_sends_what_is_queued_later(state, workers, tmp_path):
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    worker = workers(state, gateway.path)
    state.enqueue(QUEUE, _sms(7))
    worker.wake.set()  # what pay and notify do after they queue an SMS
    assert _wait_until(lambda: [a["id"] for a in gateway.attempts()] == ["p7:sent"])


def test_in_redis_a_survivor_sends_what_a_dead_worker_took(state, workers, tmp_path):
    """At least once: pod-1's worker took an SMS and died before the gateway had it. It
    stays pending in the consumer group; pod-2's worker reclaims it once it is older than
    ``min_idle`` and sends it."""
    if state.kind != "redis":
        pytest.skip("in memory, a dead pod's queue dies with it")
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    state.enqueue(QUEUE, _sms(1))
    assert state.take(QUEUE, "pod-1#0") is None  # the first take creates the group
    item_id, sms = state.take(QUEUE, "pod-1#0")  # taken; then pod-1 died: never acknowledged
    assert sms == _sms(1) and state.backlog(QUEUE) == 1 and gateway.attempts() == []
    survivor = workers(state, gateway.path, name="pod-2")
    assert survivor.min_idle == 1.0  # the floor: a pod is not dead for being slow once
    assert _wait_until(lambda: [a["pod"] for a in gateway.attempts()] == ["pod-2"])
    assert _wait_until(lambda: state.backlog(QUEUE) == 0)


def test_a_stopped_worker_leaves_the_queue_alone(state, workers, tmp_path):
    gateway = Gateway(str(tmp_path / "sms.jsonl"))
    worker = workers(state, gateway.path)
    worker.stop()
    worker.thread.join(timeout=10)
    assert not worker.thread.is_alive()
    state.enqueue(QUEUE, _sms(1))  # nobody takes it now: it waits for the next worker
    assert gateway.attempts() == [] and state.backlog(QUEUE) == 1
