"""Loose ends of the runtime: an app's lab-start hooks as a decorator and in a served
deployment (``serve --init``), the runner's seam to the autoscaler, a rollout's wait under
the lab's lock. Real pods, a real redis-server, real threads."""

import os
import subprocess
import sys

import pytest
import redis as redis_py

import finpay_lab as fl
from finpay_lab import serve, serve_pod

from .conftest import needs_redis_server
from .test_serve import GUARD, _notebook_app, redis_url, servers  # noqa: F401 - fixtures


# ---------------------------------------------------------------- 1. @app.lab_start
def test_lab_start_registers_a_hook_the_lab_runs_once_before_its_pods():
    app = fl.App("ledgerless")
    seen = []

    @app.lab_start
    def make_table(lab):
        seen.append((lab.state, len(lab._pods)))  # before any pod starts
        lab.sql("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")

    assert make_table.__name__ == "make_table"  # the decorator gives the function back
    assert app.on_lab_start == [make_table]  # the public list, as an app may also set it

    @app.endpoint
    def note(state, db, text: str):
        db.execute("INSERT INTO notes (text) VALUES (:text)", text=text)
        return db.query("SELECT COUNT(*) AS n FROM notes")[0]["n"]

    with fl.Lab(pods=2, app=app, db="sqlite") as lab:
        assert lab.call("note", text="hello").value == 1
        assert seen == [("memory", 0)]
        lab.switch_state("redis")  # the hooks run again: the store changed
        assert [s for s, _ in seen] == ["memory", "redis"]


def test_lab_start_keeps_a_list_set_by_hand_and_refuses_what_is_not_a_function():
    app = fl.App("hand-set")
    first = lambda lab: None  # noqa: E731
    app.on_lab_start = [first]  # the old way still works, and the decorator adds to it

    @app.lab_start
    def second(lab):
        pass

    assert app.on_lab_start == [first, second]
    with pytest.raises(TypeError, match="a lab-start hook must be a function"):
        app.lab_start("make_books")
    assert app.on_lab_start == [first, second]  # refused: nothing changed


# ---------------------------------------------------------------- 2. serve --init
def _init(app="finpay_lab.finpay:app", cwd=None, **env):
    """``python -m finpay_lab.serve --init`` with the given stores: (exit code, stdout, stderr)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "finpay_lab.serve", "--app", app, "--init"],
        capture_output=True,
        text=True,
        timeout=GUARD,
        cwd=cwd,
        env={**environ, **env},
    )
    return done.returncode, done.stdout, done.stderr


def _keys(url):
    client = redis_py.Redis.from_url(url, decode_responses=True)
    try:
        return {k: client.get(k) for k in client.scan_iter(count=1000) if client.type(k) == "string"}
    finally:
        client.close()


@pytest.mark.real_redis
@needs_redis_server
def test_serve_init_leaves_a_served_redis_as_a_lab_s_start_leaves_it(servers, redis_url):  # noqa: F811
    """The FinPay books in a served Redis: a lab's start hook opens them afresh; a pod only
    adds what is missing. ``--init`` runs the lab's hook, once, outside every pod."""
    with fl.Lab(pods=1, state="redis", redis=redis_url) as lab:  # what a lab's start leaves
        opened = {k: v for k, v in _keys(redis_url).items() if k.startswith("balance:")}
        assert opened and lab.call("balance", user="Ravi").value == 20_000
    pod = servers("pod-a", redis_url)  # yesterday's deployment: a payment, a session
    pod.wait_ready()
    token = pod.post("login", user="Ravi")[1]["value"]["token"]
    assert pod.post("pay", sender="Ravi", receiver="Meena", amount=700, token=token)[0] == 200
    pod.stop()
    assert _keys(redis_url)["balance:Ravi"] != opened["balance:Ravi"]
    assert any(k.startswith("session:") for k in _keys(redis_url))

    code, out, err = _init(REDIS_URL=redis_url)

    assert code == 0, err
    assert "ran open_shared_books" in out and "ran open_sql_books" in out
    after = _keys(redis_url)
    assert {k: v for k, v in after.items() if k.startswith("balance:")} == opened  # the lab's opening
    assert not [k for k in after if k.startswith(("session:", "payment:", "ledger:", "active:"))]
    again = servers("pod-b", redis_url)
    again.wait_ready()
    assert again.post("balance", user="Ravi")[1]["value"] == 20_000
    assert "a pod never runs them: `python -m finpay_lab.serve --init` does" in "".join(again.stderr)


BOOKS_APP = """
app = fl.App("notes")

@app.lab_start
def make_books(lab):
    lab.sql("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    lab.sql("INSERT INTO notes (text) VALUES (:text)", text=f"opened on {lab.state}")
    lab.record_event(None, "books", "the notes table is made")

@app.endpoint
def notes(state, db):
    return [r["text"] for r in db.query("SELECT text FROM notes ORDER BY id")]
"""


def test_serve_init_makes_the_tables_a_lab_start_hook_makes(servers, tmp_path):  # noqa: F811
    """An app whose only books are what its lab-start hook makes: served without the
    hook, every request fails; after ``--init``, it answers as in a lab."""
    app = _notebook_app(BOOKS_APP)
    with fl.Lab(pods=1, app=app, db="sqlite") as lab:
        in_a_lab = lab.call("notes").value
    assert in_a_lab == ["opened on memory"]
    serve.export(app, tmp_path / "notes.py")
    url = f"sqlite:///{tmp_path}/books.db"
    pod = servers("pod-a", args=("--app", "notes:app"), cwd=tmp_path, env={"DATABASE_URL": url})
    pod.wait_ready()
    status, reply = pod.post("notes")
    assert status == 500 and "no such table: notes" in reply["error"]  # the hook never ran

    code, out, err = _init("notes:app", cwd=tmp_path, DATABASE_URL=url)

    assert code == 0, err
    assert "ran make_books" in out and "books the notes table is made" in out
    assert pod.post("notes") == (200, {"ok": True, "value": in_a_lab, "error": None, "pod": "pod-a"})


def test_serve_init_says_which_hook_failed_and_why(tmp_path):
    app = _notebook_app("""
app = fl.App("needy")

@app.lab_start
def count_pods(lab):
    return len(lab.pods)

@app.lab_start
def make_books(lab):
    lab.sql("CREATE TABLE t (x INTEGER)")
""")
    serve.export(app, tmp_path / "needy.py")
    code, out, err = _init("needy:app", cwd=tmp_path)
    assert code == 1
    assert "the lab-start hook count_pods of needy failed: AttributeError: lab.pods: a served init" in err
    assert "ran" not in out  # the first hook failed: nothing after it ran
    app.on_lab_start.pop(0)
    serve.export(app, tmp_path / "needy.py")
    code, out, err = _init("needy:app", cwd=tmp_path)
    assert (
        code == 1
        and "make_books of needy failed: LabError: a lab-start hook ran lab.sql, but no DATABASE_URL" in err
    )


def test_serve_init_waits_for_its_stores_then_says_they_never_answered():
    from finpay_lab.stores.redis_real import free_port

    app = fl.App("waits")
    app.lab_start(lambda lab: None)
    with pytest.raises(fl.LabError, match="the stores did not answer within 0.3 s: ConnectionError"):
        serve_pod.init(
            app, redis_url=f"redis://127.0.0.1:{free_port()}/0", timeout=0.3, say=lambda line: None
        )


# ---------------------------------------------------------------- 3. the runner's seam to the HPA
def _private_reaches_by_name(path):
    """``getattr(lab, "_x")`` / ``hasattr(self.lab, "_x")``: a private reach test_layers.py's
    attribute scan cannot see, because the name is a string."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2):
            continue
        owner, name = node.args[0], node.args[1]
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if (
            node.func.id in ("getattr", "hasattr", "setattr")
            and owner_name.endswith("lab")
            and isinstance(name, ast.Constant)
            and str(name.value).startswith("_")
            and not str(name.value).startswith("__")
        ):
            found.append(f"{path.name}:{node.lineno} {node.func.id}({owner_name}, {name.value!r})")
    return found


def test_no_module_but_the_lab_reaches_its_private_parts_by_name():
    import pathlib

    package = pathlib.Path(fl.__file__).parent
    reaches = [
        r
        for path in sorted(package.rglob("*.py"))
        if path != package / "runtime" / "lab.py"
        for r in _private_reaches_by_name(path)
    ]
    assert reaches == []


def test_a_run_ticks_the_hpa_the_lab_hands_its_runner():
    """The seam in use: a run under load scales a lab with an HPA (and one without it stays put)."""
    app = fl.App("busy")

    @app.endpoint
    def work(state):
        import time

        time.sleep(0.02)  # a pod serves 50 a second at most: 100 a second needs more pods
        return "done"

    hpa = fl.HPA(min=1, max=3, target=0.5, period=0.2, scale_down_window=60)
    load = [(i / 100, "work", {}) for i in range(150)]  # 1.5 s of 100 requests a second
    with fl.Lab(pods=1, app=app, autoscaler=hpa) as lab:
        lab.run(load)
        assert any(d.desired > 1 for d in hpa.decisions)
        assert [e for e in lab.history.events if e.kind == "autoscaled"]
    with fl.Lab(pods=1, app=app) as lab:
        lab.run(load)
        assert len(lab.pods) == 1


# ---------------------------------------------------------------- 4. waiting for a rollout, under the lab's lock
def _watch_pumps(lab):
    """Wrap the lab's ``Loop.pump``: note every pump run without the lab's lock, and every
    moment two threads pumped at once."""
    import threading

    loop, original = lab._loop, lab._loop.pump
    seen = {"unlocked": [], "overlaps": 0, "inside": 0, "pumps": 0}
    guard = threading.Lock()

    def pump(timeout):
        with guard:
            seen["pumps"] += 1
            seen["inside"] += 1
            seen["overlaps"] += seen["inside"] > 1
            if not lab._lock._is_owned():
                seen["unlocked"].append(threading.current_thread().name)
        try:
            return original(timeout)
        finally:
            with guard:
                seen["inside"] -= 1

    loop.pump = pump
    return seen


def test_rollout_wait_drives_the_loop_under_the_lab_s_lock_while_another_thread_calls():
    """``lab.rollout(wait=False)``, then ``.wait()`` from the notebook while the dashboard's
    thread sends a request: the two take turns at the lab's lock, never pump at once."""
    import threading

    app = fl.App("slow-start", startup_delay=0.3)  # each new pod is ready 0.3 s after it starts

    @app.endpoint
    def ping(state):
        return "pong"

    with fl.Lab(pods=2, app=app) as lab:
        seen = _watch_pumps(lab)
        rollout = lab.rollout(wait=False)
        waiting, answers = threading.Event(), []

        def dashboard():  # starts once the notebook's thread is inside wait()
            if waiting.wait(GUARD):
                answers.append(lab.call("ping"))

        other = threading.Thread(target=dashboard, name="dashboard")
        other.start()
        original = lab._loop.wait_for

        def wait_for(predicate, timeout):  # the notebook's thread has begun to wait: let the call go
            waiting.set()
            return original(predicate, timeout)

        lab._loop.wait_for = wait_for
        try:
            assert rollout.wait() is rollout
        finally:
            waiting.set()
            other.join(GUARD)
        assert rollout.done and rollout.error is None
        assert [a.ok for a in answers] == [True]
        assert seen["pumps"] > 0 and seen["unlocked"] == [] and seen["overlaps"] == 0
        assert [p.name for p in lab.pods] == ["pod-3", "pod-4"]


def test_a_removal_waited_for_later_drives_the_loop_under_the_lab_s_lock():
    with fl.Lab(pods=2) as lab:
        seen = _watch_pumps(lab)
        removal = lab.remove("pod-1", how="kubernetes", propagation=0.1, wait=False)
        assert removal.wait().pod == "pod-1"
        assert seen["pumps"] > 0 and seen["unlocked"] == []


# ---------------------------------------------------------------- 5. the embedded Redis comes back by a fork
def test_a_crashed_embedded_redis_is_forked_again_by_the_same_helper():
    """The helper imported fakeredis once; a crash SIGKILLs the server it forked and forks
    another (no new interpreter to start). Keys die with the old server; the helper's
    pid stays, the server's changes."""
    import psutil

    from finpay_lab.stores.redis_server import RedisServer
    from finpay_lab.stores.state import redis_client

    from .conftest import gone

    server = RedisServer("fake").start()
    try:
        helper, holder = server.process.pid, server.pid
        assert holder != helper and psutil.Process(holder).ppid() == helper
        client = redis_client(server.url)
        client.set("session:abc", "Ravi")
        server.slow(0.001)
        assert server.crash() == server.pid != holder
        assert gone(holder) and server.process.pid == helper
        assert psutil.Process(server.pid).ppid() == helper  # forked by the same helper
        assert client.get("session:abc") is None  # it came back empty
        server.down()  # the new server takes the helper's commands as the old one did
        with pytest.raises(redis_py.ConnectionError):
            redis_client(server.url).ping()
        server.up()
        client.set("k", "v")
        assert redis_client(server.url).get("k") == "v"
        psutil.Process(helper).kill()  # the helper killed: its server ends by itself
        assert gone(helper) and gone(server.pid)
        server.crash()  # and a crash then starts a new helper, with a new server
        assert server.process.pid != helper and redis_client(server.url).ping()
    finally:
        server.stop()
    assert gone(holder)
