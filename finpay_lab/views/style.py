"""The figures' one visual language: colours, the look, and legend entries.

``pod-N`` always has the same colour (``plots.pod_colour`` picks it from ``PALETTE``);
failures are red; chaos faults are shaded gold, like the nemesis periods of Jepsen's
graphs (an instant fault, such as a kill, is a gold line); a black bar (or dashed line)
marks a pod's death. The look (``STYLE``) applies only inside our own figures
(``styled``): nothing here changes matplotlib's global settings.
"""

import functools

import matplotlib
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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
# tab20 without its reds (failures) and greys (no pod): 16 colours, strong ones first
PALETTE = [
    matplotlib.colormaps["tab20"].colors[i] for i in (0, 2, 4, 8, 10, 12, 16, 18, 1, 3, 5, 9, 11, 13, 17, 19)
]
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


def legend_key(label, marker=None, colour=OK, **kwargs):
    """A legend entry: a marker, or a patch of colour."""
    if marker is None:
        return Patch(color=colour, label=label, **kwargs)
    return Line2D([], [], ls="none", marker=marker, color=colour, label=label, **kwargs)


def say(ax, text, **kwargs):
    """A message in the middle of an empty plot ("no requests in this run")."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=13, **kwargs)
