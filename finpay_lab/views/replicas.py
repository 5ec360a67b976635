"""The autoscaler's figure: demand, ready replicas and latency on one time axis.

    fig = replicas(demand, ready, latency, decisions, per_pod=160, target=0.8)

Teaches: the HPA acts a period at a time, and only on what it measured, so the replicas
climb in steps behind the demand (``max(+4, +100%)`` per period at most, and a pod counts
only once it is ready); while the demand is above what the ready pods can serve, requests
queue and the tail latency climbs; it comes down once the replicas catch up. Scale-downs
come late on purpose (the stabilization window).

Plain data in, so the figure is drawn the same from a lab's run, a benchmark or a made-up
example (``fl.plots.replicas(run)`` will pass a run's numbers here):

* ``demand``: ``[(t, requests due per second)]``, one per second (or per bucket);
* ``ready``: ``[(t, ready pods)]``, each time the count changed (a step line);
* ``latency``: ``{"p50": [(t, ms)], "p95": [...], "p99": [...]}`` (any of them), or None;
* ``decisions``: the HPA's ``Decision``s: the replica count it asked for (dashed) and a
  marker where it scaled (▲ up, ▼ down);
* ``per_pod``: requests/s one pod serves at the target utilization; when given, the two
  y axes line up, so the demand shows how many pods it needs and the gap to the ready
  line is the shortfall.

Same visual language as ``plots``: pod-1's blue for pods, the p50/p95/p99 blues, red for
what goes wrong (here: demand the ready pods cannot serve).
"""

from dataclasses import replace

from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..errors import BadInput
from ..numbers import is_number as _number
from ..numbers import quantile
from .plots import LabFigure, pod_colour
from .style import FAILED, caption, latency_axis, quantile_lines
from .style import legend_key as _key
from .style import say as _say
from .style import styled as _styled

__all__ = ["replicas"]

DEMAND = "#c6dbef"  # the demand area: light, behind everything
PODS = pod_colour("pod-1")
ASKED = "#6a51a3"  # what the HPA asked for


@_styled
def replicas(
    demand, ready, latency=None, decisions=(), per_pod=None, target=None, title=None, xlabel="lab time (s)"
):
    """Demand (requests due per second), ready replicas and the HPA's decisions above;
    p50/p95/p99 latency below; one time axis (``xlabel`` names it). See the module doc."""
    demand, ready = _series("demand", demand), _series("ready", ready)
    latency = _latency(latency)
    if per_pod is not None and not (_number(per_pod) and per_pod > 0):
        raise BadInput(
            f"per_pod is the requests/s one pod serves at the target, a number > 0; not {per_pod!r}"
        )
    decisions = list(decisions)
    if not all(hasattr(d, "time") and hasattr(d, "new_replicas") for d in decisions):
        raise BadInput("decisions must be the HPA's Decisions (hpa.decisions)")
    times = [t for t, _ in demand + ready] + [d.time for d in decisions]
    times += [t for points in latency.values() for t, _ in points]
    start, end = (min(times), max(times)) if times else (0.0, 1.0)

    fig = LabFigure(figsize=(10, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    pods_ax = top.twinx()
    pods_ax.grid(False)
    top.set_zorder(pods_ax.get_zorder() - 1)  # demand behind, pods in front
    top.patch.set_visible(False)
    pods_ax.patch.set_visible(False)
    pods_ax.spines["right"].set_visible(True)

    handles = []
    if demand:  # the part the ready pods serve at the target, and (red) the part beyond
        widths = [b[0] - a[0] for a, b in zip(demand, demand[1:])] or [1.0]
        widths.append(widths[-1])
        ts, rates = [t for t, _ in demand], [r for _, r in demand]
        served = [min(r, _ready_at(ready, t) * per_pod) for t, r in demand] if per_pod else rates
        top.bar(ts, served, widths, align="edge", color=DEMAND, lw=0, gid="demand")
        handles.append(_key("demand (requests due/s)", colour=DEMAND))
        beyond = [r - s for r, s in zip(rates, served, strict=True)]
        if any(b > 0 for b in beyond):
            top.bar(
                ts, beyond, widths, bottom=served, align="edge", color=FAILED, alpha=0.3, lw=0, gid="beyond"
            )
            handles.append(_key("demand beyond the ready pods\nat the target", colour=FAILED, alpha=0.3))
    top.set_ylabel("demand (requests/s)")
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))

    if ready:
        xs, ys = [t for t, _ in ready] + [end], [n for _, n in ready] + [ready[-1][1]]
        pods_ax.step(xs, ys, where="post", color=PODS, lw=2.2, gid="ready")
        handles.append(_key("ready pods", "_", PODS, ms=14, mew=2.2))
    if decisions:
        xs = [d.time for d in decisions] + [end]
        ys = [d.new_replicas for d in decisions] + [decisions[-1].new_replicas]
        pods_ax.step(xs, ys, where="post", color=ASKED, lw=1.3, ls="--", gid="asked")
        handles.append(Line2D([], [], color=ASKED, lw=1.3, ls="--", label="replicas the HPA asked for"))
        for kind, marker in (("up", "^"), ("down", "v")):
            moved = [d for d in decisions if (d.new_replicas > d.replicas) == (kind == "up") and d.scaled]
            pods_ax.scatter(
                [d.time for d in moved],
                [d.new_replicas for d in moved],
                marker=marker,
                s=45,
                color=ASKED,
                zorder=5,
                gid=f"scaled-{kind}",
            )
            handles += [_key(f"HPA scaled {kind}", marker, ASKED, ms=7)] * bool(moved)
    pods_ax.set_ylabel("pods")
    pods_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    most = max([n for _, n in ready] + [d.new_replicas for d in decisions] + [1])
    if per_pod:  # line the axes up: n pods on the right = n × per_pod requests/s on the left
        top_pods = max(most, max((r for _, r in demand), default=0) / per_pod) * 1.1
        pods_ax.set_ylim(0, top_pods)
        top.set_ylim(0, top_pods * per_pod)
    else:
        pods_ax.set_ylim(0, most * 1.15)
        top.set_ylim(bottom=0)
    if not (demand or ready or decisions):
        _say(top, "no demand, pods or decisions to show")
    scaled = [d for d in decisions if d.scaled]
    head = title or "Autoscaling: " + (
        f"{decisions[0].replicas} → {max(d.new_replicas for d in decisions)} pods"
        f" in {len(scaled)} scaling decision{'s' * (len(scaled) != 1)}"
        if decisions
        else "no decisions"
    )
    if target:
        head += f" (target {target:.0%})"
    top.set_title(head)
    top.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.07, 1))

    _draw_latency(bottom, latency)
    pad = (end - start) * 0.01 or 0.5
    bottom.set(xlim=(start - pad, end + pad), xlabel=xlabel)
    return caption(fig, _says(demand, ready, decisions, latency))


def _says(demand, ready, decisions, latency):
    """The figure's caption (alt text): what it shows, with its numbers."""
    words = []
    if demand:
        words.append(f"demand per second (bars, peak {max(r for _, r in demand):,.0f}/s)")
    if ready:
        counts = [n for _, n in ready]
        words.append(f"the ready pods ({counts[0]:g} at first, {max(counts):g} at most)")
    if decisions:
        scaled = sum(d.scaled for d in decisions)
        words.append(
            f"the replicas the HPA asked for (dashed; {scaled} of its {len(decisions)} decisions scaled)"
        )
    worst = max((v for points in latency.values() for _, v in points), default=None)
    below = (
        f"; below, p50/p95/p99 latency from when each request was due (worst {worst:,.0f} ms)"
        if worst
        else ""
    )
    return ("Over time: " + ", ".join(words) if words else "Nothing to show") + below + "."


def _draw_latency(ax, latency):
    shown = quantile_lines(ax, {name: points for name, points in latency.items() if points})
    ylabel = latency_axis(ax, shown)
    if not shown:
        _say(ax, "no latency to show")
    ax.set(ylabel=ylabel, title="Latency of successful requests, from when each was due")
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.07, 1))


def _ready_at(ready, t):
    n = 0
    for when, count in ready:
        if when > t:
            break
        n = count
    return n


def _series(name, points):
    try:
        out = sorted((float(t), float(v)) for t, v in points)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a list of (time s, value) pairs, like [(0.0, 3), (1.0, 7)]") from None
    if not all(_number(t) and _number(v) and v >= 0 for t, v in out):
        raise BadInput(f"{name} must be a list of (time s, value ≥ 0) pairs, not {points!r:.80}")
    return out


def _latency(latency):
    if latency is None:
        return {}
    if not isinstance(latency, dict) or not set(latency) <= {"p50", "p95", "p99"}:
        raise BadInput(
            'latency must be {"p50": [(t, ms)], "p95": [...], "p99": [...]} (any of them), or None'
        )
    return {key: _series(f"latency[{key!r}]", points) for key, points in latency.items()}


# ---------------------------------------------------------------------- from a lab's run
# A pod joins the ready count with its "ready" event and leaves it when it stops serving.
_JOINS = ("ready",)
_LEAVES = ("stopping", "stopped", "exited", "killed", "started", "restarted")


def from_run(run, bucket=None):
    """``fl.plots.replicas(run)``: the figure above, drawn from a ``lab.run``'s records.

    Demand: the run's requests per ``bucket`` seconds (default: the HPA's period, or 1 s),
    counted when each was due (``run.due``; a request the lab sent late still counts when
    it was due), divided by the bucket. Ready pods: replayed from the lab's pod events
    (``ready`` joins; stopping, a death or a restart leaves). Latency: p50/p95/p99 of the
    successful requests due in each bucket, each from when it was due to its reply
    (``response_time``: the wait in the lab's queue counts; untimed requests: from send).
    Decisions: the lab's HPA's, during the run. ``per_pod``: what one pod serves at the
    target, ``target / mean service time``. The time axis counts seconds since the run
    started, as every figure's does."""
    from .run_data import TIME_AXIS, check_runs

    check_runs("replicas", run)
    hpa = getattr(getattr(run, "lab", None), "autoscaler", None)
    if bucket is None:
        bucket = hpa.period if hpa is not None else 1.0
    if not (_number(bucket) and bucket > 0):
        raise BadInput(f"bucket is seconds per bar, a number > 0 (e.g. 1.0), not {bucket!r}")
    start, end = run.started, run.ended
    n = max(1, min(2000, int((end - start) / bucket + 0.999)))
    counts, lat = [0] * n, [[] for _ in range(n)]
    due = getattr(run, "due", None) or [r.sent for r in run.requests]  # untimed: when sent
    for t in due:
        counts[min(n - 1, max(0, int((t - start) / bucket)))] += 1
    for r in run.requests:
        if r.ok:
            when = r.sent if r.due is None else r.due
            lat[min(n - 1, max(0, int((when - start) / bucket)))].append(r.response_time * 1e3)
    demand = [(i * bucket, c / bucket) for i, c in enumerate(counts)]
    latency = {"p50": [], "p95": [], "p99": []}
    for i, values in enumerate(lat):
        if values:
            values.sort()
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                latency[key].append(((i + 0.5) * bucket, quantile(values, q)))  # as every report's
    ready = [
        (t - start, n)
        for t, n in _ready_series(getattr(getattr(run, "lab", None), "history", run), start, end)
    ]
    decisions = [
        replace(d, time=d.time - start)  # on the run's clock, as the rest
        for d in (hpa.decisions if hpa is not None else ())
        if start <= d.time <= end
    ]
    per_pod = None
    services = [r.service for r in run.requests if r.ok and r.service > 0]
    if hpa is not None and services:
        per_pod = hpa.target * len(services) / sum(services)
    return replicas(
        demand,
        ready,
        latency,
        decisions,
        per_pod=per_pod,
        target=hpa.target if hpa else None,
        xlabel=TIME_AXIS,
    )


def _ready_series(history, start, end):
    """``[(t, ready pods)]`` from ``start`` to ``end``, replaying every pod event up to then."""
    ready, series = set(), []
    for e in sorted(history.events, key=lambda e: e.t):
        if e.t > end:
            break
        if e.pod is None:
            continue
        before = len(ready)
        if e.kind in _JOINS:
            ready.add(e.pod)
        elif e.kind in _LEAVES:
            ready.discard(e.pod)
        if e.t >= start and len(ready) != before:
            series.append((e.t, len(ready)))
        elif e.t < start:
            series = [(start, len(ready))]
    return series or [(start, len(ready))]
