"""The dashboard's pod tiles: one card per pod, and the colours of a pod's statuses.

A tile shows a pod's name, pid, status (colour-coded), requests served, restarts, and what
the pod holds in its own memory (sessions, queued SMS), with a **kill** button (SIGKILL).
"""

import html

import ipywidgets as widgets

COLOURS = {
    "ready": "#2e7d32",
    "busy": "#e69500",
    "starting": "#1e88e5",
    "stopping": "#8a8a8a",
    "dead": "#d32f2f",
    "paused": "#7b1fa2",  # SIGSTOPped by lab.pause/chaos
    "stopped": "#8a8a8a",
}


class Tile:
    """One pod's card: an HTML body redrawn on each refresh, and its kill button."""

    def __init__(self, name, kill):
        self.name = name
        self.html = widgets.HTML()
        self.kill = widgets.Button(
            description="kill",
            icon="bolt",
            button_style="danger",
            tooltip=f"SIGKILL {name}: like a node failure, no goodbye",
            layout=widgets.Layout(width="auto", margin="6px 0 0 0"),
        )
        self.kill.on_click(lambda _: kill(name))
        self.box = widgets.VBox(
            [self.html, self.kill],
            layout=widgets.Layout(
                width="176px", margin="4px 8px 4px 0", padding="6px 8px", border="1px solid #d0d7de"
            ),
        )
        self.box.add_class("finpay-tile")

    def show(self, pod, held, state, compact=False):
        """Redraw for ``pod``; ``compact`` (many pods) keeps the numbers, drops the words."""
        colour = COLOURS.get(pod.status, "#555")
        grey = "<span style='color:#555'>{}</span>".format
        if pod.status == "dead":
            memory = [f"<span style='color:{colour}'>process gone:</span>", "its memory is lost"]
        elif not held:  # starting, stopping, paused or silent ({}): it cannot be asked now
            memory = ["(cannot ask it now)", "&nbsp;"]
        elif state == "redis":
            memory = ["nothing:", "the state is in Redis"] if not compact else ["nothing:", "all in Redis"]
        elif "sessions" in held:  # FinPay's report (App.pod_stats)
            n = held["sessions"]
            memory = [
                f"<b>{n:,}</b> session{'' if n == 1 else 's'}",
                f"<b>{held['queued_sms']:,}</b> queued SMS",
            ]
        else:  # an app that reports nothing of its own: how many keys the pod holds
            n = held.get("keys", 0)
            memory = [f"<b>{n:,}</b> key{'' if n == 1 else 's'}", "&nbsp;"]
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
            "</div>" + "".join(f"<div>{line}</div>" for line in lines) + "</div>"
        )
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
            "</div><div>the lab is closed:</div><div>this process is gone</div></div>"
        )
        self.box.layout.border_top = f"4px solid {colour}"
        self.kill.disabled = True
