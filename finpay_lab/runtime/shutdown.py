"""The end of a lab: nothing outlives it.

``lab.close()`` calls ``close_processes``: thaw and kill every pod (a paused pod must be
able to die), tell the guardian the lab's last word on the lifeline, and reap what is
left. The lab then stops its Redis and removes its work dir.

A lab may also end without ``close()``:

* **the interpreter exits**: ``atexit`` closes every lab of this process;
* **SIGTERM or SIGHUP** (a Jupyter kernel's shutdown or restart, a closed terminal) end a
  process without running ``atexit``: the handler installed by ``track`` closes every lab
  first, then lets the process die of the signal as before;
* **garbage collection** (a re-run cell): the lab's ``weakref.finalize`` says GONE to the
  guardian (``say``), which kills the pods;
* **the lab's process is killed**: the pods see their lifeline close and exit; the
  guardian kills any pod too frozen (SIGSTOP) to notice.

A child forked from the lab's process (a ``multiprocessing`` Pool with fork) inherits
copies of its labs, which it must never close: every path here checks the owning pid.
"""

import atexit
import os
import shutil
import signal
import threading
import weakref

import multiprocess.util

from .. import defaults
from .pods import gone

_LABS = weakref.WeakKeyDictionary()  # lab -> (pid of the process it belongs to, its close(lab, word))


def track(lab, close):
    """Remember ``lab`` (made by this process) for the exits that skip ``lab.close()``:
    ``close(lab, word)`` ends it, ``word=None`` when the process is dying of a signal."""
    _LABS[lab] = (os.getpid(), close)
    _close_labs_on_exit_signals()


def forget(lab):
    _LABS.pop(lab, None)


def close_processes(loop, guardian, lifeline, lifeline_keep, farewell, word):
    """Kill every process ``loop`` started and tell the guardian ``word`` (BYE: exit; None:
    the lab's process is about to die of a signal, so the guardian also removes
    multiprocess's temp dir, which only a normal interpreter exit removes)."""
    # Every process started and not yet reaped, pods half-started by an interrupted
    # scale included: thaw (a paused pod must be able to die) and kill.
    pods = [p for p in loop.started if p is not guardian]
    for process in pods:
        thaw_and_kill(process)
    for process in pods:
        if process.pid is not None:
            process.join(defaults.GRACE_PERIOD)
    for pod in list(loop.pods.values()):
        loop.on_exit(pod)
    loop.started.difference_update(p for p in pods if p.pid is None or gone(p.pid))
    farewell.detach()
    say(lifeline_keep, word)  # the guardian exits (BYE) or cleans up (None)
    lifeline.close()
    if guardian is not None and word is not None:
        guardian.join(defaults.GRACE_PERIOD)
    if word is not None:
        for process in [p for p in loop.started if p.pid is not None and not gone(p.pid)]:
            thaw_and_kill(process)  # a guardian that did not exit in time
            process.join(defaults.GRACE_PERIOD)
    loop.started = {p for p in loop.started if p.pid is not None and not gone(p.pid)}


def thaw_and_kill(process):
    """SIGCONT then SIGKILL. By pid, whatever multiprocess says: with its fork server gone,
    it reports every pod as exited. The pid is still this pod's: the lab has not yet seen
    it go."""
    if process.pid is not None:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                break


def say(conn, word, owner=None):
    """Send the lab's last word on the lifeline (unless None), then close it. The word is
    sent before the close, so an interrupt between them can never look like silence.
    ``owner``: only that process speaks (a forked child exiting must not say GONE)."""
    if conn.closed or (owner is not None and os.getpid() != owner):
        return
    if word:
        try:
            conn.send_bytes(word)
        except OSError:
            pass
    conn.close()


def _own_labs():
    """The labs this process made, each with its close. A child forked from it (a
    ``multiprocessing`` Pool with fork, say) inherits copies of them, which it must never
    close: that would kill its parent's pods and remove its parent's temp dirs."""
    return [(lab, close) for lab, (pid, close) in list(_LABS.items()) if pid == os.getpid()]


@atexit.register
def _close_all():
    for lab, _ in _own_labs():
        lab.close()


def _close_labs_on_exit_signals():
    """SIGTERM and SIGHUP end a process without running atexit: a Jupyter kernel's
    shutdown or restart SIGTERMs the kernel's whole process group, a closed terminal
    SIGHUPs it. Close every lab first, then die of the signal as before. Only where the
    signal is not handled already (SIG_DFL), and only the main thread may install it."""
    global _handler_pid
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_exit_signal)
            _handler_pid = os.getpid()


_handler_pid = None  # the process that installed _on_exit_signal (a fork inherits it)


_EXIT_SIGNALS = {signal.SIGTERM, signal.SIGHUP}


def _hold_exit_signals_over_fork():
    """A child forked from this process must die of SIGTERM at once, as it would without
    our handler. It inherits the handler, and CPython drops a Python-level signal that
    arrives between ``fork()`` and the child's own signal set-up (it clears the pending
    flags after a fork): a Pool worker terminated right after it started slept on, and
    tests/test_exit_paths.py failed one run in three. So exit signals are blocked across
    the fork; the child puts SIG_DFL back before unblocking them, and a SIGTERM that came
    meanwhile kills it the moment it is unblocked."""

    def ours():
        return any(signal.getsignal(sig) is _on_exit_signal for sig in _EXIT_SIGNALS)

    def before():
        if ours():
            signal.pthread_sigmask(signal.SIG_BLOCK, _EXIT_SIGNALS)

    def after_in_parent():
        if ours():
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _EXIT_SIGNALS)

    def after_in_child():
        if ours():
            for sig in _EXIT_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _EXIT_SIGNALS)

    os.register_at_fork(before=before, after_in_parent=after_in_parent, after_in_child=after_in_child)


_hold_exit_signals_over_fork()


def _on_exit_signal(signum, frame):
    if os.getpid() != _handler_pid:
        # A forked child that inherited this handler (a Pool worker being terminated):
        # nothing here is its own, so it just dies of the signal.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    for lab, close in _own_labs():
        # Not under the lab's lock: another thread may hold it, and this process is ending.
        try:
            close(lab, None)
        except BaseException:  # noqa: S110 - dying anyway; the guardian does the rest
            pass
    # multiprocess's temp dir (the fork server's socket) is removed by a normal exit only;
    # this process is about to die of the signal, and the labs that used it are closed.
    shutil.rmtree(multiprocess.util.get_temp_dir(), ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
