"""shutdown.py without a lab: the last word on the lifeline, thaw-and-kill, who owns a lab."""

import os
import signal
import subprocess
import sys

import multiprocess
import pytest

from finpay_lab.runtime import shutdown
from finpay_lab.runtime.guardian import BYE

from .conftest import gone


def test_the_last_word_is_sent_before_the_close():
    keep, far = (lambda r, w: (w, r))(*multiprocess.Pipe(duplex=False))
    shutdown.say(keep, BYE)
    assert keep.closed and far.recv_bytes() == BYE
    with pytest.raises(EOFError):
        far.recv_bytes()
    shutdown.say(keep, BYE)  # a second word on a closed lifeline is nothing


def test_only_the_owner_speaks():
    keep, far = (lambda r, w: (w, r))(*multiprocess.Pipe(duplex=False))
    shutdown.say(keep, BYE, owner=os.getpid() + 1)  # a forked child's copy: silent, left open
    assert not keep.closed and not far.poll(0)
    shutdown.say(keep, None)  # None: close without a word (the process dies of a signal)
    with pytest.raises(EOFError):
        far.recv_bytes()


def test_a_paused_process_is_thawed_and_killed():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(proc.pid, signal.SIGSTOP)
    shutdown.thaw_and_kill(proc)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    shutdown.thaw_and_kill(proc)  # already gone and reaped (ESRCH): not an error
    assert gone(proc.pid)


class _Lab:
    """Stands for a lab: shutdown keeps a weak reference, its owner's pid and its close."""


def test_a_tracked_lab_is_forgotten_when_it_goes_and_never_closed_by_another_process():
    lab = _Lab()
    shutdown.track(lab, lambda lab, word: None)
    assert [found for found, _ in shutdown._own_labs()].count(lab) == 1
    shutdown._LABS[lab] = (os.getpid() + 1, shutdown._LABS[lab][1])  # as a forked child sees it
    assert lab not in [found for found, _ in shutdown._own_labs()]
    shutdown.forget(lab)
    assert lab not in shutdown._LABS
    shutdown.track(lab, lambda lab, word: None)
    del lab  # garbage: the registry holds it weakly
    assert not any(type(found) is _Lab for found in shutdown._LABS)
