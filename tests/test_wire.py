"""The wire, without pods: framing of requests and replies over a real pipe."""

import os
import pickle
import struct

import multiprocess
import pytest

import finpay_lab as fl
from finpay_lab.runtime import wire
from finpay_lab.runtime.history import Cause


@pytest.fixture
def ends():
    """The lab's end (non-blocking) and the pod's end (blocking) of one real pipe."""
    lab_end, pod_end = multiprocess.Pipe(duplex=True)
    yield wire.Channel(lab_end, nonblocking=True), wire.Channel(pod_end)
    lab_end.close()
    pod_end.close()


def test_a_request_carries_its_rid_outside_the_pickle():
    data = wire.encode_request(7, "balance", {"user": "Ravi"})
    assert wire.request_rid(data) == 7 and wire.decode_request(data) == (7, "balance", {"user": "Ravi"})
    unreadable = struct.pack("!q", 8) + b"not a pickle"
    assert wire.request_rid(unreadable) == 8  # a pod can still answer what it cannot read
    with pytest.raises(pickle.UnpicklingError):
        wire.decode_request(unreadable)


def test_a_reply_carries_its_cause_as_a_word():
    assert wire.decode_reply(wire.encode_reply(3, True, {"a": 1}, None, 0.5)) == (
        3,
        True,
        {"a": 1},
        None,
        0.5,
        None,
    )
    failed = wire.decode_reply(wire.encode_reply(4, False, None, "no", 0.1, Cause.REJECTED.value))
    assert failed == (4, False, None, "no", 0.1, "rejected") and type(failed[5]) is str


def test_a_reply_that_cannot_cross_the_pipe_becomes_a_bad_reply():
    rid, ok, value, error, service, cause = wire.decode_reply(
        wire.encode_reply(5, True, lambda: 1, None, 0.2)
    )
    assert (rid, ok, value, service, cause) == (5, False, None, 0.2, "bad_reply")
    assert error.startswith("the reply could not be sent back")


def test_messages_sent_together_arrive_whole_and_in_order(ends):
    lab, pod = ends
    lab.send_many([b"one", b"", b"three" * 1000])
    assert pod.receive() == [b"one", b"", b"three" * 1000]
    pod.send_many([b"a", b"b"])
    got = []
    while len(got) < 2:
        got += lab.receive()
    assert got == [b"a", b"b"]


def test_a_half_arrived_message_waits_for_its_rest(ends):
    lab, pod = ends
    frame = struct.pack("!i", 6) + b"abcdef"
    os.write(pod.fd, frame[:7])  # the header and 3 bytes of the body
    assert lab.receive() == []  # non-blocking: nothing whole yet
    os.write(pod.fd, frame[7:] + struct.pack("!i", 1) + b"z")
    assert lab.receive() == [b"abcdef", b"z"]


def test_the_labs_end_never_blocks_on_a_full_pipe(ends):
    lab, pod = ends
    big = os.urandom(4 << 20)  # far more than a pipe holds
    lab.send(big)  # returns at once: the rest waits in `pending`
    assert lab.pending > 0
    received = []
    while not received:
        lab.flush()  # the pod reads, the pipe has room again
        os.set_blocking(pod.fd, False)
        received = pod.receive()
    while lab.pending:
        lab.flush()
        received += pod.receive()
    assert received == [big] and lab.flush() is True


def test_a_closed_other_end_is_eof(ends):
    lab, pod = ends
    pod.conn.close()
    with pytest.raises(EOFError):
        while True:
            lab.receive()


def test_an_app_travels_once_by_value_and_comes_back_working():
    app = fl.App("shipped")

    @app.endpoint
    def double(state, x: int):
        return 2 * x

    back = wire.load_app(wire.ship_app(app))
    assert back is not app and back.name == "shipped"
    assert back.handle(fl.MemoryState(), "double", {"x": 21}) == (True, 42, None)
