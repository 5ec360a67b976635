"""The lab's event loop, without pods: its bookkeeping over a real pipe.

A ``Pod`` here is the real dataclass over a real pipe (multiprocess's duplex Pipe); its
"process" is a stand-in whose exit sentinel is the read end of an ``os.pipe`` (closing the
write end is the process ending). The test plays the pod on the other end of the pipe.
"""

import os

import multiprocess
import pytest

from finpay_lab.runtime import wire
from finpay_lab.runtime.history import History
from finpay_lab.runtime.loop import Loop
from finpay_lab.runtime.pods import Pod


class StandInProcess:
    """What the loop asks of a pod's process: a sentinel, an exit code, join."""

    def __init__(self):
        self.sentinel, self._alive = os.pipe()
        self.exitcode = None
        self.pid = os.getpid()  # "not gone": the loop keeps it in `started` (it is not there)

    def join(self, timeout=None):
        pass

    def die(self, exitcode=-9):
        self.exitcode = exitcode
        os.close(self._alive)  # the sentinel becomes readable, as at a real exit

    def close(self):
        for fd in (self.sentinel, self._alive):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def loop(tmp_path):
    loop = Loop(History(), ctx=None, app_blob=b"", lifeline=None, workdir=str(tmp_path))
    yield loop
    for pod in loop.pods.values():
        pod.process.close()
        pod.conn.close()


def add_pod(loop, name="pod-1"):
    """A ready pod in the loop, and the test's end of its pipe (a blocking Channel)."""
    lab_end, pod_end = multiprocess.Pipe(duplex=True)
    pod = loop.add(Pod(name=name, process=StandInProcess(), conn=lab_end))
    other = wire.Channel(pod_end)
    other.send(wire.encode_reply(wire.READY, True, 4242, None, 0.0))
    assert loop.wait_for(lambda: pod.status == "ready", 5.0)
    return pod, other


def answer(other, value=None):
    """Play the pod: read every request waiting, answer each (with ``value``, or its
    params); returns the requests as ``(rid, endpoint, params)``."""
    requests = [wire.decode_request(data) for data in other.receive()]
    for rid, _, params in requests:
        other.send(wire.encode_reply(rid, True, params if value is None else value, None, 0.001))
    return requests


def die(pod, other, exitcode=-9):
    """The pod's process ends: its exit sentinel fires and its end of the pipe closes."""
    pod.process.die(exitcode)
    other.conn.close()


def assert_nothing_kept(loop):
    assert loop._awaited == {} and loop._answers == {}


def test_send_gives_a_request_id_and_wait_its_response(loop):
    pod, other = add_pod(loop)
    rid = loop.send(pod, "balance", {"user": "Ravi"}, awaited=True)
    assert pod.in_flight[rid][:2] == ("balance", {"user": "Ravi"}) and pod.status == "busy"
    assert answer(other, value=6000) == [(rid, "balance", {"user": "Ravi"})]
    response = loop.wait(rid, 5.0)
    assert (response.ok, response.value, response.pod, response.id) == (True, 6000, "pod-1", rid)
    assert loop.history.requests[-1] is response
    assert pod.in_flight == {} and pod.status == "ready" and pod.served == 1
    assert_nothing_kept(loop)


def test_request_ids_are_never_reused(loop):
    pod, other = add_pod(loop)
    rids = [loop.send(pod, "ping", {}) for _ in range(3)]
    assert rids == sorted(set(rids))
    answered = []
    while len(answered) < 3:
        answered += answer(other)
    assert [rid for rid, _, _ in answered] == rids
    assert loop.wait_for(lambda: not pod.in_flight, 5.0)
    assert [r.id for r in loop.history.requests] == rids  # a run's requests: history only
    assert_nothing_kept(loop)


def test_a_silent_pod_times_out_and_its_late_reply_is_dropped(loop):
    pod, other = add_pod(loop)
    rid = loop.send(pod, "slow", {}, awaited=True)
    response = loop.wait(rid, 0.05)
    assert not response.ok and response.error == "pod-1 did not answer within 0.05 s"
    assert pod.in_flight == {} and pod.status == "ready"
    answer(other)  # the reply comes after all
    loop.pump(0.2)
    assert len(loop.history) == 1 and pod.served == 0
    assert_nothing_kept(loop)


def test_the_labs_own_requests_answer_a_value_and_leave_no_trace(loop):
    pod, other = add_pod(loop)
    rid = loop.send(pod, "__stats__", {}, internal=True, awaited=True)
    answer(other, value={"keys": 3})
    assert loop.wait(rid, 5.0) == {"keys": 3}
    rid = loop.send(pod, "__stats__", {}, internal=True, awaited=True)
    assert loop.wait(rid, 0.05) == {}  # silent: nothing known
    assert len(loop.history) == 0 and pod.served == 0 and pod.status == "ready"
    assert_nothing_kept(loop)


def test_params_that_cannot_cross_the_pipe_are_answered_at_once(loop):
    pod, other = add_pod(loop)
    rid = loop.send(pod, "pay", {"f": lambda: 1}, awaited=True)
    response = loop.wait(rid, 5.0)
    assert not response.ok and response.error.startswith("the request could not be sent")
    assert pod.in_flight == {} and pod.status == "ready"
    assert not other.conn.poll(0.05)  # nothing was written
    assert_nothing_kept(loop)


def test_a_pod_that_dies_fails_its_requests_with_the_cause(loop):
    pod, other = add_pod(loop)
    awaited = loop.send(pod, "pay", {}, awaited=True)
    other_rid = loop.send(pod, "pay", {})
    die(pod, other, -9)
    response = loop.wait(awaited, 5.0)
    assert response.error == "pod-1 crashed (SIGKILL) while handling pay"
    assert pod.status == "dead" and pod.in_flight == {}
    assert {r.id for r in loop.history.requests} == {awaited, other_rid}
    assert [e.kind for e in loop.history.events][-1] == "exited"
    assert loop.restart_due == {}  # restart=False
    assert_nothing_kept(loop)


def test_with_restart_a_crash_schedules_a_restart_with_backoff(loop):
    loop.restart = True
    pod, other = add_pod(loop)
    die(pod, other, 1)
    assert loop.wait_for(lambda: not pod.alive, 5.0)
    assert list(loop.restart_due) == ["pod-1"] and loop.restart_due["pod-1"][1] == 1
    assert [e.kind for e in loop.history.events][-2:] == ["exited", "backoff"]


def test_an_interrupted_wait_gives_its_request_up(loop, monkeypatch):
    pod, other = add_pod(loop)
    rid = loop.send(pod, "pay", {}, awaited=True)

    def interrupted(timeout=0.0):
        raise KeyboardInterrupt

    monkeypatch.setattr(pod, "readable", interrupted)
    with pytest.raises(KeyboardInterrupt):
        loop.wait(rid, 5.0)
    monkeypatch.undo()
    assert pod.in_flight == {} and pod.status == "ready"
    (response,) = loop.history.requests
    assert response.error == "the caller gave up (KeyboardInterrupt) before pod-1 answered"
    answer(other)  # its reply, if it ever comes, is dropped
    loop.pump(0.2)
    assert len(loop.history) == 1
    assert_nothing_kept(loop)


def test_a_big_request_leaves_as_the_pipe_makes_room(loop):
    """The loop never blocks on a write: what the pipe cannot take waits in the channel,
    and pump writes more whenever poll says the pipe has room (POLLOUT)."""
    pod, other = add_pod(loop)
    big = "x" * (4 << 20)
    rid = loop.send(pod, "store", {"blob": big})  # returns at once
    assert pod.channel.pending > 0 and pod.channel.fd in loop._writing
    reader = wire.Channel(other.conn, nonblocking=True)  # the pod reads what has come
    received = []
    while not received:  # the pod reads; the loop pumps: the rest goes out in pieces
        loop.pump(0.01)
        received = reader.receive()
    assert wire.decode_request(received[0]) == (rid, "store", {"blob": big})
    assert pod.channel.pending == 0 and pod.channel.fd not in loop._writing


def test_a_lab_nobody_holds_is_collected_at_once():
    """The lab owns its loop, and the loop holds no reference back: no cycle, so a lab a
    re-run cell drops is freed (and its pods stopped) without waiting for the cyclic GC."""
    import gc
    import weakref

    import finpay_lab as fl

    lab = fl.Lab(pods=1)
    assert lab.call("balance", user="Ravi").ok
    ref = weakref.ref(lab)
    gc.disable()
    try:
        del lab
        assert ref() is None
    finally:
        gc.enable()
