"""One execution of a lesson that three test files read: Run All as shipped, every solution
passing its check (twice), and reading speed changing no checked claim.

Each lesson runs once, in a Jupyter kernel as nbval runs it (nbclient), with two kinds of
cell slipped in between the lesson's own cells, which run exactly as shipped:

* after each exercise's solution loader, the solution file's code, **twice**: the first run
  proves it passes its check, the second that it can be run again;
* before each of the lesson's code cells, a **reader's pause**: it waits until every open
  lab has nothing left to do in the background (no SMS queued in a live pod, none waiting
  or pending in a Redis stream, no crashed pod still to be restarted, no rollout or pod
  removal still under way) and every open ``fl.StatefulSet`` has nothing left to
  replicate (each running replica not cut off on purpose has caught up with its primary),
  up to 60 s. Time spent reading changes a lab only through that background work, so once
  it has all happened a longer pause changes nothing: this stands for a reader who stops
  for as long as it takes, at every cell. (Lesson 04 as it was, with its 42 queued SMS at
  1 s each, waits ~42 s here and then shows "0 of 42 lost": the claim that failed for slow
  readers.)

The inserted cells carry ``metadata["inserted"]``; everything else is the lesson's own.
"""

import copy
import functools
import pathlib
import re

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
LOAD = re.compile(r"^# %load (solutions/\S+\.py)$", re.M)
READER_CAP = 60.0  # seconds: the longest a reader's pause waits for the lab to settle

READER_PAUSE = f'''\
def _reader_pause(cap={READER_CAP}):
    """Wait until no open lab has background work left (see tests/course_runs.py)."""
    import time as _time

    import redis as _redis

    import finpay_lab as _fl

    def quiet(lab):
        if lab.closed:
            return True
        pods = lab.pods  # (reading them moves the lab's loop on, as the reader's next call would)
        if lab.rolling_out is not None or getattr(getattr(lab, "_loop", None), "tickers", ()):
            return False  # a rollout or a pod's removal (draining, propagation, preStop) is still going
        if lab.restart and any(p.status == "dead" for p in pods):
            return False  # a crashed pod will be back: wait for it
        if lab.gateway is None or not any(p.status in ("ready", "busy") for p in pods):
            return True  # no SMS in this app, or nobody left to send them
        if lab.state == "memory":
            return all(lab.pod_stats(p.name).get("queued_sms", 0) == 0 for p in pods if p.status in ("ready", "busy"))
        r = _redis.Redis.from_url(lab.redis_url, decode_responses=True)
        try:
            if not r.exists("sms:queue"):
                return True
            pending = r.xpending("sms:queue", "workers")["pending"]
            sent = {{a["id"] for a in lab.gateway.attempts()}}
            return pending == 0 and len(sent) >= r.xlen("sms:queue")
        finally:
            r.close()

    def caught_up(store):  # a StatefulSet: replication has nothing left to copy
        if store.url is None:
            return True
        running = [p for p in store.pods if p.status == "running"]
        primary = next((p for p in running if p.role == "primary"), None)
        if primary is None:
            return True  # its primary is dead and not failed over: nothing replicates
        return all(p.link == "up" and p.offset == primary.offset
                   for p in running if p.role == "replica" and not p.paused)

    deadline = _time.monotonic() + cap
    while _time.monotonic() < deadline:
        found = list(globals().values())
        labs = [v for v in found if isinstance(v, _fl.Lab)]
        stores = [v for v in found if isinstance(v, _fl.StatefulSet)]
        if all(quiet(lab) for lab in labs) and all(caught_up(store) for store in stores):
            return
        _time.sleep(0.1)


_reader_pause()
'''


def solution_file(cell) -> pathlib.Path | None:
    """The solution a loader cell names, or None for any other cell."""
    if cell.cell_type != "code" or "solution-loader" not in cell.metadata.get("tags", []):
        return None
    found = LOAD.search(cell.source)
    assert found, f"a solution loader without '# %load solutions/...': {cell.source!r}"
    return NOTEBOOKS / found.group(1)


def _inserted(source, kind, solution=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["inserted"] = kind
    if solution:
        cell.metadata["solution"] = solution
    return cell


@functools.cache
def executed(lesson: str):
    """The lesson (a file name in notebooks/), executed with solutions and reader's pauses
    slipped in. Returns the executed notebook; cached, so each lesson runs once per session."""
    nb = nbformat.read(NOTEBOOKS / lesson, as_version=4)
    cells = []
    for cell in nb.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cells.append(_inserted(READER_PAUSE, "pause"))
        cells.append(cell)
        path = solution_file(cell)
        if path is not None:
            for run in (1, 2):
                cells.append(_inserted(path.read_text(encoding="utf-8"), f"solution run {run}", path.name))
    nb.cells = cells
    # the kernel starts in notebooks/, as JupyterLab and nbval start it, so %load paths work
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


def text_of(cell) -> str:
    """What a cell showed, as text: streams, plain-text results and errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out["output_type"] == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "".join(parts)


def sanitized(text: str) -> str:
    """``text`` through the same replacements nbval applies (tests/nbval_sanitize.cfg)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "tests" / "nbval_sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def committed(lesson: str) -> list:
    """The lesson's cells as committed, for its checked cells' expected outputs."""
    return nbformat.read(NOTEBOOKS / lesson, as_version=4).cells
