"""The autoscaler's metric: how busy each pod was over the last period.

A pod's **utilization** over ``[t0, t1]`` is the share of that time it spent inside a
handler: 0.0 idle, 1.0 never idle. It stands in for Kubernetes' CPU utilization against a
one-core request, and it is honest about that: it counts *occupied* time, not CPU time. A
handler that sleeps (a slow bank, ``time.sleep``) counts as busy, because the pod serves one
request at a time and cannot take another meanwhile, just as a thread blocked on a call
would hold a real server's worker. A pod cannot be busier than always, so the metric stops
at 1.0 (so does CPU for a single-threaded process against one core).

Two ways to measure it, both pure functions:

* ``from_records(records, t0, t1)``: from the lab's request records (``Response``). Each
  reply carries ``service`` (the seconds the handler took, timed inside the pod) and
  ``received`` (when the lab read the reply). The handler ran in ``[received − service,
  received]``, up to the time the reply took to come back (≤ 1 ms of reply coalescing in the
  pod, plus however late the lab's loop read it). Two blind spots: a request still in
  progress at ``t1`` has no record yet, so its busy part is missing (for a 5 ms handler that
  is at most 0.5% of a 1 s period; for a 2 s handler the pod looks idle for two periods);
  and a request that got no reply (its pod died, or it timed out) has ``service == 0``.
  ``running={pod: start}`` adds what is known of handlers in progress.
* ``from_counters(before, after)``: from what the pods report themselves, which is exact.
  Each pod keeps one number, its cumulative busy seconds, as the kernel keeps a cgroup's
  CPU-seconds counter for the kubelet: the pod loop adds ``t1 − t0`` after each handler and
  publishes, while a handler runs, the time it started, so a reader can add the running
  part (``busy = total + (now − started)``). The lab samples every pod's counter once a
  period without sending it anything (a busy pod could not answer); the utilization is the
  difference of two samples over the time between them, as metrics-server computes a rate.
"""

import math

from ..errors import BadInput

__all__ = ["from_counters", "from_records"]


def from_records(records, t0, t1, pods=(), running=None):
    """Each pod's utilization over ``[t0, t1]`` from request records: ``{pod: share}``.

    ``records``: objects with ``pod``, ``received`` and ``service`` (``Response``); those
    of other pods or other times are simply outside the interval. ``pods``: names to report
    even if they served nothing (0.0). ``running``: ``{pod: start}`` of handlers still in
    progress at ``t1``. Overlapping intervals count once (a pod serves one at a time).
    """
    if not _real(t0) or not _real(t1) or t1 <= t0:
        raise BadInput(f"the interval must be two times t0 < t1 in seconds, not [{t0!r}, {t1!r}]")
    busy = {pod: [] for pod in pods}
    for r in records:
        if r.pod is None or not r.service > 0:
            continue
        start, end = max(r.received - r.service, t0), min(r.received, t1)
        if end > start:
            busy.setdefault(r.pod, []).append((start, end))
        else:
            busy.setdefault(r.pod, [])
    for pod, start in (running or {}).items():
        if _real(start) and max(start, t0) < t1:
            busy.setdefault(pod, []).append((max(start, t0), t1))
    return {pod: min(_union(spans) / (t1 - t0), 1.0) for pod, spans in busy.items()}


def from_counters(before, after):
    """Each pod's utilization between two samples of its busy counter: ``{pod: share}``.

    ``before``/``after``: ``{key: (time, busy_seconds)}``, sampled a period apart, where
    ``busy_seconds`` is the pod's cumulative handler time including the running handler's
    part. Key a pod by name *and* pid (or restart count), so a restarted pod, whose counter
    starts again from 0, is a new key. A key in ``after`` only has no full period of data:
    it is left out, and the caller counts that pod as missing (or not ready, if it became
    ready during the period), as Kubernetes does.
    """
    out = {}
    for key, (t1, busy1) in after.items():
        if key not in before:
            continue
        t0, busy0 = before[key]
        if not t1 > t0 or busy1 < busy0:
            raise BadInput(
                f"samples of {key!r} must move forward in time and busy seconds: {before[key]} → {after[key]}"
            )
        out[key] = min((busy1 - busy0) / (t1 - t0), 1.0)
    return out


def _union(spans):
    """Total length of a set of intervals, overlaps counted once."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _real(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
