"""Drawing on one axes: the panels the figures of ``plots`` are made of.

* ``timeline(ax, run)``: one lane per pod, one dot per request where and when it was served;
  deaths, restarts, scale-downs marked on the lanes.
* ``throughput(ax, run, bucket)``: requests per second per time bucket, ok stacked by pod and
  failed in red, with the demand (requests due per second) as a black step line.
* ``latency(ax, run, bucket)``: p50 / p95 / p99 per bucket, counted from when each request
  was **due** (``Response.response_time``): a request of an open-loop load that waited in the
  lab's queue, because every pod already held as many requests as it may, counts that wait,
  as its customer did. Counting from send would hide exactly the wait that grows with
  overload (coordinated omission). A request with no due time counts from send.
* ``finish(ax, run, handles)``: what every panel over time shares: faults shaded gold, pod
  deaths dashed, the time axis in seconds since the run started, the legend.

A figure in ``plots`` lays out its axes and calls these; ``look(pod)`` is the colour, marker
and hatching every panel gives ``pod-N``.
"""

import matplotlib
from matplotlib.lines import Line2D

from ..numbers import quantile
from . import run_data
from .run_data import NO_POD
from .style import (
    DEATH,
    FAILED,
    FAULT,
    PALETTE,
    QUANTILES,
    latency_axis,
    legend_key,
    pod_look,
    quantile_lines,
    say,
    stack_labels,
)

__all__ = ["DEMAND", "finish", "latency", "look", "throughput", "timeline"]
DEMAND = "#000000"  # the requests due per second: a black step line over the bars


def look(pod):
    """``(colour, marker, hatch)`` of ``pod-N`` in every panel; grey dots for no pod."""
    if not pod or pod == NO_POD:
        return "#7f7f7f", "o", ""
    tail = str(pod).rsplit("-", 1)[-1]
    return pod_look(int(tail) if tail.isdigit() else 1 + sum(map(ord, str(pod))) % (4 * len(PALETTE)))


def _colour(pod):
    return matplotlib.colors.to_hex(look(pod)[0])


def timeline(ax, run):
    """Every request as a dot on its pod's lane; failures, deaths, ready and stopped pods marked."""
    lanes, t0 = run_data.lanes(run), run.started
    y = {pod: i for i, pod in enumerate(lanes)}
    for pod in lanes:
        for a, b in run_data.up_intervals(run, pod) if pod != NO_POD else ():
            ax.hlines(y[pod], a - t0, b - t0, color=_colour(pod), lw=9, alpha=0.15, zorder=1)
        done = [r for r in run.requests if r.ok and r.pod == pod]
        size = 7 if look(pod)[1] == "o" else 12
        ax.scatter(
            [r.received - t0 for r in done],
            [y[pod] + run_data.jitter(i) for i in range(len(done))],
            s=size,
            marker=look(pod)[1],
            color=_colour(pod),
            lw=0,
            alpha=0.8,
            zorder=2,
            gid=f"ok:{pod}",
        )
    bad = [r for r in run.requests if not r.ok]
    ax.scatter(
        [r.received - t0 for r in bad],
        [y[r.pod or NO_POD] + run_data.jitter(i) for i, r in enumerate(bad)],
        marker="x",
        s=40,
        color=FAILED,
        lw=1.6,
        zorder=4,
        gid="failed",
    )
    deaths = [(t - t0, pod) for t, pod, _ in run_data.deaths(run) if pod in y]
    ready = [e for e in run.events if e.kind == "ready" and e.pod in y]
    stops = [e for e in run.events if e.kind == "stopped" and e.pod in y]
    bar = dict(ls="none", marker="|", ms=20, mew=3, zorder=5)
    ax.plot([t for t, _ in deaths], [y[p] for _, p in deaths], color=DEATH, gid="deaths", **bar)
    ax.plot([e.t - t0 for e in stops], [y[e.pod] for e in stops], color="#999999", gid="stopped", **bar)
    ax.scatter(
        [e.t - t0 for e in ready],
        [y[e.pod] for e in ready],
        marker=">",
        s=70,
        zorder=5,
        gid="ready",
        color=[_colour(e.pod) for e in ready] or None,
        edgecolors=DEATH,
        lw=1,
    )
    faults = any(e.kind == "fault" for e in run.events)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set(
        ylim=(max(len(lanes), 1) - 0.5, -0.5 - 0.45 * faults),  # pod-1 on top; room for faults
        ylabel="pod",
        title=f"Requests by pod: {run.ok:,} ok, {run.failed:,} failed",
    )
    ax.grid(axis="y", visible=False)
    if not lanes:
        say(ax, "no requests in this run")
    served = "request served\n(pod's colour" + (" and marker)" if len(lanes) > len(PALETTE) else ")")
    handles = [legend_key(served, "o", ms=5)] * any(r.ok for r in run.requests)
    handles += [legend_key("failed request", "x", FAILED, ms=7, mew=1.6)] * bool(bad)
    handles += [legend_key("pod died", "|", DEATH, ms=12, mew=3)] * bool(deaths)
    handles += [legend_key("pod ready", ">", mec=DEATH, ms=8)] * bool(ready)
    handles += [legend_key("pod stopped\n(scaled down or\nreplaced)", "|", "#999999", ms=12, mew=3)] * bool(
        stops
    )
    finish(ax, run, handles, timeline=True)


def throughput(ax, run, bucket, legend=True, demand=None):
    """Draw the bars and the demand line; returns the requests due per bucket (or None)."""
    t0, edges = run.started, run_data.edges(run.started, run.ended, bucket)
    widths = [b - a for a, b in zip(edges, edges[1:])]
    counts = {}  # pod (ok) or None (failed) -> requests per bucket
    for r in run.requests:
        counts.setdefault(r.pod if r.ok else None, [0] * len(widths))[run_data.slot(edges, r.received)] += 1
    keys = run_data.sorted_pods(k for k in counts if k is not None) + [None] * (None in counts)
    bottom = [0.0] * len(widths)
    for key in keys:
        rates = [c / w for c, w in zip(counts[key], widths, strict=True)]
        ax.bar(
            [e - t0 for e in edges[:-1]],
            rates,
            widths,
            bottom=bottom,
            align="edge",
            lw=0,
            color=_colour(key) if key else FAILED,
            hatch=look(key)[2] if key else None,
            edgecolor="white",
            label=f"ok on {key}" if key else "failed",
        )
        bottom = [a + b for a, b in zip(bottom, rates, strict=True)]
    due = run_data.demand(run, edges, demand)
    if due is not None:
        ax.stairs(
            [n / w for n, w in zip(due, widths, strict=True)],
            [e - t0 for e in edges],
            color=DEMAND,
            lw=2,
            baseline=None,
            zorder=4,
            gid="demand",
            label="demand (requests due/s)",
        )
    # Room for the tallest bar and the demand line, also when compare shares this axis with
    # another run's panel (set_ylim stops the shared autoscale: its bars would be clipped).
    highest = max(
        [0.0, *bottom] + ([n / w for n, w in zip(due, widths, strict=True)] if due is not None else [])
    )
    ax.set_ylim(top=max(ax.get_ylim()[1], 1.08 * highest))
    ax.set(
        ylabel="requests/s",
        title=f"Throughput per {run_data.fmt_seconds(bucket)}: ok (by pod) and failed"
        + (", against demand" if due is not None else ""),
    )
    handles = ax.get_legend_handles_labels()[0]
    if len(keys) > 12:  # too many pods to list: one entry for all of them
        handles = [legend_key("ok (pod's colour\nand hatching)")] + [
            h for h in handles if h.get_label() in ("failed", "demand (requests due/s)")
        ]
    finish(ax, run, handles, legend=legend)
    return due


def latency(ax, run, bucket):
    """p50 / p95 / p99 of the successful requests answered in each bucket, in ms, each
    counted from when it was due (``response_time``; from send if it had no due time)."""
    edges = run_data.edges(run.started, run.ended, bucket)
    per_bucket = [[] for _ in edges[1:]]
    for r in run.requests:
        if r.ok:
            per_bucket[run_data.slot(edges, r.received)].append(r.response_time * 1e3)
    centres = [(a + b) / 2 - run.started for a, b in zip(edges, edges[1:])]
    shown = quantile_lines(
        ax,
        {
            f"p{q * 100:g}": [
                (x, quantile(sorted(lat), q))  # as Run.latency_quantiles
                for x, lat in zip(centres, per_bucket, strict=True)
                if lat
            ]
            for q, _, _ in QUANTILES
        },
    )
    ylabel = latency_axis(ax, shown)
    if not shown:
        say(ax, "no successful requests")
    ax.set(
        ylabel=ylabel,
        title=f"Latency of successful requests from when each was due, per {run_data.fmt_seconds(bucket)}",
    )
    finish(ax, run, ax.get_legend_handles_labels()[0] if shown else [])


def finish(ax, run, handles, legend=True, timeline=False):
    """What every plot over time shares: fault shading, deaths, the time axis (seconds since
    the run started), the legend."""
    t0 = run.started
    deaths = [] if timeline else run_data.deaths(run)  # the timeline marks deaths on their lanes
    for t, pod, _ in deaths:
        ax.axvline(t - t0, color=DEATH, lw=1.2, ls="--", zorder=3, gid=f"death:{pod}")
    handles += [Line2D([], [], color=DEATH, lw=1.2, ls="--", label="pod died")] * bool(deaths)
    faults = [e for e in run.events if e.kind == "fault"]
    names = []
    for e in faults:  # a window [t, end] is shaded; an instant fault (a kill) is a line
        if e.end is None:
            ax.axvline(e.t - t0, color=FAULT, lw=3, alpha=0.8, zorder=0, gid="fault")
        else:
            ax.axvspan(e.t - t0, e.end - t0, color=FAULT, alpha=0.28, lw=0, zorder=0, gid="fault")
        if timeline and len(faults) <= 6:  # name them, if there is room
            names.append(
                ax.text(
                    e.t - t0,
                    0.99,
                    f" {e.detail}",
                    transform=ax.get_xaxis_transform(),
                    fontsize=8,
                    va="top",
                    color="#7a5500",
                    gid="fault-label",
                )
            )
    if names:
        stack_labels(ax.figure, names)
    handles += [legend_key("fault (chaos)", colour=FAULT, alpha=0.5)] * bool(faults)
    pad = run.duration * 0.01
    ax.set(xlim=(-pad, run.duration + pad), xlabel=run_data.TIME_AXIS)
    if legend and handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), ncols=1 + len(handles) // 16)
