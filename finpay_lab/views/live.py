"""The live dashboard: ``fl.dashboard(lab)`` shows the cluster while you poke at it.

    lab = fl.Lab(pods=3)
    fl.dashboard(lab)

What you see, top to bottom:

* the **state kind** (each pod's own memory, or one shared Redis) and a button to switch
  it, which redeploys, so it restarts every pod;
* **controls**: add a pod, remove a pod, start/stop **background load** at a chosen rate;
* a **tile per pod**: name, pid, status (colour-coded), requests served, restarts, and what
  the pod holds in its own memory (sessions, queued SMS), with a **kill** button (SIGKILL);
* a **chart** of successful and failed requests per second over the last 30 s, with pod
  events (kills, restarts) marked where they happened;
* a **status area**: any error from a click, the latest failed request (it says *why*),
  and the latest pod events.

A lab with an autoscaler (``fl.Lab(autoscaler=fl.HPA(...))``) also shows, in the header,
the HPA's target and the utilization it last measured. It decides while the background
load runs (each batch is a ``lab.run``), and only then.

The background load is FinPay traffic from a dozen customers: logins, ``whoami`` with the
session a login gave, ``update_balance`` and ``add_balance``. A customer whose session a
pod does not know logs in again, as the app asks; with state in each pod's memory that
is most ``whoami`` calls, and the chart turns red.

How it stays live without freezing the notebook: a daemon thread (the *refresher*) reads
the lab every ``refresh`` seconds and sets widget values, which ipywidgets sends to the
browser from any thread. It never uses ``with output:`` (output capture is not
thread-safe) nor pyplot (not thread-safe either): the chart is a ``matplotlib.figure.Figure``
drawn by the Agg canvas into PNG bytes for an ``Image`` widget. A second daemon thread, the
*load*, runs only while the load is on. Both take turns with your cells through the lab's
lock (a long ``lab.run`` of yours still shows live on the chart, drawn from the history),
and both stop when the lab closes, when the widget is closed, or on ``stop()``.

The parts live beside this module: the pod tiles in ``live_tiles.py``, the chart in
``live_chart.py``, the background load in ``live_load.py``; this one lays them out and
runs the refresher.

One live dashboard per lab: showing ``fl.dashboard(lab)`` again (a re-run cell, a reloaded
page) makes a new one that takes over. The old one stops its load and its refresher, and
says on screen that it was replaced, so no forgotten thread keeps loading the lab.
"""

import html
import threading
import time
import weakref

import ipywidgets as widgets

from ..errors import BadInput
from ..numbers import is_number
from ..runtime.lab import Lab
from .live_chart import BIN, WINDOW, Chart, marks, per_bin
from .live_load import LOAD_BATCH, Load
from .live_tiles import COLOURS, Tile

LOCK_WAIT = 0.4  # a refresh waits this long for the lab (longer than one load batch)
COMPACT = 8  # more pods than this: smaller tiles, so 30 pods still fit on a screen
STATE_WORDS = {"memory": "each pod remembers on its own", "redis": "all pods share one Redis"}
# The live dashboard of each lab. Weak both ways: a dashboard holds its lab, so a strong
# value would keep every lab ever shown alive; the widget registry keeps the board itself.
_LIVE = weakref.WeakKeyDictionary()  # lab -> weakref to its Dashboard


def dashboard(lab, refresh=0.5):
    """A live ipywidgets dashboard of ``lab``; display it as a cell's last expression."""
    return Dashboard(lab, refresh=refresh)


def hpa_words(hpa):
    """The header's word on the lab's autoscaler: its target and the utilization it last
    measured (its last decision's arithmetic as the tooltip); '' for a lab without one."""
    if hpa is None:
        return ""
    last = hpa.decisions[-1] if hpa.decisions else None
    now = "not measured yet" if last is None or last.utilization is None else f"{last.utilization:.0%}"
    tip = html.escape(
        last.arithmetic if last else "the HPA decides once a period while a run (or the load) runs",
        quote=True,
    )
    return (
        f' &nbsp;·&nbsp; <span title="{tip}">HPA: target {hpa.target:.0%}, utilization {now}'
        f" ({hpa.min}–{hpa.max} pods)</span>"
    )


class Dashboard(widgets.VBox):
    """The dashboard widget. ``refresh()`` redraws it once; ``stop()`` ends its threads."""

    def __init__(self, lab, refresh=0.5):
        # First, as close() (which ipywidgets also runs from __del__) relies on these.
        self._stop = threading.Event()
        self.load = self.refresh_thread = None
        if not isinstance(lab, Lab):
            raise BadInput(f"dashboard needs an fl.Lab, not {type(lab).__name__}")
        if not is_number(refresh, 0.05, 10):
            raise BadInput(f"refresh must be seconds between 0.05 and 10, not {refresh!r}")
        self.lab = lab
        self.refresh_every = float(refresh)
        self.tiles = {}  # pod name -> Tile, in the lab's order
        self._drawing = threading.Lock()  # a click's refresh and the thread's never interleave
        self._message = ""  # the latest click error or notice: shown until the next click
        self._chart, self._chart_key = Chart(), None
        self._last_failure = None  # the newest failed request on the chart
        self._replaced = False
        super().__init__(
            self._build(),
            layout=widgets.Layout(border="1px solid #d0d7de", padding="8px 12px", max_width="820px"),
        )
        self.add_class("finpay-dashboard")  # CSS hooks, for the browser test and for styling
        self.load = Load(lab, self._stop, rate=lambda: self.rate.value, failed=self._load_failed)
        self._take_over(lab)
        self.refresh()
        self.refresh_thread = threading.Thread(
            target=self._refresh_loop, daemon=True, name="finpay-dashboard-refresh"
        )
        self.refresh_thread.start()

    def _build(self):
        """The widgets, top to bottom: header, state row, controls, tiles, chart, status."""
        ui = widgets.Layout
        self.header = widgets.HTML()  # title and pod counts
        self.state_info = widgets.HTML()  # the state kind, in words
        self.state_button = widgets.Button(icon="refresh", layout=ui(width="auto", flex="0 0 auto"))
        self.add_button = widgets.Button(description="add a pod", icon="plus", layout=ui(width="auto"))
        self.remove_button = widgets.Button(description="remove a pod", icon="minus", layout=ui(width="auto"))
        self.load_button = widgets.ToggleButton(
            description="start load",
            icon="play",
            button_style="success",
            layout=ui(width="auto", margin="2px 4px 2px 20px"),
        )
        self.rate = widgets.IntSlider(
            value=100,
            min=10,
            max=500,
            step=10,
            description="req/s",
            continuous_update=False,
            style={"description_width": "40px"},
            layout=ui(width="280px"),
        )
        self.tile_box = widgets.Box(layout=ui(flex_flow="row wrap", align_items="stretch", margin="4px 0"))
        self.chart = widgets.Image(format="png", layout=ui(width="100%", max_width="780px"))
        self.status = widgets.HTML()

        self.state_button.on_click(lambda _: self._click("switch state", self._switch_state))
        self.add_button.on_click(lambda _: self._click("add a pod", self._scale_by, +1))
        self.remove_button.on_click(lambda _: self._click("remove a pod", self._scale_by, -1))
        self.load_button.observe(self._on_load_toggle, names="value")

        row = ui(align_items="center", flex_flow="row wrap")
        state_row = widgets.HBox([self.state_info, self.state_button], layout=row)
        controls = widgets.HBox(
            [self.add_button, self.remove_button, self.load_button, self.rate], layout=row
        )
        return [self.header, state_row, controls, self.tile_box, self.chart, self.status]

    def _take_over(self, lab):
        """Become the lab's live dashboard: the one shown before stops, and says so."""
        old = _LIVE.get(lab)
        _LIVE[lab] = weakref.ref(self)
        if old is not None and old() is not None:
            old().replaced()  # its load and refresher stop before this one starts

    @property
    def load_thread(self):
        """The background load's thread while it runs; None while the load is off."""
        return None if self.load is None else self.load.thread

    @property
    def _load_on(self):
        return self.load.on

    # ------------------------------------------------------------------ drawing
    def refresh(self):
        """Read the lab once and update tiles, header, chart and status line."""
        with self._drawing:
            if self._replaced:
                return None  # frozen, with its note: the newer dashboard is the live one
            if self.lab.closed:
                return self._show_closed()
            # lab.snapshot(): the lab's lock, briefly: one consistent look, so tiles never
            # mix two moments. While a long lab.run of your own holds it, the tiles wait,
            # but the chart is drawn from the history anyway: you watch the run live.
            # (A paused pod shows as paused and is not asked: asking would hang the refresh.)
            snapshot = self.lab.snapshot(timeout=LOCK_WAIT)
            if snapshot is not None:
                pods, held, state = snapshot
                self._draw_tiles(pods, held, state)
                self._draw_header(pods, state)
            self._draw_chart()
            self._draw_status()
        self._sync_load_button()

    def _sync_load_button(self):
        """The toggle shows the truth: "stop load" only while a load runs or is starting."""
        with self.load.guard:
            stale = self.load_button.value and not self.load.on.is_set() and self.load.thread is None
        if stale:
            self.load_button.value = False

    def _draw_tiles(self, pods, held, state):
        if list(self.tiles) != [p.name for p in pods]:  # pods came or went: new tiles
            old = self.tiles
            kill = lambda name: self._click(f"kill {name}", self._kill, name)  # noqa: E731
            self.tiles = {p.name: old.pop(p.name, None) or Tile(p.name, kill) for p in pods}
            self.tile_box.children = [t.box for t in self.tiles.values()]
            for gone in old.values():  # a closed widget frees its model in the browser too
                for w in (gone.box, gone.html, gone.kill):
                    w.close()
        for p in pods:
            self.tiles[p.name].show(p, held.get(p.name), state, compact=len(pods) > COMPACT)

    def _draw_header(self, pods, state):
        counts = {}
        for p in pods:
            counts[p.status] = counts.get(p.status, 0) + 1
        summary = " · ".join(
            f"<span style='color:{COLOURS.get(s, '#555')}'>{n} {s}</span>" for s, n in counts.items()
        )
        self.header.value = (
            f"<span style='font-size:16px;font-weight:600'>FinPay Lab — live</span>"
            f" &nbsp; {len(pods)} pods: {summary or 'none'}{hpa_words(getattr(self.lab, 'autoscaler', None))}"
        )
        badge = "#6a1b9a" if state == "memory" else "#c62828"
        self.state_info.value = (
            f"<span style='background:{badge};color:white;border-radius:4px;padding:1px 7px'>"
            f"state: {state}</span>&nbsp; <span style='color:#555'>{STATE_WORDS[state]}</span>&nbsp;"
        )
        other = "redis" if state == "memory" else "memory"
        self.state_button.description = f"switch to {other} (restarts every pod)"
        self.state_button.tooltip = (
            f"Redeploy with state={other!r}: every pod is replaced by a new "
            "process, and whatever the old pods kept in memory is gone."
        )

    def _draw_chart(self):
        now = self.lab.now()
        end = int(now / BIN)  # the bin in progress is left out: it is not over yet
        start = end - int(WINDOW / BIN)
        # A copy (one atomic slice): the lab may record, or trim its history, meanwhile.
        # The newest failure is shown in the status area, to say *why*.
        ok, failed, self._last_failure = per_bin(self.lab.history.requests[:], start, end)
        labels = marks([e for e in self.lab.history.events[-50:] if e.t >= start * BIN])
        key = (tuple(ok), tuple(failed), tuple(labels), start if any(ok) or any(failed) or labels else 0)
        if key == self._chart_key:
            return  # nothing moved (an idle lab): skip the ~50 ms of drawing
        self._chart_key = key
        self.chart.value = self._chart.png(ok, failed, labels, start, now)

    def _draw_status(self):
        events = [e for e in self.lab.history.events[-5:]][::-1]
        line = " · ".join(html.escape(str(e).strip()) for e in events)
        failure = self._last_failure
        why = (
            (
                f"<span style='color:{COLOURS['dead']}'>latest failure:</span> {html.escape(failure.endpoint)}"
                f" → {html.escape(str(failure.error))}"
            )
            if failure
            else ""
        )
        lines = [
            self._message or f"<span style='color:#555'>{_HINT}</span>",
            why,
            f"<span style='color:#444'>latest events (newest first): {line or 'none yet'}</span>",
        ]
        self.status.value = "".join(f"<div style='{_ONE_LINE}'>{x}</div>" for x in lines if x)

    def _show_closed(self):
        self._freeze()
        for tile in self.tiles.values():
            tile.show_stopped()
        self.header.value = "<b>FinPay Lab — live</b>: this lab is closed; start a new one with fl.Lab(...)"
        self._draw_status()

    def _freeze(self):
        """No load, and no button left that would act: a closed lab or a replaced board."""
        self.load.on.clear()
        self.load_button.value = False  # "start load", as nothing loads the lab from here
        for button in (self.add_button, self.remove_button, self.state_button, self.load_button, self.rate):
            button.disabled = True
        for tile in self.tiles.values():
            tile.kill.disabled = True

    def replaced(self):
        """A newer dashboard of this lab took over: stop both threads, and say so."""
        with self._drawing:
            self._replaced = True
        self.stop()
        self._freeze()
        self.header.value = (
            "<b>FinPay Lab — live</b>: <span style='color:#8a8a8a'>replaced by a newer "
            "dashboard of this lab</span> (the one shown last is live; this one is frozen)"
        )

    # ------------------------------------------------------------------ clicks
    def _click(self, what, action, *args):
        """Run a button's action; an error is shown in the status line, never lost."""
        try:
            notice = action(*args)
            self._message = html.escape(notice) if notice else ""
        except Exception as exc:  # the click handler has nobody else to tell
            self._message = (
                f"<span style='color:{COLOURS['dead']}'>⚠ {html.escape(what)} failed: "
                f"{html.escape(f'{type(exc).__name__}: {exc}')}</span>"
            )
        try:
            self.refresh()
        except Exception as exc:  # e.g. the lab closed under us
            self._message = f"⚠ refresh failed: {html.escape(str(exc))}"
            self._draw_status()

    def _kill(self, name):
        self.lab.kill(name)
        return f"{name} killed with SIGKILL: whatever it kept in memory is gone"

    def _scale_by(self, step):
        live = sum(p.status not in ("dead", "stopping") for p in self.lab.pods)
        if live + step < 0:
            return "there are no pods left to remove"
        self.lab.scale(live + step)
        return f"scaled {live} → {live + step} pods" + (" (dead pods were replaced)" if step > 0 else "")

    def _switch_state(self):
        other = "redis" if self.lab.state == "memory" else "memory"
        self.lab.switch_state(other)
        return f"state is now {other}: every pod was restarted, and what the old pods kept in memory is gone"

    # ------------------------------------------------------------------ threads
    def _refresh_loop(self):
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.refresh()
            except Exception as exc:
                if not self.lab.closed:  # closing mid-refresh is normal; anything else is shown
                    self._message = f"⚠ refresh failed: {html.escape(f'{type(exc).__name__}: {exc}')}"
            if self.lab.closed:
                self.refresh()  # draws the "closed" state once
                return
            self._stop.wait(max(0.05, self.refresh_every - (time.monotonic() - began)))

    def _on_load_toggle(self, change):
        on = change["new"]
        if on and (self._stop.is_set() or self.lab.closed):
            self.load_button.value = False  # a stopped board starts nothing; the toggle says so
            return
        self.load_button.description = "stop load" if on else "start load"
        self.load_button.icon = "stop" if on else "play"
        self.load_button.button_style = "warning" if on else "success"
        if on:
            self.load.start()
        else:
            self.load.pause()  # the thread ends after its current short batch

    def _load_failed(self, message):
        """The load cannot go on: say why, and turn the toggle off (it shows the truth)."""
        self._message = message
        self.load_button.value = False

    # ------------------------------------------------------------------ the end
    def stop(self):
        """Stop the load and the refresher (the widget stays on screen, frozen)."""
        self._stop.set()
        if self.load is not None:  # None: bad input stopped __init__ early
            self.load.on.clear()
        for thread in (self.load_thread, self.refresh_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=LOAD_BATCH + 2)
        if hasattr(self, "load_button"):  # not when bad input stopped __init__ early
            self.load_button.value = False  # nothing loads the lab from here any more

    def close(self):
        """Close the widget and stop its threads."""
        self.stop()
        lab = getattr(self, "lab", None)  # None: bad input stopped __init__ early
        if lab is not None and (ref := _LIVE.get(lab)) is not None and ref() is self:
            del _LIVE[lab]
        super().close()


_HINT = "Try it: start the load, kill a pod, then switch to redis and compare the red."
_ONE_LINE = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:12px;"
