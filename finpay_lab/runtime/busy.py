"""How busy a pod is, told by the pod itself through shared memory.

The autoscaler's metric (``utilization.py``) is the share of a period a pod spent inside a
handler. The lab's request records cannot say it exactly: a request still running has no
record yet. So each pod keeps two numbers, as the kernel keeps a cgroup's CPU-seconds for
the kubelet:

* ``busy_total``: seconds spent in handlers so far (cumulative, only ever grows);
* ``handling_since``: when the handler running now started (0.0 when idle).

Both live in a tiny block of shared memory (a ``RawArray``) the lab creates for the pod
and hands it at start. The pod writes them around each handler (``pod_loop``); the lab
reads them whenever it likes, **without a message**: a pod busy with a 2 s request could
not answer one, and a reading must not wait for it. The pod's busy seconds at time ``now``
are ``busy_total + (now − handling_since)`` while it handles a request. Times are
``time.monotonic()``: one clock for every process on the machine.

A reader could see a half-written pair (the handler just ended: the total grew but the
start is not yet 0, and the running part would count twice). A **sequence counter** (a
seqlock) prevents it: the writer makes the counter odd, writes, makes it even again; the
reader retries until it saw the same even counter before and after reading.
"""

import ctypes
import time

__all__ = ["BusyCounter", "new_counter"]

_SEQ, _TOTAL, _SINCE = 0, 1, 2


def new_counter(ctx):
    """Shared memory for one pod's counter: three doubles (sequence, total, since), zero."""
    return ctx.RawArray(ctypes.c_double, 3)


class BusyCounter:
    """Both sides of one pod's busy counter: the pod calls ``begin``/``end`` around each
    handler; the lab calls ``read``. ``shared``: the block from ``new_counter`` (None: a
    pod without one, e.g. under serve.py, where every method does nothing)."""

    __slots__ = ("shared",)

    def __init__(self, shared):
        self.shared = shared

    def begin(self, t0):
        """The pod starts a handler at ``t0`` (``time.monotonic()``)."""
        a = self.shared
        if a is not None:
            a[_SEQ] += 1
            a[_SINCE] = t0
            a[_SEQ] += 1

    def end(self, t1):
        """The handler that began at ``handling_since`` ended at ``t1``."""
        a = self.shared
        if a is not None:
            a[_SEQ] += 1
            a[_TOTAL] += t1 - a[_SINCE]
            a[_SINCE] = 0.0
            a[_SEQ] += 1

    def read(self, now=None):
        """``(now, busy seconds)``: the total so far plus the running handler's part."""
        a = self.shared
        if a is None:
            return None
        while True:
            seq = a[_SEQ]
            total, since = a[_TOTAL], a[_SINCE]
            t = time.monotonic() if now is None else now
            if seq % 2 == 0 and a[_SEQ] == seq:
                return t, total + (max(0.0, t - since) if since else 0.0)
            time.sleep(0)  # the pod is mid-write: a few µs

    @property
    def handling(self):
        """True while the pod is inside a handler."""
        return self.shared is not None and self.shared[_SINCE] != 0.0
