"""Loose ends of the runtime: an app's lab-start hooks as a decorator and in a served
deployment (``serve --init``), the runner's seam to the autoscaler, a rollout's wait under
the lab's lock. Real pods, a real redis-server, real threads."""

import pytest

import finpay_lab as fl


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
