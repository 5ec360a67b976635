"""The live dashboard, driven from Python: tiles follow the lab, buttons act on it,
the load thread sends requests, and no thread outlives the widget or the lab."""

import html
import re
import threading
import time

import psutil
import pytest

import finpay_lab as fl
from finpay_lab.views.live import Dashboard

from .helpers import wait_until


def text(html_widget):
    """What a learner reads in an HTML widget: tags stripped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_widget.value)).split())


@pytest.fixture
def lab():
    with fl.Lab(pods=3) as lab:
        yield lab


@pytest.fixture
def board(lab):
    board = fl.dashboard(lab)
    yield board
    board.close()
    assert not board.refresh_thread.is_alive()


def test_dashboard_is_the_widget_and_checks_its_input(lab):
    with pytest.raises(fl.BadInput, match="fl.Lab"):
        fl.dashboard("not a lab")
    with pytest.raises(fl.BadInput, match="refresh"):
        fl.dashboard(lab, refresh=0)
    board = fl.dashboard(lab, refresh=1)
    try:
        assert isinstance(board, Dashboard)
        assert board.refresh_thread.daemon
    finally:
        board.close()


def test_tiles_match_the_pods(lab, board):
    board.refresh()
    pods = lab.pods
    assert list(board.tiles) == [p.name for p in pods] == ["pod-1", "pod-2", "pod-3"]
    for pod in pods:
        tile = text(board.tiles[pod.name].html)
        assert tile.startswith(f"{pod.name} {pod.status} pid {pod.pid} ")
        assert (
            "restarts 0" in tile and "served 0" in tile and "in its memory: 0 sessions 0 queued SMS" in tile
        )
    assert "3 pods: 3 ready" in text(board.header)
    assert "state: memory each pod remembers on its own" in text(board.state_info)


def test_tiles_count_what_each_pod_holds(lab, board):
    lab.call("login", user="Ravi", pod="pod-3")
    board.refresh()
    assert "served 1" in text(board.tiles["pod-3"].html)
    assert "1 session 0 queued" in text(board.tiles["pod-3"].html)
    assert "0 sessions" in text(board.tiles["pod-1"].html)


def test_kill_button_kills_the_pod(lab, board):
    pid = lab.pods[1].pid
    board.tiles["pod-2"].kill.click()
    assert [p.status for p in lab.pods] == ["ready", "dead", "ready"]
    assert not psutil.pid_exists(pid)  # killed and reaped
    tile = text(board.tiles["pod-2"].html)
    assert "dead" in tile and "memory is lost" in tile
    assert board.tiles["pod-2"].kill.disabled
    assert "pod-2 killed with SIGKILL" in text(board.status)
    assert "pod-2 killed" in text(board.status)  # the event line


def test_a_failed_click_is_shown_not_lost(lab, board):
    board.tiles["pod-1"].kill.click()
    board.tiles["pod-1"].kill.click()  # a disabled button can still be clicked from Python
    assert "kill pod-1 failed: BadInput: pod-1 is already dead" in text(board.status)


def test_add_and_remove_pod_buttons(lab, board):
    board.add_button.click()
    assert len(lab.pods) == len(board.tiles) == 4
    assert len(board.tile_box.children) == 4
    assert "scaled 3 → 4 pods" in text(board.status)
    board.remove_button.click()
    board.remove_button.click()
    assert len(lab.pods) == len(board.tiles) == 2
    assert "pod-4" not in board.tiles


def test_remove_when_no_pods_left_says_so(lab, board):
    lab.scale(0)
    board.remove_button.click()
    assert "no pods left to remove" in text(board.status)
    assert board.tiles == {}


def test_load_sends_requests_and_moves_the_chart(lab, board):
    before, chart = len(lab.history.requests), board.chart.value
    board.rate.value = 200
    board.load_button.value = True
    assert board.load_button.description == "stop load"
    time.sleep(1.2)
    assert len(lab.history.requests) - before > 100  # ~200/s for ~1 s
    assert {r.endpoint for r in lab.history.requests} >= {"login", "whoami", "update_balance"}
    assert wait_until(lambda: board.chart.value != chart, timeout=2)
    assert bytes(board.chart.value).startswith(b"\x89PNG")
    board.load_button.value = False
    assert wait_until(lambda: board.load_thread is None, timeout=2)
    settled = len(lab.history.requests)
    time.sleep(0.3)
    assert len(lab.history.requests) == settled


def test_the_chart_is_live_during_a_long_run_of_the_notebook(lab, board):
    """A notebook's lab.run holds the lab for seconds; the chart keeps moving meanwhile."""
    workload = [(i / 200, "add_balance", {"user": "Ravi", "amount": 5}) for i in range(600)]  # 3 s
    runner = threading.Thread(target=lab.run, args=(workload,))
    charts = set()
    runner.start()
    while runner.is_alive():
        charts.add(bytes(board.chart.value))
        time.sleep(0.1)
    runner.join()
    assert len(charts) >= 3  # redrawn several times while the run held the lab


def test_clicks_take_turns_with_the_load(lab, board):
    board.load_button.value = True
    time.sleep(0.3)
    began = time.monotonic()
    board.tiles["pod-3"].kill.click()
    # waited for a short load batch, not for a 10 s call timeout (bound kept loose: shared CI)
    assert time.monotonic() - began < 5
    assert lab.pods[2].status == "dead"
    board.load_button.value = False


def test_switch_state_restarts_every_pod(lab, board):
    old = {p.pid for p in lab.pods}
    assert board.state_button.description == "switch to redis (restarts every pod)"
    board.state_button.click()
    assert lab.state == "redis"
    assert not old & {p.pid for p in lab.pods}
    assert list(board.tiles) == [p.name for p in lab.pods]
    assert "state: redis" in text(board.state_info)
    assert "in its memory: nothing: the state is in Redis" in text(next(iter(board.tiles.values())).html)
    assert "every pod was restarted" in text(board.status)
    assert board.state_button.description == "switch to memory (restarts every pod)"


def test_closing_the_widget_stops_its_threads(lab):
    board = fl.dashboard(lab)
    board.load_button.value = True
    time.sleep(0.3)
    began = time.monotonic()
    board.close()
    assert time.monotonic() - began < 5  # stops promptly, never hangs
    assert not board.refresh_thread.is_alive()
    assert board.load_thread is None or not board.load_thread.is_alive()
    settled = len(lab.history.requests)
    time.sleep(0.3)
    assert len(lab.history.requests) == settled


def test_closing_the_lab_stops_its_threads():
    with fl.Lab(pods=2) as lab:
        board = fl.dashboard(lab)
        board.load_button.value = True
        time.sleep(0.3)
    assert wait_until(lambda: not board.refresh_thread.is_alive(), timeout=5)
    assert wait_until(lambda: board.load_thread is None, timeout=5)
    assert "this lab is closed" in text(board.header)
    assert board.add_button.disabled and board.load_button.disabled
    # the toggle and the tiles tell the truth: nothing loads, every pod is stopped
    assert not board.load_button.value and board.load_button.description == "start load"
    assert [text(t.html).split()[:2] for t in board.tiles.values()] == [
        ["pod-1", "stopped"],
        ["pod-2", "stopped"],
    ]
    assert all(t.kill.disabled for t in board.tiles.values())
    board.close()  # still fine afterwards


def test_a_paused_pod_is_shown_and_never_waited_for(lab, board):
    lab.pause("pod-2")  # SIGSTOP: it would never answer a question about its memory
    began = time.monotonic()
    board.refresh()
    assert time.monotonic() - began < 5  # a paused pod is not asked (it would take 10 s)
    assert text(board.tiles["pod-2"].html).startswith("pod-2 paused")
    assert "1 paused" in text(board.header)
    lab.resume("pod-2")
    board.refresh()
    assert text(board.tiles["pod-2"].html).startswith("pod-2 ready")


def test_many_pods_get_compact_tiles(lab, board):
    assert board.tiles["pod-1"].box.layout.width == "176px"
    lab.scale(9)
    board.refresh()
    assert len(board.tile_box.children) == 9
    assert {t.box.layout.width for t in board.tiles.values()} == {"128px"}
    assert "restarts" not in text(board.tiles["pod-9"].html)  # words dropped, numbers kept


def test_load_needs_an_app_with_finpay_endpoints():
    app = fl.App("pinger")

    @app.endpoint
    def ping(state):
        return "pong"

    with fl.Lab(pods=1, app=app) as lab:
        board = fl.dashboard(lab)
        try:
            board.load_button.value = True
            assert wait_until(lambda: board.load_thread is None, timeout=2)
            assert not board.load_button.value
            board.refresh()
            assert "the app 'pinger' has none of them" in text(board.status)
        finally:
            board.close()


def dashboard_threads():
    return [t for t in threading.enumerate() if t.name.startswith("finpay-dashboard")]


def test_a_new_dashboard_of_the_lab_takes_over_from_the_old_one(lab):
    """Re-running the cell (or reloading the page) makes a new dashboard: the old one's load
    must not go on sending requests that no button on screen can stop."""
    old = fl.dashboard(lab)
    old.rate.value = 200
    old.load_button.value = True
    assert wait_until(lambda: len(lab.history.requests) > 20)
    old_load = old.load_thread
    assert old_load.is_alive()

    new = fl.dashboard(lab)
    try:
        assert not old_load.is_alive() and not old.refresh_thread.is_alive()
        assert dashboard_threads() == [new.refresh_thread]
        assert "replaced by a newer dashboard" in text(old.header)
        assert not old.load_button.value and old.load_button.description == "start load"
        assert old.load_button.disabled and old.add_button.disabled and old.tiles["pod-1"].kill.disabled
        assert not new.load_button.value and new.load_button.description == "start load"
        settled = len(lab.history.requests)
        time.sleep(0.5)
        assert len(lab.history.requests) == settled  # nothing loads the lab any more

        old.load_button.value = True  # the old board's toggle, pressed from Python anyway
        assert not old.load_button.value and old.load_thread is None

        new.load_button.value = True  # the new board's load works, and stops
        assert wait_until(lambda: len(lab.history.requests) > settled + 20)
        new.load_button.value = False
        assert wait_until(lambda: new.load_thread is None)
        settled = len(lab.history.requests)
        time.sleep(0.3)
        assert len(lab.history.requests) == settled
    finally:
        new.close()
        old.close()
    assert dashboard_threads() == []


def test_showing_the_dashboard_again_and_again_leaves_one_live(lab):
    boards = []
    for _ in range(5):
        boards.append(fl.dashboard(lab))
        boards[-1].load_button.value = True
    try:
        time.sleep(0.3)
        assert dashboard_threads() == [boards[-1].refresh_thread, boards[-1].load_thread]
        assert [b.load_button.value for b in boards] == [False] * 4 + [True]
    finally:
        for board in boards:
            board.close()
    assert dashboard_threads() == []


def test_a_dashboard_of_another_lab_is_left_alone(lab):
    board = fl.dashboard(lab)
    with fl.Lab(pods=1) as other:
        elsewhere = fl.dashboard(other)
        try:
            assert board.refresh_thread.is_alive() and elsewhere.refresh_thread.is_alive()
        finally:
            elsewhere.close()
    board.close()


def test_the_load_toggle_follows_a_load_that_stopped_by_itself(lab, board):
    board.load_button.value = True
    assert wait_until(lambda: board.load_thread is not None and board.load_thread.is_alive())
    board._load_on.clear()  # the load ends without a click (as when a batch fails)
    assert wait_until(lambda: board.load_thread is None)
    board.refresh()
    assert not board.load_button.value and board.load_button.description == "start load"


def test_the_dashboard_runs_on_a_history_that_trims_itself(monkeypatch):
    monkeypatch.setattr(fl.defaults, "HISTORY_KEEP", 50)
    with fl.Lab(pods=2) as lab:
        board = fl.dashboard(lab)
        try:
            board.rate.value = 300
            board.load_button.value = True
            assert wait_until(lambda: lab.history.dropped > 200)
            board.load_button.value = False
            assert wait_until(lambda: board.load_thread is None)
            board.refresh()
            assert len(lab.history.requests) <= 50 + 5 + 75  # the cap, its 10%, one batch held
            assert "failed" not in text(board.status).split("latest events")[0]
            assert "left the history" in text(board.status)  # the trimmed event, in plain words
            assert bytes(board.chart.value).startswith(b"\x89PNG")
        finally:
            board.close()
