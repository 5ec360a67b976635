"""The guardian: the process that cleans up after a lab whose own process was killed.

Pods exit by themselves when the lab's process dies: each watches a **lifeline** pipe whose
write end only the lab holds, and EOF means the lab is gone. A pod that chaos paused
(SIGSTOP) runs nothing, not even that watchdog; so every lab also starts a guardian, a
process of its own that chaos never pauses. The lab keeps a **pidfile** in its work dir
listing its live pods; at EOF on the lifeline the guardian thaws and kills every pod
listed, and removes the lab's work dir.
"""

import contextlib
import os
import shutil
import signal

import multiprocess.util

from .pods import _start


def start_guardian(ctx, lifeline, workdir, close_fds=(), started=None):
    """Start the lab's guardian: the process that cleans up if the lab itself is killed."""
    # multiprocess's own temp dir (the fork server's socket): removed at a normal exit,
    # left behind by a killed lab's process unless the guardian removes it.
    mp_tempdir = multiprocess.util.get_temp_dir() if ctx.get_start_method() == "forkserver" else None
    process = ctx.Process(
        target=guardian_main,
        args=(lifeline, workdir, list(close_fds), mp_tempdir),
        name="finpay_lab guardian",
        daemon=True,
    )
    _start(process, started)
    return process


def write_pidfile(workdir, pids):
    """Record the pods alive now, for the guardian (written whole, then renamed: atomic)."""
    path = os.path.join(workdir, PIDFILE)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(str(pid) for pid in pids if pid))
    os.replace(path + ".tmp", path)


PIDFILE = "pods.pids"

# The lab's last word on the lifeline. Silence then EOF means the lab's process is ending.
BYE = b"bye"  # close(): the lab stopped everything itself
GONE = b"gone"  # the lab was garbage-collected: its process lives on, its pods must go
_STILL_THERE = b""  # (nothing said yet, no EOF: the lab's process is alive)


def guardian_main(lifeline, workdir, close_fds=(), mp_tempdir=None):
    """The lab's last line of defence, in a process of its own that chaos never pauses.

    Pods exit on their own when the lab's process dies (they watch the lifeline), except a
    pod that is paused (SIGSTOP): a stopped process runs nothing, not even its watchdog.
    The guardian blocks on the lifeline. At EOF without a word the lab's process is
    ending: it thaws and kills every pod the lab last listed, removes the lab's work dir
    and multiprocess's temp dir. ``GONE`` (the lab was garbage-collected): the pods and the
    work dir only; the process, and its temp dir, live on. ``BYE``: nothing left to do.

    It runs in a session of its own, so a signal to the lab's whole process group (a
    Jupyter kernel's shutdown SIGTERMs it; ``shutdown_kernel(now=True)`` SIGKILLs it)
    cannot take it down before it has cleaned up. SIGTERM or SIGHUP sent to the guardian
    itself make it clean up at once, then exit.
    """
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setsid()

    def finish(word):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
        if word != BYE:
            _kill_listed(workdir)
            shutil.rmtree(workdir, ignore_errors=True)
        if word is None and mp_tempdir:
            shutil.rmtree(mp_tempdir, ignore_errors=True)
        os._exit(0)

    def on_signal(signum, frame):  # idempotent, so a second signal mid-way does no harm
        finish(_hear(lifeline, timeout=0))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    finish(_hear(lifeline))


def _hear(lifeline, timeout=None):
    """The lab's last word: BYE, GONE, None at EOF, or _STILL_THERE after ``timeout``."""
    try:
        if timeout is not None and not lifeline.poll(timeout):
            return _STILL_THERE
        return lifeline.recv_bytes()
    except (EOFError, OSError):
        return None


def _kill_listed(workdir):
    """Thaw and kill every pod in the lab's pidfile (ESRCH: already gone)."""
    try:
        with open(os.path.join(workdir, PIDFILE)) as f:
            pids = [int(line) for line in f.read().split()]
    except (OSError, ValueError):
        pids = []
    for pid in pids:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
