"""What a figure reads from a ``Run``: its pods' lanes, deaths and up-times, its time
buckets, its demand, and the one-line captions that say what a figure shows.

A ``Run`` (what ``lab.run(...)`` returns) holds requests (who served each, when, ok or
not) and events (a pod ready, killed, exited, stopped; a chaos fault). The figures in
``plots`` draw those; the arithmetic they share lives here, so each figure says only
what it draws. A run records lab time in seconds; every figure shows it as seconds since
the run started (``TIME_AXIS``).

The demand (requests *due* per second) is what an open-loop load planned to send, which is
more than was sent when the lab fell behind. A run does not keep its plan, so a figure
takes it from the load shape (``demand=shape``: its seeded arrivals are the exact plan),
from timed items, or from ``run.due`` (when each timed request was due), which every run keeps.
"""

from bisect import bisect_right

from ..errors import BadInput
from ..numbers import is_number

NO_POD = "no pod"  # the lane of requests no pod could take
TIME_AXIS = "time since the run started (s)"  # every time axis: one origin, the run's start
MAX_BUCKETS = 2000  # more bars than a screen has pixels teach nothing


def check_runs(what, *runs):
    """A figure of something that is no ``Run`` is a ``BadInput`` that says what to pass."""
    for run in runs:
        if not all(hasattr(run, a) for a in ("requests", "events", "started", "ended", "duration")):
            raise BadInput(f"{what}() needs a Run (what lab.run(...) returns), not {type(run).__name__}")


def sorted_pods(pods):
    """Pod names in their natural order: pod-2 before pod-10; other names after them."""

    def key(name):
        tail = str(name).rsplit("-", 1)[-1]
        return (0, int(tail), "") if tail.isdigit() else (1, 0, str(name))

    return sorted(set(pods), key=key)


def lanes(run):
    """The timeline's lanes: every pod the run saw, then ``NO_POD`` if a request found none."""
    pods = sorted_pods(p for p in [r.pod for r in run.requests] + [e.pod for e in run.events] if p)
    return pods + [NO_POD] * any(r.pod is None for r in run.requests)


def lanes_height(run):
    """Inches for the timeline: enough for every lane, within a screen."""
    return min(max(3.5, 1.6 + 0.45 * len(lanes(run))), 10)


def deaths(run):
    """(t, pod, kind) per pod death. A kill is recorded twice (killed, then exited): once here."""
    out, last = [], {}
    for e in run.events:
        if e.kind == "killed" or (e.kind == "exited" and last.get(e.pod) != "killed"):
            out.append((e.t, e.pod, e.kind))
        if e.kind in ("killed", "exited", "ready"):
            last[e.pod] = e.kind
    return out


def up_intervals(run, pod):
    """When ``pod`` was up during the run: from the start (or its ready) to its death."""
    changes = sorted(
        [(t, False) for t, p, _ in deaths(run) if p == pod]
        + [(e.t, e.kind == "ready") for e in run.events if e.pod == pod and e.kind in ("ready", "stopped")]
    )
    since = None if changes and changes[0][1] else run.started  # started during the run?
    out = []
    for t, up in changes:
        if up and since is None:
            since = t
        elif not up and since is not None:
            out.append((since, t))
            since = None
    return out + [(since, run.ended)] * (since is not None)


def jitter(i):
    """A small, deterministic vertical spread, so dense lanes show their density."""
    return ((i * 0.6180339887) % 1 - 0.5) * 0.5


def bucket_size(bucket, *runs):
    """The bucket given, or one chosen from the runs: at most 40 buckets and 1 s, at least
    ~10 requests per bucket on average, rounded to 1, 2 or 5 × 10ⁿ s (a closed-loop run of
    a few ms gets ms buckets, a minute-long one 1 s buckets)."""
    span = max(r.duration for r in runs)
    if bucket is None:
        raw = max(max(r.duration / 40, 10 * r.duration / max(len(r.requests), 1)) for r in runs)
        steps = [m * 10.0**e for e in (-3, -2, -1) for m in (1, 2, 5)]
        return next((step for step in steps if raw <= step * (1 + 1e-9)), 1.0)
    if not (is_number(bucket) and bucket > 0):
        raise BadInput(f"bucket must be a positive number of seconds, not {bucket!r}")
    if span / bucket > MAX_BUCKETS:
        raise BadInput(f"bucket={bucket!r} s cuts a {span:.2f} s run into more than {MAX_BUCKETS} buckets")
    return float(bucket)


def edges(start, end, bucket):
    """Bucket edges from start to end; a sliver left at the end joins the last bucket."""
    n = max(1, round((end - start) / bucket))
    return [start + i * bucket for i in range(n)] + [max(end, start + 1e-9)]


def slot(edges, t):
    """The bucket time ``t`` falls in (before the first: the first; after the last: the last)."""
    return min(max(bisect_right(edges, t) - 1, 0), len(edges) - 2)


def fmt_seconds(s):
    """A bucket's size in words for a title: "100 ms bucket", "1 s bucket"."""
    return f"{s * 1e3:g} ms bucket" if s < 1 else f"{s:g} s bucket"


def demand(run, edges, given=None):
    """Requests due in each bucket (``edges``, lab time), or None if nothing says when they
    were due. ``given``: a load shape (its ``arrivals()``), or timed items ``(at, endpoint,
    params)`` or bare ``at`` seconds, counted from the run's start."""
    if given is None:
        # run.due: when each timed request was due (lab time), kept by the run itself; a
        # run of untimed requests (sent as fast as the lab can) has no demand to draw.
        times = list(getattr(run, "due", None) or ())
        if not times or any(not is_number(t) for t in times):
            return None
    else:
        if callable(getattr(given, "arrivals", None)):
            ats = list(given.arrivals())
        elif isinstance(given, list | tuple):
            ats = [item[0] if isinstance(item, list | tuple) and item else item for item in given]
        else:
            ats = [None]
        if not all(is_number(at) and at >= 0 for at in ats):
            raise BadInput(
                "demand must be the load shape the run was sent (e.g. fl.load.constant(...)), "
                "or a list of its timed items (at, endpoint, params)"
            )
        times = [run.started + at for at in ats]
    counts = [0] * (len(edges) - 1)
    for t in times:
        counts[slot(edges, t)] += 1
    return counts


def _seconds(t, run):
    return f"{t - run.started:.2f} s"


def _deaths_said(run):
    died = deaths(run)
    words = [f"{pod} died at {_seconds(t, run)}" for t, pod, _ in died[:3]]
    words += [f"{len(died) - 3} more deaths"] * (len(died) > 3)
    return "; " + ", ".join(words) if words else ""


def _counts(run):
    pods = len([p for p in lanes(run) if p != NO_POD])
    return f"{run.ok:,} ok, {run.failed:,} failed, on {pods} pod{'s' * (pods != 1)}"


def says_timeline(run):
    """The timeline's caption."""
    return (
        f"Each request of this {run.duration:.2f} s run, on the lane of the pod that answered it, when it "
        f"answered: {_counts(run)}{_deaths_said(run)}."
    )


def _demand_said(run, bucket, due):
    if due is None:
        return ""
    peak = max(due, default=0) / bucket
    return f"; demand (black) peaks at {peak:,.0f}/s, {sum(due):,} due"


def says_throughput(run, bucket, due=None):
    """The throughput figure's caption."""
    return (
        f"Requests answered per second, per {fmt_seconds(bucket)}: {run.throughput:,.0f} ok/s on average; "
        f"{_counts(run)}{_demand_said(run, bucket, due)}{_deaths_said(run)}."
    )


def says_latency(run, bucket):
    """The latency figure's caption."""
    q = run.latency_quantiles()
    due = any(getattr(r, "due", None) is not None for r in run.requests)
    since = " from when each was due (the wait in the lab's queue included)" if due else ""
    return (
        f"Latency of the {run.ok:,} successful requests{since}, per {fmt_seconds(bucket)}: over the whole "
        f"run p50 {q[0.5] * 1e3:.1f} ms, p99 {q[0.99] * 1e3:.1f} ms{_deaths_said(run)}."
    )


def says_overview(run, bucket, due=None):
    """The overview's caption."""
    q = run.latency_quantiles()
    return (
        f"One {run.duration:.2f} s run on one clock: requests by pod, throughput and latency per "
        f"{fmt_seconds(bucket)}; {_counts(run)}; p99 {q[0.99] * 1e3:.1f} ms"
        f"{_demand_said(run, bucket, due)}{_deaths_said(run)}."
    )


def says_compare(run_a, run_b, labels):
    """The comparison's caption."""

    def one(run, label):
        return f"{label} {run.throughput:,.0f} ok/s, {run.failed:,} of {len(run.requests):,} failed"

    return f"The same workload under two settings, on one scale: {one(run_a, labels[0])}; {one(run_b, labels[1])}."
