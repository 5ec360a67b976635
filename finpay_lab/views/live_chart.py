"""The dashboard's chart: requests per second over the last ``WINDOW`` seconds, as PNG.

Successful requests are green, failed ones red, and pod events (kills, restarts, a state
switch, a rescale) are marked where they happened; labels that would overlap are moved
down a row (``style.place_labels``). The dashboard shows a lab, not a run, so its clock is
"seconds ago" (0 is now); a one-line caption under the chart says so. ``per_bin`` counts the lab's history
into bins; ``Chart`` draws them with a ``Figure`` and the Agg canvas (never pyplot, which
is not thread-safe: the dashboard draws from its refresher thread).
"""

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .live_tiles import COLOURS
from .style import place_labels

WINDOW = 30.0  # seconds of history the chart shows
BIN = 0.5  # chart resolution; matches the refresh so every refresh can move the chart
MARKED = ("killed", "exited", "restarted", "switched", "scaled")  # pod events the chart marks


def per_bin(requests, start, end):
    """Ok and failed requests in each bin from ``start`` to ``end`` (bin numbers, ``BIN``
    seconds each), and the newest failed request (the status area says *why* it failed)."""
    ok, failed, newest_failure = [0] * (end - start), [0] * (end - start), None
    for i in range(len(requests) - 1, -1, -1):  # newest first; stop once past the window
        r = requests[i]
        b = int(r.received / BIN)
        if b < start - 4:  # replies are recorded nearly in time order; allow a little slack
            break
        if start <= b < end:
            (ok if r.ok else failed)[b - start] += 1
        if not r.ok and newest_failure is None:
            newest_failure = r
    return ok, failed, newest_failure


class Chart:
    """Requests per second as PNG bytes, drawn with Figure + Agg (safe off the main thread).

    One figure is kept and only its data changes between drawings: building axes and
    ticks anew each time costs more than drawing them. Used under the dashboard's
    drawing lock, so by one thread at a time."""

    def __init__(self):
        self.fig = Figure(figsize=(7.8, 2.4), dpi=100)
        FigureCanvasAgg(self.fig)
        ax = self.ax = self.fig.add_subplot()
        # Two filled step outlines (ok drawn over ok+failed) instead of 120 bars.
        self.total = ax.stairs([0], [0, 1], fill=True, color=COLOURS["dead"], label="failed")
        self.ok = ax.stairs([0], [0, 1], fill=True, color=COLOURS["ready"], label="ok")
        self.title = ax.set_title("", fontsize=9, loc="left")
        self.marks = []
        ax.legend(
            [self.ok, self.total],
            ["ok", "failed"],
            loc="lower right",
            bbox_to_anchor=(1, 1),
            fontsize=8,
            frameon=False,
            ncols=2,
            borderaxespad=0.1,
        )
        ax.set_xlim(-WINDOW - BIN, 0)
        ax.set_xlabel("seconds ago", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        self.caption = self.fig.text(
            0.005, 0.01, "", fontsize=7.5, color="#444444", va="bottom", gid="caption"
        )
        self.fig.subplots_adjust(left=0.07, right=0.99, top=0.87, bottom=0.25)
        self.alt = ""  # the caption's words (alt text)

    def png(self, ok, failed, marks, start, now):
        edges = [(start + i) * BIN - now for i in range(len(ok) + 1)]  # seconds before now
        total = [(a + b) / BIN for a, b in zip(ok, failed, strict=True)]
        self.total.set_data(total, edges)
        self.ok.set_data([n / BIN for n in ok], edges)
        for artist in self.marks:
            artist.remove()
        self.marks = []
        labels = []
        for t, label in marks[-4:]:  # a few labels at most, or they pile up unreadably
            x, right = t - now, t - now > -8
            self.marks.append(self.ax.axvline(x, color="#333", linestyle="--", linewidth=0.9))
            labels.append(
                self.ax.text(
                    x,
                    0.97,
                    f" {label} " if right else f" {label}",
                    transform=self.ax.get_xaxis_transform(),
                    ha="right" if right else "left",
                    va="top",
                    fontsize=7.5,
                    gid="mark",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
                )
            )
        self.marks += labels
        if labels:
            place_labels([(t, t.get_position()) for t in labels], self.fig.canvas.get_renderer())
        recent = max(1, min(len(ok), int(2 / BIN)))  # the last 2 s: what "now" feels like
        self.title.set_text(
            f"requests per second, last {WINDOW:g} s — now "
            f"{sum(ok[-recent:]) / (recent * BIN):,.0f} ok/s, "
            f"{sum(failed[-recent:]) / (recent * BIN):,.0f} failed/s"
        )
        self.ax.set_ylim(0, max(10, max(total, default=0) * 1.3))  # headroom for the labels
        self.alt = (
            f"Requests per second over the last {WINDOW:g} s (0 is now): ok in green, failed in red"
            + (
                f"; dashed lines mark {len(marks[-4:])} pod event{'s' * (len(marks[-4:]) != 1)}."
                if marks
                else "."
            )
        )
        self.caption.set_text(self.alt)
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()


def marks(events):
    """Chart labels: one per burst of events (a kill and the exit it caused are one mark)."""
    marks = []  # [time, [words]]
    for e in events:
        if e.kind not in MARKED:
            continue
        words = f"{e.pod} {e.kind}" if e.pod else e.kind
        if e.kind == "exited" and e.detail == "SIGKILL" and marks and f"{e.pod} killed" in marks[-1][1]:
            continue  # the exit a kill caused: already marked
        if marks and e.t - marks[-1][0] < 0.5:
            marks[-1][1].append(words)
        else:
            marks.append([e.t, [words]])
    return tuple((t, ", ".join(words)) for t, words in marks)
