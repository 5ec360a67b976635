"""The figures' one visual language: colours, the look, legend entries, labels, captions.

``pod-N`` always has the same look (``pod_look``): pods 1–8 take the eight colours of the
Okabe–Ito palette (told apart by the colour-blind too), and from pod-9 on the colours come
round again with another marker (and, on bars, another hatching): pod-9 is pod-1's blue
with squares instead of dots. So 30 pods are 30 looks, and a pod is never told by its
colour alone (its lane or legend also names it). Failures are red; chaos faults are shaded gold, like the nemesis periods of Jepsen's
graphs (an instant fault, such as a kill, is a gold line); a black bar (or dashed line)
marks a pod's death. Labels on a chart never overlap (``stack_labels``), and every
figure carries a one-line caption saying what it shows (``caption``; also ``fig.alt``,
alt text for a page or a screen reader). The look (``STYLE``) applies only inside our own figures
(``styled``): nothing here changes matplotlib's global settings.
"""

import functools
import textwrap

import matplotlib
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

FAILED = "#d62728"  # failed requests
FAULT = "#f2b134"  # chaos fault windows (shaded)
DEATH = "#222222"  # a pod's death
OK = "#5a6b7b"  # successful requests, when not split by pod
QUANTILES = ((0.5, "#08306b", "-"), (0.95, "#2171b5", "--"), (0.99, "#6baed6", ":"))
LOSSES = (
    ("lost sessions", "#762a83"),
    ("lost payments", "#b2182b"),
    ("lost SMS alerts", "#e08214"),
    ("wrong balance", "#8c510a"),
)
# Okabe & Ito (2008), "Color Universal Design": eight colours the colour-blind tell apart.
# Blue first (pod-1 is blue); black last, as it is close to a death's black.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # pods 1–8, 9–16, 17–24...: 64 looks
HATCHES = ("", "////", "....", "xxxx", "\\\\", "++++", "oooo", "----")  # the same, on bars
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "axes.axisbelow": True,
}


def styled(fn):
    """Draw inside a style context: the look is local to our figures, never global."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def pod_look(n):
    """(colour, marker, hatch) of pod number ``n`` (1-based): the colour cycles over the 8 of
    the palette, the marker and hatching change with each round of 8."""
    i = max(int(n) - 1, 0)
    return (
        PALETTE[i % len(PALETTE)],
        MARKERS[i // len(PALETTE) % len(MARKERS)],
        HATCHES[i // len(PALETTE) % len(HATCHES)],
    )


def legend_key(label, marker=None, colour=OK, **kwargs):
    """A legend entry: a marker, or a patch of colour."""
    if marker is None:
        return Patch(color=colour, label=label, **kwargs)
    return Line2D([], [], ls="none", marker=marker, color=colour, label=label, **kwargs)


def say(ax, text, **kwargs):
    """A message in the middle of an empty plot ("no requests in this run")."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=13, **kwargs)


def caption(fig, text, fontsize=8.5):
    """A caption under the figure, kept as ``fig.alt`` too (alt text): one line, wrapped
    only if it is wider than the figure."""
    fig.alt = text
    width = int(fig.get_figwidth() * 72 / (0.55 * fontsize))  # characters across the figure
    fig.supxlabel(
        textwrap.fill(text, width),
        x=0.005,
        ha="left",
        ma="left",
        fontsize=fontsize,
        color="#444444",
        gid="caption",
    )
    return fig


def stack_labels(fig, texts):
    """Keep these labels from overlapping: they are placed when ``fig`` is drawn, once its
    layout is done (``LabFigure.draw`` calls ``place_labels``). ``texts``: Text artists in
    (data x, axes-fraction y). They are kept out of the layout, so placing them doesn't move
    the axes they sit on."""
    for t in texts:
        t.set_in_layout(False)
    fig.label_groups = [*getattr(fig, "label_groups", []), [(t, t.get_position()) for t in texts]]


def place_labels(group, renderer, gap=2.0):
    """Greedy, left to right: each label at its place, or one label height lower, and so
    on, until it overlaps none placed before it. ``group``: (text, home position) pairs."""
    placed = []
    for t, home in group:
        t.set_position(home)
    for t, (x, y) in sorted(group, key=lambda item: item[0].get_window_extent(renderer).x0):
        for _ in range(40):
            box = t.get_window_extent(renderer).padded(gap / 2)
            if not any(box.overlaps(other) for other in placed):
                break
            y -= (box.height + gap) / t.axes.bbox.height
            t.set_position((x, y))
        placed.append(t.get_window_extent(renderer).padded(gap / 2))


def quantile_lines(ax, points):
    """The p50 / p95 / p99 latency lines, each in its look of ``QUANTILES`` and named
    ``"p50"``, ``"p95"``, ``"p99"`` (label and gid). ``points``: those names to their
    (x, ms) points; a name it lacks draws no line. Returns the values > 0 drawn, for
    ``latency_axis``."""
    shown = []
    for q, colour, style in QUANTILES:
        name = f"p{q * 100:g}"
        if name not in points:
            continue
        xs, ys = [x for x, _ in points[name]], [v for _, v in points[name]]
        ax.plot(xs, ys, ls=style, color=colour, lw=2, marker="o", ms=3, label=name, gid=name)
        shown += [v for v in ys if v > 0]
    return shown


def latency_axis(ax, shown):
    """A latency axis in ms: log scale when the values ``shown`` span more than 30×, so a
    1 ms median and a 3 s tail are both readable; from 0 otherwise."""
    if shown and max(shown) / min(shown) > 30:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(bottom=0)
    return "latency (ms)" + (", log scale" if ax.get_yscale() == "log" else "")
