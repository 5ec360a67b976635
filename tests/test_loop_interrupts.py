"""Ctrl-C inside ``Loop.send``: nobody can wait for the request, so nothing is kept for it.

Without pods: the stand-in pod of tests/test_loop.py over a real pipe. The interrupt is
injected at a chosen point (the encoding, the write), not hoped for.
"""

import pytest

from finpay_lab.runtime import wire
from finpay_lab.runtime.history import Cause

from .test_loop import add_pod, answer, assert_nothing_kept, loop  # noqa: F401 - loop is a fixture


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_while_encoding_an_awaited_request_keeps_nothing(loop, monkeypatch):  # noqa: F811
    pod, _ = add_pod(loop)
    monkeypatch.setattr(wire, "encode_request", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.send(pod, "balance", {"user": "Ravi"}, awaited=True)
    assert_nothing_kept(loop)  # the awaited entry registered first is gone again
    assert pod.in_flight == {} and pod.status == "ready"


def test_ctrl_c_while_writing_an_awaited_request_gives_it_up(loop, monkeypatch):  # noqa: F811
    pod, other = add_pod(loop)
    monkeypatch.setattr(pod, "send", _interrupt)  # after the request is in flight
    with pytest.raises(KeyboardInterrupt):
        loop.send(pod, "balance", {"user": "Ravi"}, awaited=True)
    assert_nothing_kept(loop)
    assert pod.in_flight == {} and pod.status == "ready"  # not left busy
    [given_up] = loop.history.requests
    assert given_up.cause is Cause.INTERRUPTED and "gave up (KeyboardInterrupt)" in given_up.error
    monkeypatch.undo()
    rid = loop.send(pod, "balance", {"user": "Meena"}, awaited=True)  # the pod still serves
    answer(other)
    assert loop.wait(rid, 5.0).value == {"user": "Meena"}
    assert_nothing_kept(loop)
