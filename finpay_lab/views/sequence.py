"""A few requests as a sequence diagram: ``fl.plots.trace(run, around=…, n=…)``.

One vertical lane per process: the client (your notebook), the balancer (the lab's loop,
in the same process), each pod the requests went to, and Redis when the lab keeps its
state there. Time flows down, in seconds since the run started, as in the Lamport
diagrams Maelstrom draws. Each request is three arrows: client → balancer when it was
sent, balancer → pod (slanted by the time it waited in the pod's queue), and the reply
back to the client. A pod's lane ends with an ✗ where it died; a failed request is red,
and its reply comes from where the failure was noticed (the dead pod, or the balancer
that gave up waiting).

What a run records, and so what is drawn: when each request was sent and answered, who
served it, and how long its handler ran (``service``). The handler is drawn as a box on
its pod's lane, reaching across to Redis if the lab keeps state there: the handler's
Redis commands happen inside that box, but a run does not time each command.

Teaches: "in flight" made visible. The requests a pod held when it died fail together,
and the ones sent a moment later go to the survivors.
"""

from matplotlib.ticker import FuncFormatter

from ..errors import BadInput
from ..numbers import is_number, is_whole
from . import run_data
from .style import DEATH, FAILED, say

MAX_REQUESTS = 30  # a diagram of more arrows than this is a hairball
REPLY_FROM = {"timeout": "balancer", "interrupted": "balancer", "no_pod": "balancer"}  # who answers a failure


def centre(run, around):
    """The moment to look at (lab time): ``around`` seconds since the run started, or the
    first pod death, or the first failure, or the middle of the run."""
    if around is not None:
        if not is_number(around) or not 0 <= around <= run.duration:
            raise BadInput(
                f"around must be a number of seconds since the run started, between 0 and "
                f"{run.duration:.2f}, not {around!r}"
            )
        return run.started + around
    died = run_data.deaths(run)
    if died:
        return died[0][0]
    failed = [r.sent for r in run.requests if not r.ok]
    return failed[0] if failed else run.started + run.duration / 2


def pick(run, at, n):
    """``n`` requests sent nearest to ``at``: failed ones first (up to half), in the order
    they were sent."""
    if not is_whole(n, 1) or n > MAX_REQUESTS:
        raise BadInput(f"n must be a whole number of requests from 1 to {MAX_REQUESTS}, not {n!r}")
    near = sorted(run.requests, key=lambda r: (abs(r.sent - at), r.id))
    chosen = [r for r in near if not r.ok][: max(1, n // 2)]
    chosen += [r for r in near if r not in chosen][: n - len(chosen)]
    return sorted(chosen, key=lambda r: (r.sent, r.id))


def lanes(run, requests):
    """The lanes, left to right: client, balancer, the pods involved, Redis (if used)."""
    pods = run_data.sorted_pods(r.pod for r in requests if r.pod)
    redis = getattr(run.lab, "state", None) == "redis"
    return ["client", "balancer", *pods] + ["redis"] * redis


def draw(fig, run, around=None, n=6):
    """Draw the diagram on ``fig``; returns its caption."""
    ax = fig.add_subplot()
    if not run.requests:
        say(ax, "no requests in this run")
        ax.set_axis_off()
        return "A sequence diagram of a run's requests: this run has none."
    at = centre(run, around)
    chosen = pick(run, at, n)
    names = lanes(run, chosen)
    x = {name: i for i, name in enumerate(names)}
    t0 = run.started
    top = min(r.sent for r in chosen) - t0
    bottom = max(r.received for r in chosen) - t0
    pad = max((bottom - top) * 0.06, 1e-4)
    top, bottom = top - pad, bottom + pad
    died = [
        (t - t0, pod, kind) for t, pod, kind in run_data.deaths(run) if pod in x and top <= t - t0 <= bottom
    ]

    # lanes: a line per process; a pod's only while it was up, with an ✗ where it died
    for name in names:
        spans = [(top, bottom)]
        if name not in ("client", "balancer", "redis"):
            spans = [(max(a - t0, top), min(b - t0, bottom)) for a, b in run_data.up_intervals(run, name)]
            spans = [(a, b) for a, b in spans if a < b]
        for a, b in spans:
            ax.plot([x[name]] * 2, [a, b], color="#555555", lw=1.5, zorder=1, gid=f"lane:{name}")
    for t, pod, kind in died:
        ax.text(
            x[pod], t, "✗", ha="center", va="center", fontsize=18, color=DEATH, zorder=6, gid=f"crash:{pod}"
        )
        ax.text(x[pod] + 0.06, t, f"{pod} {kind}", ha="left", va="center", fontsize=8, color=DEATH)

    # requests: send, route (and wait in the pod's queue), the handler, the reply
    for i, r in enumerate(chosen):
        colour = "#333333" if r.ok else FAILED
        sent, received = r.sent - t0, r.received - t0
        _arrow(ax, (x["client"], sent), (x["balancer"], sent), colour, f"req:{r.id}:send")
        cause = str(r.cause or "")
        if r.pod in x:
            start = max(sent, received - r.service) if r.ok else sent
            _arrow(ax, (x["balancer"], sent), (x[r.pod], start), colour, f"req:{r.id}:route")
            if r.ok and r.service > 0:
                far = x.get("redis", x[r.pod])
                ax.fill_betweenx(
                    [start, received],
                    x[r.pod] - 0.05,
                    far + 0.05 * (far == x[r.pod]),
                    color=colour,
                    alpha=0.12,
                    lw=0,
                    zorder=2,
                    gid=f"req:{r.id}:handler",
                )
            if REPLY_FROM.get(cause) == "balancer":
                reply_from = (x["balancer"], received)
            else:
                end = [t for t, pod, _ in died if pod == r.pod and sent <= t <= received]
                reply_from = (x[r.pod], end[0] if end else received)
        else:
            reply_from = (x["balancer"], received)
        _arrow(ax, reply_from, (x["client"], received), colour, f"req:{r.id}:reply", dashed=not r.ok)
        outcome = f"ok, {r.latency * 1e3:.1f} ms" if r.ok else (cause or "failed").replace("_", " ")
        ax.annotate(
            f"#{r.id} {r.endpoint} → {outcome}",
            (x["client"], sent),
            color=colour,
            fontsize=8,
            xytext=(-0.12, top + (bottom - top) * (i + 0.5) / len(chosen)),
            textcoords="data",
            ha="right",
            va="center",
            gid=f"req:{r.id}:label",
            arrowprops={"arrowstyle": "-", "color": "#bbbbbb", "lw": 0.6, "shrinkA": 2, "shrinkB": 0},
        )

    ax.set_xticks(range(len(names)), names)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0, labelsize=10)
    ax.set(xlim=(-1.9, len(names) - 0.5), ylim=(bottom, top), ylabel=f"{run_data.TIME_AXIS}, time flows down")
    digits = 4 if bottom - top < 0.02 else 3  # a burst of a few ms: tenths of a ms
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{digits}f}"))
    ax.grid(False)
    ax.spines[["bottom", "right", "top"]].set_visible(False)
    failed = sum(not r.ok for r in chosen)
    crash = f"; {', '.join(f'{p} died at {t:.3f} s' for t, p, _ in died)}" if died else ""
    ax.set_title(f"{len(chosen)} requests around {at - t0:.3f} s: {failed} failed (red){crash}", fontsize=11)
    via = " (→ Redis)" if "redis" in x else ""
    return (
        f"{len(chosen)} requests, client → balancer → pod{via}, time flowing down{crash}: {failed} failed (red). "
        "Slanted: queue wait; grey: handler running."
    )


def _arrow(ax, start, end, colour, gid, dashed=False):
    ax.annotate(
        "",
        end,
        start,
        gid=gid,
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "lw": 1.3,
            "ls": "--" if dashed else "-",
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 10,
        },
    )
