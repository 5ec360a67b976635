"""The audit waits for an SMS that a live worker may be sending, and only for that.

An SMS neither queued nor delivered is either mid-delivery (a worker took it and the
gateway has not answered yet) or lost with the pod that held it. The audit gives the first
one more look of 2 × ``sms_seconds``; in memory mode an SMS can only be in the hands of the
pod that queued it, so when that pod is gone the audit answers at once. (Lesson 08's audit
after a rollout waited 10 s for SMS that had died with the old pods.)

Each test pins which case it is by design: ``sms_seconds=5`` keeps a taken SMS in the
worker's hands for 5 s, far longer than the few requests around it, and the audit's own
sleeps are recorded (the real ``time.sleep`` still runs).
"""

import time

import pytest

import finpay_lab as fl
from finpay_lab.services import audit as audit_module


@pytest.fixture
def sleeps(monkeypatch):
    seen = []
    real = time.sleep

    class Recorder:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds):
            seen.append(seconds)
            real(seconds)

    monkeypatch.setattr(audit_module, "time", Recorder())
    return seen


def test_an_sms_lost_with_its_pod_is_counted_lost_without_waiting(sleeps):
    with fl.Lab(pods=2, state="memory", sms_seconds=5.0, balancer="round_robin") as lab:
        sent = lab.call("notify", user="Ravi", message="Your statement is ready", pod="pod-1")
        assert sent.ok
        lab.kill("pod-1")  # its worker had taken the SMS: it is gone with the process
        a = lab.audit(wait=0)
    assert a.notifications.enqueued == 1 and len(a.notifications.lost) == 1
    assert not [s for s in sleeps if s >= 5.0], f"the audit waited for an SMS no live pod held: {sleeps}"


def test_an_sms_mid_delivery_on_a_live_pod_gets_one_more_look(sleeps):
    with fl.Lab(pods=2, state="memory", sms_seconds=0.5, balancer="round_robin") as lab:
        sent = lab.call("notify", user="Ravi", message="Your statement is ready", pod="pod-1")
        assert sent.ok
        lab.kill("pod-2")  # the other pod: pod-1, which holds the SMS, is alive
        a = lab.audit(wait=0)
    assert [s for s in sleeps if s >= 1.0] == [2 * 0.5 + 0.05]
    assert a.notifications.lost == [] and a.notifications.delivered == 1


def test_with_redis_an_sms_in_a_workers_hands_is_still_held_by_redis(sleeps):
    with fl.Lab(pods=2, state="redis", sms_seconds=5.0, balancer="round_robin") as lab:
        assert lab.call("notify", user="Ravi", message="Your statement is ready", pod="pod-1").ok
        lab.kill("pod-1")  # whichever worker took it, the stream keeps it pending until an ack
        a = lab.audit(wait=0)
    assert a.notifications.lost == [] and a.notifications.pending == 1
    assert not [s for s in sleeps if s >= 5.0]
