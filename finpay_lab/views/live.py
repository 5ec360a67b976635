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

One live dashboard per lab: showing ``fl.dashboard(lab)`` again (a re-run cell, a reloaded
page) makes a new one that takes over. The old one stops its load and its refresher, and
says on screen that it was replaced, so no forgotten thread keeps loading the lab.
"""

import html
import io
import random
import threading
import time
import weakref

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import BadInput
from ..runtime.lab import Lab

COLOURS = {"ready": "#2e7d32", "busy": "#e69500", "starting": "#1e88e5", "stopping": "#8a8a8a",
           "dead": "#d32f2f", "paused": "#7b1fa2", "stopped": "#8a8a8a"}  # paused: SIGSTOPped by lab.pause/chaos
WINDOW = 30.0  # seconds of history the chart shows
BIN = 0.5  # chart resolution; matches the refresh so every refresh can move the chart
LOAD_BATCH = 0.25  # each lab.run covers this much time: short, so clicks never wait long
LOCK_WAIT = 0.4  # a refresh waits this long for the lab (longer than one load batch)
MIX = {"login": 1, "whoami": 4, "update_balance": 3, "add_balance": 2}  # relative weights
COMPACT = 8  # more pods than this: smaller tiles, so 30 pods still fit on a screen
CUSTOMERS = 12  # the load's population: the first customers of lab.accounts (the cast first)
MARKED = ("killed", "exited", "restarted", "switched", "scaled")  # pod events the chart marks
STATE_WORDS = {"memory": "each pod remembers on its own", "redis": "all pods share one Redis"}
# The live dashboard of each lab. Weak both ways: a dashboard holds its lab, so a strong
# value would keep every lab ever shown alive; the widget registry keeps the board itself.
_LIVE = weakref.WeakKeyDictionary()  # lab -> weakref to its Dashboard


def dashboard(lab, refresh=0.5):
    """A live ipywidgets dashboard of ``lab``; display it as a cell's last expression."""
    return Dashboard(lab, refresh=refresh)


class Dashboard(widgets.VBox):
    """The dashboard widget. ``refresh()`` redraws it once; ``stop()`` ends its threads."""

    def __init__(self, lab, refresh=0.5):
        # First, as close() (which ipywidgets also runs from __del__) relies on these.
        self._stop, self._load_on = threading.Event(), threading.Event()
        self.load_thread = self.refresh_thread = None
        if not isinstance(lab, Lab):
            raise BadInput(f"dashboard needs an fl.Lab, not {type(lab).__name__}")
        if isinstance(refresh, bool) or not isinstance(refresh, int | float) or not 0.05 <= refresh <= 10:
            raise BadInput(f"refresh must be seconds between 0.05 and 10, not {refresh!r}")
        self.lab = lab
        self.refresh_every = float(refresh)
        self.tiles = {}  # pod name -> _Tile, in the lab's order
        self._load_guard = threading.Lock()  # start/stop of the load thread never race
        self._drawing = threading.Lock()  # a click's refresh and the thread's never interleave
        self._message = ""  # the latest click error or notice: shown until the next click
        self._chart, self._chart_key = _Chart(), None
        self._last_failure = None  # the newest failed request on the chart
        self._rng = random.Random(lab.seed)  # the load's request mix is the same every time
        self._sessions = {}  # user -> session id the load logged in with

        ui = widgets.Layout
        self.header = widgets.HTML()  # title and pod counts
        self.state_info = widgets.HTML()  # the state kind, in words
        self.state_button = widgets.Button(icon="refresh", layout=ui(width="auto", flex="0 0 auto"))
        self.add_button = widgets.Button(description="add a pod", icon="plus", layout=ui(width="auto"))
        self.remove_button = widgets.Button(description="remove a pod", icon="minus", layout=ui(width="auto"))
        self.load_button = widgets.ToggleButton(description="start load", icon="play", button_style="success",
                                                layout=ui(width="auto", margin="2px 4px 2px 20px"))
        self.rate = widgets.IntSlider(value=100, min=10, max=500, step=10, description="req/s",
                                      continuous_update=False, style={"description_width": "40px"},
                                      layout=ui(width="280px"))
        self.tile_box = widgets.Box(layout=ui(flex_flow="row wrap", align_items="stretch", margin="4px 0"))
        self.chart = widgets.Image(format="png", layout=ui(width="100%", max_width="780px"))
        self.status = widgets.HTML()

        self.state_button.on_click(lambda _: self._click("switch state", self._switch_state))
        self.add_button.on_click(lambda _: self._click("add a pod", self._scale_by, +1))
        self.remove_button.on_click(lambda _: self._click("remove a pod", self._scale_by, -1))
        self.load_button.observe(self._on_load_toggle, names="value")

        row = ui(align_items="center", flex_flow="row wrap")
        state_row = widgets.HBox([self.state_info, self.state_button], layout=row)
        controls = widgets.HBox([self.add_button, self.remove_button, self.load_button, self.rate], layout=row)
        super().__init__([self.header, state_row, controls, self.tile_box, self.chart, self.status],
                         layout=ui(border="1px solid #d0d7de", padding="8px 12px", max_width="820px"))
        self.add_class("finpay-dashboard")  # CSS hooks, for the browser test and for styling
        self._replaced = False
        old = _LIVE.get(lab)
        _LIVE[lab] = weakref.ref(self)
        if old is not None and old() is not None:
            old().replaced()  # its load and refresher stop before this one starts
        self.refresh()
        self.refresh_thread = threading.Thread(target=self._refresh_loop, daemon=True,
                                               name="finpay-dashboard-refresh")
        self.refresh_thread.start()

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
        with self._load_guard:
            stale = self.load_button.value and not self._load_on.is_set() and self.load_thread is None
        if stale:
            self.load_button.value = False

    def _draw_tiles(self, pods, held, state):
        if list(self.tiles) != [p.name for p in pods]:  # pods came or went: new tiles
            old = self.tiles
            kill = lambda name: self._click(f"kill {name}", self._kill, name)  # noqa: E731
            self.tiles = {p.name: old.pop(p.name, None) or _Tile(p.name, kill) for p in pods}
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
        summary = " · ".join(f"<span style='color:{COLOURS.get(s, '#555')}'>{n} {s}</span>" for s, n in counts.items())
        self.header.value = (f"<span style='font-size:16px;font-weight:600'>FinPay Lab — live</span>"
                             f" &nbsp; {len(pods)} pods: {summary or 'none'}")
        badge = "#6a1b9a" if state == "memory" else "#c62828"
        self.state_info.value = (
            f"<span style='background:{badge};color:white;border-radius:4px;padding:1px 7px'>"
            f"state: {state}</span>&nbsp; <span style='color:#555'>{STATE_WORDS[state]}</span>&nbsp;")
        other = "redis" if state == "memory" else "memory"
        self.state_button.description = f"switch to {other} (restarts every pod)"
        self.state_button.tooltip = (f"Redeploy with state={other!r}: every pod is replaced by a new "
                                     "process, and whatever the old pods kept in memory is gone.")

    def _draw_chart(self):
        now = self.lab.now()
        end = int(now / BIN)  # the bin in progress is left out: it is not over yet
        start = end - int(WINDOW / BIN)
        ok, failed = [0] * (end - start), [0] * (end - start)
        # A copy (one atomic slice): the lab may record, or trim its history, meanwhile.
        requests, self._last_failure = self.lab.history.requests[:], None
        for i in range(len(requests) - 1, -1, -1):  # newest first; stop once past the window
            r = requests[i]
            b = int(r.received / BIN)
            if b < start - 4:  # replies are recorded nearly in time order; allow a little slack
                break
            if start <= b < end:
                (ok if r.ok else failed)[b - start] += 1
            if not r.ok and self._last_failure is None:
                self._last_failure = r  # the newest: shown in the status area, to say *why*
        marks = _marks([e for e in self.lab.history.events[-50:] if e.t >= start * BIN])
        key = (tuple(ok), tuple(failed), tuple(marks), start if any(ok) or any(failed) or marks else 0)
        if key == self._chart_key:
            return  # nothing moved (an idle lab): skip the ~50 ms of drawing
        self._chart_key = key
        self.chart.value = self._chart.png(ok, failed, marks, start, now)

    def _draw_status(self):
        events = [e for e in self.lab.history.events[-5:]][::-1]
        line = " · ".join(html.escape(str(e).strip()) for e in events)
        failure = self._last_failure
        why = (f"<span style='color:{COLOURS['dead']}'>latest failure:</span> {html.escape(failure.endpoint)}"
               f" → {html.escape(str(failure.error))}") if failure else ""
        lines = [self._message or f"<span style='color:#555'>{_HINT}</span>", why,
                 f"<span style='color:#444'>latest events (newest first): {line or 'none yet'}</span>"]
        self.status.value = "".join(f"<div style='{_ONE_LINE}'>{x}</div>" for x in lines if x)

    def _show_closed(self):
        self._freeze()
        for tile in self.tiles.values():
            tile.show_stopped()
        self.header.value = "<b>FinPay Lab — live</b>: this lab is closed; start a new one with fl.Lab(...)"
        self._draw_status()

    def _freeze(self):
        """No load, and no button left that would act: a closed lab or a replaced board."""
        self._load_on.clear()
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
        self.header.value = ("<b>FinPay Lab — live</b>: <span style='color:#8a8a8a'>replaced by a newer "
                             "dashboard of this lab</span> (the one shown last is live; this one is frozen)")

    # ------------------------------------------------------------------ clicks
    def _click(self, what, action, *args):
        """Run a button's action; an error is shown in the status line, never lost."""
        try:
            notice = action(*args)
            self._message = html.escape(notice) if notice else ""
        except Exception as exc:  # the click handler has nobody else to tell
            self._message = (f"<span style='color:{COLOURS['dead']}'>⚠ {html.escape(what)} failed: "
                             f"{html.escape(f'{type(exc).__name__}: {exc}')}</span>")
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
        with self._load_guard:
            if not on:
                self._load_on.clear()  # the thread ends after its current short batch
                return
            self._load_on.set()
            if self.load_thread is None:
                self.load_thread = threading.Thread(target=self._load_loop, daemon=True,
                                                    name="finpay-dashboard-load")
                self.load_thread.start()

    def _load_loop(self):
        """Send the chosen rate as short open-loop runs, one every LOAD_BATCH seconds."""
        # Only endpoints the lab's app has, for customers it knows: an own fl.App gets a
        # load of the ones it shares with FinPay (say update_balance), or a plain message.
        self._mix = {e: w for e, w in MIX.items() if e in self.lab.app}
        if "login" not in self._mix:
            self._mix.pop("whoami", None)  # whoami needs a session from login
        self._users = list(self.lab.accounts or {})[:CUSTOMERS] or ["Ravi"]
        if not self._mix:
            self._message = html.escape(f"the load sends {', '.join(MIX)}; the app {self.lab.app.name!r} "
                                        "has none of them")
            self._load_on.clear()
            self.load_button.value = False
        due, owed = time.monotonic(), 0.0
        while True:
            with self._load_guard:
                if not self._load_on.is_set() or self._stop.is_set() or self.lab.closed:
                    self.load_thread = None
                    break
            wait = due - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                continue
            owed += self.rate.value * LOAD_BATCH  # fractions carry over, so 10 req/s stays 10
            n, owed = int(owed), owed - int(owed)
            try:
                run = self.lab.run([(i * LOAD_BATCH / n, *self._next_request()) for i in range(n)])
                self._learn(run.requests)
            except Exception as exc:
                if not self.lab.closed:
                    self._message = (f"<span style='color:{COLOURS['dead']}'>⚠ load stopped: "
                                     f"{html.escape(f'{type(exc).__name__}: {exc}')}</span>")
                    self.load_button.value = False  # the toggle shows the truth
                self._load_on.clear()
                continue
            # Never catch up in a burst after falling behind; and pause a moment so a
            # click or the refresher gets the lab's lock between two batches.
            due = max(due + LOAD_BATCH, time.monotonic() - LOAD_BATCH)
            self._stop.wait(0.005)

    def _next_request(self):
        """One FinPay request from a small population; whoami uses the session of a login."""
        user = self._rng.choice(self._users)
        endpoint = self._rng.choices(list(self._mix), weights=list(self._mix.values()))[0]
        if endpoint == "whoami" and user not in self._sessions:
            endpoint = "login"  # a user with no session logs in first, as the app would make them
        if endpoint == "login":
            return "login", {"user": user}
        if endpoint == "whoami":
            return "whoami", {"user": user, "session": self._sessions[user]}
        return endpoint, {"user": user, "amount": self._rng.randint(1, 50) * 10}

    def _learn(self, responses):
        """Remember new sessions; forget one a pod did not know (the user must log in again)."""
        for r in responses:
            if r.endpoint == "login" and r.ok and isinstance(r.value, dict):
                self._sessions[r.params["user"]] = r.value.get("session")
            elif r.endpoint == "whoami" and not r.ok and self._sessions.get(r.params["user"]) == r.params["session"]:
                del self._sessions[r.params["user"]]

    # ------------------------------------------------------------------ the end
    def stop(self):
        """Stop the load and the refresher (the widget stays on screen, frozen)."""
        self._stop.set()
        self._load_on.clear()
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


class _Tile:
    """One pod's card: an HTML body redrawn on each refresh, and its kill button."""

    def __init__(self, name, kill):
        self.name = name
        self.html = widgets.HTML()
        self.kill = widgets.Button(description="kill", icon="bolt", button_style="danger",
                                   tooltip=f"SIGKILL {name}: like a node failure, no goodbye",
                                   layout=widgets.Layout(width="auto", margin="6px 0 0 0"))
        self.kill.on_click(lambda _: kill(name))
        self.box = widgets.VBox([self.html, self.kill], layout=widgets.Layout(
            width="176px", margin="4px 8px 4px 0", padding="6px 8px", border="1px solid #d0d7de"))
        self.box.add_class("finpay-tile")

    def show(self, pod, held, state, compact=False):
        """Redraw for ``pod``; ``compact`` (many pods) keeps the numbers, drops the words."""
        colour = COLOURS.get(pod.status, "#555")
        grey = "<span style='color:#555'>{}</span>".format
        if pod.status == "dead":
            memory = [f"<span style='color:{colour}'>process gone:</span>", "its memory is lost"]
        elif held is None:  # starting, stopping or paused: it cannot be asked now
            memory = ["(cannot ask it now)", "&nbsp;"]
        elif state == "redis":
            memory = ["nothing:", "the state is in Redis"] if not compact else ["nothing:", "all in Redis"]
        else:
            n = held["sessions"]
            memory = [f"<b>{n:,}</b> session{'' if n == 1 else 's'}", f"<b>{held['queued_sms']:,}</b> queued SMS"]
        if not compact and pod.status != "dead":
            memory.insert(0, grey("in its memory:"))
        ids = f"pid {pod.pid}"
        if not compact or pod.restarts:
            ids += f" · restarts {pod.restarts}"
        lines = [grey(ids), f"served <b>{pod.served:,}</b>", *memory]
        self.html.value = (
            f"<div style='line-height:1.45;font-size:12px;{'opacity:0.6;' if pod.status == 'dead' else ''}'>"
            "<div style='display:flex;justify-content:space-between;align-items:center'>"
            f"<b style='font-size:{13 if compact else 15}px'>{html.escape(pod.name)}</b>"
            f"<span style='background:{colour};color:white;border-radius:9px;padding:0 7px'>{pod.status}</span>"
            "</div>" + "".join(f"<div>{line}</div>" for line in lines) + "</div>")
        self.box.layout.border_top = f"4px solid {colour}"
        self.box.layout.width = "128px" if compact else "176px"
        self.kill.disabled = pod.status in ("dead", "stopping")  # kill works on a paused pod

    def show_stopped(self):
        """The lab closed: every pod was stopped with it."""
        colour = COLOURS["stopped"]
        self.html.value = (
            "<div style='line-height:1.45;font-size:12px;opacity:0.6'>"
            "<div style='display:flex;justify-content:space-between;align-items:center'>"
            f"<b style='font-size:15px'>{html.escape(self.name)}</b>"
            f"<span style='background:{colour};color:white;border-radius:9px;padding:0 7px'>stopped</span>"
            "</div><div>the lab is closed:</div><div>this process is gone</div></div>")
        self.box.layout.border_top = f"4px solid {colour}"
        self.kill.disabled = True


class _Chart:
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
        ax.legend([self.ok, self.total], ["ok", "failed"], loc="lower right", bbox_to_anchor=(1, 1),
                  fontsize=8, frameon=False, ncols=2, borderaxespad=0.1)
        ax.set_xlim(-WINDOW - BIN, 0)
        ax.set_xlabel("seconds ago", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        self.fig.subplots_adjust(left=0.07, right=0.99, top=0.87, bottom=0.19)

    def png(self, ok, failed, marks, start, now):
        edges = [(start + i) * BIN - now for i in range(len(ok) + 1)]  # seconds before now
        total = [(a + b) / BIN for a, b in zip(ok, failed, strict=True)]
        self.total.set_data(total, edges)
        self.ok.set_data([n / BIN for n in ok], edges)
        for artist in self.marks:
            artist.remove()
        self.marks = []
        for t, label in marks[-4:]:  # a few labels at most, or they pile up unreadably
            x, right = t - now, t - now > -8
            self.marks += [self.ax.axvline(x, color="#333", linestyle="--", linewidth=0.9),
                           self.ax.annotate(label, (x, 0.97), xycoords=("data", "axes fraction"),
                                            xytext=(-3 if right else 3, 0), textcoords="offset points",
                                            ha="right" if right else "left", va="top", fontsize=7.5,
                                            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                                  "alpha": 0.85})]
        recent = max(1, min(len(ok), int(2 / BIN)))  # the last 2 s: what "now" feels like
        self.title.set_text(f"requests per second, last {WINDOW:g} s — now "
                            f"{sum(ok[-recent:]) / (recent * BIN):,.0f} ok/s, "
                            f"{sum(failed[-recent:]) / (recent * BIN):,.0f} failed/s")
        self.ax.set_ylim(0, max(10, max(total, default=0) * 1.3))  # headroom for the labels
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()


def _marks(events):
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


_HINT = "Try it: start the load, kill a pod, then switch to redis and compare the red."
_ONE_LINE = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:12px;"
