"""Figures of what happened: every function returns a matplotlib ``Figure``.

A notebook shows the returned figure; ``fig.savefig("run.png")`` keeps it. Nothing here
calls ``plt.show()`` or changes matplotlib's global settings.

* ``timeline(run)``: one lane per pod, one dot per request where and when it was served.
  Teaches: the balancer spreads the load; when a pod dies its lane goes empty, the requests
  it was holding fail (red ×) and the survivors take over; a restarted pod comes back empty.
* ``throughput(run)``: requests per second over time, ok (stacked by pod) and failed.
  Teaches: capacity is pods × what one pod serves; a crash is a dip and a red spike.
* ``latency(run)``: p50 / p95 / p99 per time bucket, each request counted from when it was
  due (its customer's wait, the lab's queue included: see ``panels.py``). Teaches: trouble
  shows in the tail first; when a pod dies under load, queues build on the others.
* ``overview(run)``: the three above, stacked on one time axis (``run.plot()``).
* ``compare(run_a, run_b)``: one workload under two settings, side by side, same scales,
  with a thin ok/failed bar under each.
* ``scaling(results)``: throughput against the number of pods, beside the ideal straight
  line. Teaches: stateless services scale almost linearly; shared state bends the curve.
* ``balances(lab)``: each customer's balance as each pod sees it. Teaches: with in-memory
  state pods disagree (which one is Ravi's real balance?); with Redis they all agree.
* ``losses(audit)``: what each customer lost: sessions, SMS alerts, correct balances.
* ``replicas(run)``: demand, ready replicas and latency, with the HPA's decisions
  (``views/replicas.py``). Teaches: the replicas climb in steps behind the demand.
* ``trace(run, around=…, n=…)``: a few requests as a sequence diagram, client → balancer →
  pod (→ Redis), around a crash. Teaches: what "in flight" means when a pod dies.

One visual language everywhere: ``pod-N`` always has the same colour and marker
(``pod_colour``, ``pod_marker``; Okabe–Ito colours, a new marker every 8 pods); failures
are red; chaos faults are shaded gold, like the nemesis periods of Jepsen's graphs (an
instant fault, such as a kill, is a gold line); a black bar (or dashed line) marks a pod's
death (the colours and the look: ``style.py``). One clock: every time axis counts seconds
since the run started, so two runs line up and a figure reads like a stopwatch. Under each
figure, one line says what it shows for this run (also ``fig.alt``). What the figures read
from a run (lanes, deaths, time buckets, demand) is in ``run_data.py``; the panels they are
made of (a timeline, throughput or latency drawn on one axes) are in ``panels.py``.
"""

import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..errors import BadInput
from ..numbers import is_number, is_whole
from . import panels, run_data, sequence
from .panels import DEMAND
from .run_data import NO_POD
from .style import FAILED, LOSSES, OK, caption, legend_key, place_labels, styled

__all__ = [
    "LabFigure",
    "balances",
    "compare",
    "latency",
    "losses",
    "overview",
    "pod_colour",
    "pod_hatch",
    "pod_marker",
    "replicas",
    "scaling",
    "throughput",
    "timeline",
    "trace",
]
DEMAND = DEMAND  # the requests due per second: a black step line over the bars (panels.py)
NO_POD = NO_POD  # the timeline's lane of requests no pod could take (run_data.py)
LOSSES = LOSSES  # what losses() colours each kind of loss (drawn in outcomes.py)


class LabFigure(Figure):
    """A matplotlib Figure that shows itself when a notebook cell returns it, with no pyplot
    and no ``%matplotlib`` needed (a bare Figure shows only its text there)."""

    def _repr_png_(self):
        png = io.BytesIO()
        self.savefig(png, format="png")
        return png.getvalue()

    alt = ""  # a one-line description of what the figure shows (its caption; alt text)
    label_groups = ()  # labels that must not overlap, placed once the layout is done

    def draw(self, renderer):
        if self.label_groups:
            if self.get_layout_engine() is not None:
                self.get_layout_engine().execute(self)
            for group in self.label_groups:
                place_labels(group, renderer)
        super().draw(renderer)


def pod_colour(pod):
    """The colour of ``pod-N`` in every figure (pod-1 is always blue); grey for no pod."""
    return matplotlib.colors.to_hex(panels.look(pod)[0])


def pod_marker(pod):
    """The marker of ``pod-N``: dots for pods 1–8, squares for 9–16, triangles for 17–24..."""
    return panels.look(pod)[1]


def pod_hatch(pod):
    """The hatching of ``pod-N``'s bars: none for pods 1–8, then one pattern per round of 8."""
    return panels.look(pod)[2]


# ---------------------------------------------------------------------- public figures
@styled
def timeline(run):
    """Every request as a dot on its pod's lane; failures, deaths, restarts and faults marked."""
    run_data.check_runs("timeline", run)
    fig = LabFigure(figsize=(10, run_data.lanes_height(run) + 0.3), layout="constrained")
    panels.timeline(fig.add_subplot(), run)
    return caption(fig, run_data.says_timeline(run))


@styled
def throughput(run, bucket=None, demand=None):
    """Requests per second (ok stacked by pod, failed in red) per time bucket (seconds), and
    the demand: requests due per second, a black line (the gap under it: work not done on
    time). ``demand``: the load shape the run was sent (``fl.load....``), or its timed items;
    without it, the requests' own due times when they carry them (``due``)."""
    run_data.check_runs("throughput", run)
    fig = LabFigure(figsize=(10, 4.3), layout="constrained")
    bucket = run_data.bucket_size(bucket, run)
    due = panels.throughput(fig.add_subplot(), run, bucket, demand=demand)
    return caption(fig, run_data.says_throughput(run, bucket, due))


@styled
def latency(run, bucket=None):
    """p50 / p95 / p99 latency of successful requests (ms) per time bucket (seconds), each
    counted from when it was due (``Response.response_time``; from send if it had none)."""
    run_data.check_runs("latency", run)
    fig = LabFigure(figsize=(10, 4.3), layout="constrained")
    bucket = run_data.bucket_size(bucket, run)
    panels.latency(fig.add_subplot(), run, bucket)
    return caption(fig, run_data.says_latency(run, bucket))


@styled
def overview(run, bucket=None, demand=None):
    """Timeline, throughput (with the demand, see ``throughput``) and latency stacked on one
    time axis."""
    run_data.check_runs("overview", run)
    bucket, lanes = run_data.bucket_size(bucket, run), run_data.lanes_height(run)
    fig = LabFigure(figsize=(10, lanes + 5.8), layout="constrained")
    top, middle, bottom = fig.subplots(3, 1, sharex=True, height_ratios=[lanes - 1, 2.5, 2.5])
    panels.timeline(top, run)
    due = panels.throughput(middle, run, bucket, demand=demand)
    panels.latency(bottom, run, bucket)
    for ax in (top, middle):
        ax.set_xlabel("")  # one time axis, labelled at the bottom
    fig.suptitle(run.summary().splitlines()[0], fontsize=12)
    return caption(fig, run_data.says_overview(run, bucket, due))


def replicas(run, bucket=None):
    """Demand, ready replicas and latency on one time axis, the HPA's decisions marked
    (``views/replicas.py``). Teaches: an autoscaler acts a period at a time, behind the demand."""
    from .replicas import from_run  # it draws with this module's parts

    return from_run(run, bucket)


@styled
def compare(run_a, run_b, labels=("A", "B"), bucket=None):
    """The same workload under two settings side by side: throughput over time, and under
    each a thin bar of its ok and failed requests (same scales)."""
    run_data.check_runs("compare", run_a, run_b)
    if isinstance(labels, str) or len(labels) != 2:
        raise BadInput(f"compare needs two labels, one per run, not {labels!r}")
    bucket = run_data.bucket_size(bucket, run_a, run_b)
    fig = LabFigure(figsize=(11, 5), layout="constrained")
    axes = fig.subplots(2, 2, sharey="row", height_ratios=[6, 1])
    axes[0, 1].sharex(axes[0, 0])
    axes[1, 1].sharex(axes[1, 0])
    most = max(len(run_a.requests), len(run_b.requests), 1)
    for col, (run, label) in enumerate(zip((run_a, run_b), labels, strict=True)):
        top, bottom = axes[:, col]
        panels.throughput(top, run, bucket, legend=col == 1)
        top.set_xlim(0, max(run_a.duration, run_b.duration))
        top.set_title(f"{label}: {run.throughput:,.0f} ok requests/s")
        # One row: ok from 0, failed after it; the count and share are written beside it.
        bottom.barh([0], [run.failed], left=[run.ok], color=FAILED, height=0.8, gid="failed", label="failed")
        bottom.barh([0], [run.ok], color=OK, height=0.8, gid="ok", label="ok")
        share = f" ({100 * run.failed / len(run.requests):.1f}%)" if run.requests else ""
        bottom.annotate(  # just after the bar's end, never over it
            f"{run.ok:,} ok, {run.failed:,} failed{share}",
            (len(run.requests), 0),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=9,
            color=FAILED if run.failed else "black",
            gid="counts",
        )
        bottom.set(xlim=(0, most * 1.9), yticks=[], xlabel="requests (count)")
        bottom.grid(False)
        bottom.spines[["left"]].set_visible(False)
    axes[0, 1].set_ylabel("")
    axes[1, 1].legend(
        handles=[legend_key("ok", colour=OK), legend_key("failed", colour=FAILED)],
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
    )
    fig.suptitle(f"Same workload, two settings: {labels[0]} vs {labels[1]}", fontsize=12)
    return caption(fig, run_data.says_compare(run_a, run_b, labels))


@styled
def scaling(results):
    """Throughput against the number of pods, with the ideal (linear) line and % of ideal.

    ``results``: ``{pods: throughput}`` (ok requests/s) or ``{pods: Run}``. The ideal line
    is what the smallest setup serves per pod, times the number of pods.
    """
    if not isinstance(results, dict) or not results:
        raise BadInput("scaling needs a dict {pods: throughput or Run}, e.g. {1: 900.0, 2: 1700.0}")
    points = sorted((n, getattr(value, "throughput", value)) for n, value in results.items() if is_whole(n))
    if len(points) != len(results) or not all(n >= 1 and is_number(t, 0) for n, t in points):
        raise BadInput(f"scaling needs {{pods ≥ 1: throughput or Run}}, not {results!r}")
    ns, tps = [n for n, _ in points], [float(t) for _, t in points]
    per_pod = tps[0] / ns[0]
    fig = LabFigure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        [0, *ns],
        [0.0] + [n * per_pod for n in ns],
        ls="--",
        color="#999999",
        gid="ideal",
        label=f"ideal: pods × {per_pod:,.0f}/s",
    )
    ax.plot(ns, tps, marker="o", ms=7, lw=2, color=pod_colour("pod-1"), label="measured", gid="measured")
    for n, tp in zip(ns, tps, strict=True):
        ax.annotate(
            f"{100 * tp / (n * per_pod):.0f}%" if per_pod else "",
            (n, tp),
            xytext=(0, -9),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=9,
        )
    ax.set(
        xticks=ns,
        xlim=(0, ns[-1] * 1.05 + 0.5),
        ylim=(0, max(ns[-1] * per_pod, *tps) * 1.1 or 1),
        xlabel="pods",
        ylabel="throughput (ok requests/s)",
        title="Scaling: throughput vs pods (labels: % of ideal)",
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(loc="upper left")
    reached = 100 * tps[-1] / (ns[-1] * per_pod) if per_pod else 0
    return caption(
        fig,
        f"Throughput measured at {', '.join(map(str, ns))} pods against the ideal (pods × what "
        f"{ns[0]} pod{'s' * (ns[0] != 1)} served): {ns[-1]} pods reach {reached:.0f}% of it.",
    )


def balances(data, users=None, limit=12):
    """Each customer's balance as each pod sees it: one bar per pod, grouped by customer.

    ``data`` is a Lab (its ``balances()`` are drawn) or ``{user: {pod: balance}}``. Shown:
    ``users``, or up to ``limit`` customers, those the pods disagree on first
    (``views/outcomes.py``). Teaches: with in-memory state pods disagree."""
    from . import outcomes  # it draws with this module's parts

    return outcomes.balances(data, users, limit)


def losses(audit, limit=20):
    """What each customer lost: sessions, payments, SMS alerts, and a correct balance (a
    customer whose balance is wrong, below zero or different on each pod counts once).
    The ``limit`` customers who lost most are shown (``views/outcomes.py``)."""
    from . import outcomes

    return outcomes.losses(audit, limit)


@styled
def trace(run, around=None, n=6):
    """A few requests as a sequence diagram (client → balancer → pod → Redis, time flowing
    down), like Maelstrom's Lamport diagrams: the ``n`` requests sent nearest ``around``
    (seconds since the run started; by default the first pod death). A dead pod's lane ends
    with an ✗; failed requests are red. The drawing is in ``sequence.py``."""
    run_data.check_runs("trace", run)
    if not is_whole(n, 1) or n > sequence.MAX_REQUESTS:
        raise BadInput(f"n must be a whole number of requests from 1 to {sequence.MAX_REQUESTS}, not {n!r}")
    fig = LabFigure(figsize=(10, min(3.2 + 0.42 * n, 12)), layout="constrained")
    return caption(fig, sequence.draw(fig, run, around, n))
