"""What a learner meets on the way in: make lab and make test, the README's example, the
exercises' self-checks, and a history that stays small however long the dashboard runs."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

import finpay_lab as fl
from finpay_lab import checks

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- make lab / make test
@pytest.fixture
def course_copy(tmp_path):
    """The Makefile in a scratch folder with the lessons' names, a scratch notebook beside
    them, and a venv make considers set up: ``make -n`` shows what would run."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    installed = tmp_path / ".venv" / "bin" / ".installed"
    installed.parent.mkdir(parents=True)
    installed.touch()  # newer than pyproject.toml: setup has nothing to do
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ["00_welcome", "01_stateless_vs_stateful", "Untitled", "Untitled1", "my_notes"]:
        (notebooks / f"{name}.ipynb").write_text("{}")
    return tmp_path


def make_dry_run(folder, target):
    # Run as a top-level make even under `make test`: a nested make prints "Entering
    # directory '/tmp/pytest-of-…'" lines, which name pytest too.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        ["make", "-n", target], cwd=folder, capture_output=True, text=True, check=True, env=env
    ).stdout


def test_make_test_collects_the_lessons_not_a_scratch_notebook(course_copy):
    pytest_line = next(
        line for line in make_dry_run(course_copy, "test").splitlines() if "bin/pytest" in line
    )
    collected = re.findall(r"notebooks/\S+\.ipynb", pytest_line)
    assert collected == ["notebooks/00_welcome.ipynb", "notebooks/01_stateless_vs_stateful.ipynb"]


def test_the_stripped_notebooks_check_takes_the_lessons_only():
    from tests import test_notebooks_clean

    names = [pathlib.Path(p).name for p in test_notebooks_clean.NOTEBOOKS]
    assert names and all(re.fullmatch(r"\d\d_\w+\.ipynb", n) for n in names)
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_make_lab_opens_the_welcome_lesson(course_copy):
    lab_line = next(line for line in make_dry_run(course_copy, "lab").splitlines() if "jupyter lab" in line)
    # jupyter prints (and opens) the default URL; a file argument would only open the launcher
    assert "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb" in lab_line.split()


# ---------------------------------------------------------------- self-checks
@pytest.mark.parametrize(
    "answer",
    [
        ["Meena", "Anil"],
        ("anil", " MEENA "),
        {"Anil", "Meena"},
        frozenset({"Meena", "Anil"}),
        {"Meena": 1, "Anil": 2}.keys(),
    ],
)
def test_a_set_question_accepts_any_collection_of_the_same_names(answer, capsys):
    assert checks.check(answer, {"Meena", "Anil"}, hint="look at lost_sessions", name="Exercise 3.1")
    assert capsys.readouterr().out.startswith("✅ Right.")


@pytest.mark.parametrize(
    "answer",
    [
        ["Meena"],
        ["Meena", "Anil", "Ravi"],
        ["Meena", "Meena", "Anil"],
        "Meena Anil",
        {"Meena": 1, "Anil": 2},
        2,
    ],
)
def test_a_set_question_still_refuses_other_names(answer, capsys):
    assert not checks.check(answer, {"Meena", "Anil"}, hint="look at lost_sessions")
    out = capsys.readouterr().out
    assert "look at lost_sessions" in out and "✅" not in out


def test_a_list_question_still_compares_in_order(capsys):
    assert checks.check(["Ravi", "meena"], ["ravi", "Meena"], hint="h")
    assert not checks.check(["Meena", "Ravi"], ["Ravi", "Meena"], hint="in order")
    assert "in order" in capsys.readouterr().out


def test_exercise_3_1_following_the_hint_literally_is_right(capsys):
    """The hint says: read lost_sessions, which is a list."""
    source = notebook_code("03_sessions_and_crashes")
    expected = re.search(r'fl\.checks\.check\(answer, (\{[^}]*\}), name="Exercise 3\.1"', source).group(1)
    assert checks.check(["Meena", "Anil"], eval(expected), hint="h", name="Exercise 3.1")


MATRIX = {"Payment API": "database", "Session Management": "redis", "Notification Queue": "kafka"}


def test_the_review_hint_ignores_case_as_the_check_does(capsys):
    answer = {"Payment API": "Database", "session management": " REDIS ", "Notification Queue": "redis"}
    assert checks.to_review(answer, MATRIX) == ["Notification Queue"]
    answer["Notification Queue"] = "Kafka"
    assert checks.to_review(answer, MATRIX) == []
    assert checks.check(answer, MATRIX, hint="h")  # the hint and the verdict agree
    assert checks.to_review(None, MATRIX) == list(MATRIX)  # unanswered: everything to review
    assert checks.to_review({"Payment API": "database"}, MATRIX) == [
        "Session Management",
        "Notification Queue",
    ]


def test_exercise_6_2_uses_the_case_blind_review():
    source = notebook_code("07_externalize_state")
    assert "to_review = fl.checks.to_review(answer, COURSE_MATRIX)" in source
    assert "answer.get(s) != COURSE_MATRIX[s]" not in source


def notebook_code(stem):
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


# ---------------------------------------------------------------- the README, in a kernel
def readme_blocks():
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)


def test_the_readme_example_shows_its_plot_in_a_real_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if shutil.which("redis-server") is None:
        pytest.skip("the README's real-Redis example needs redis-server")
    blocks = readme_blocks()
    assert len(blocks) >= 2 and any("run.plot()" in b for b in blocks)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b) for b in blocks])
    nbclient.NotebookClient(nb, timeout=90, kernel_name="python3", allow_errors=False).execute()
    for cell in nb.cells:
        assert not [o for o in cell.outputs if o.output_type == "error"]
    plotted = next(c for c in nb.cells if "run.plot()" in c.source)
    shown = [o for o in plotted.outputs if o.output_type == "execute_result" and "image/png" in o.data]
    assert shown, f"run.plot() showed no figure: {plotted.outputs}"
    assert "Audit (redis)" in "".join(o.get("text", "") for o in plotted.outputs if o.output_type == "stream")


# ---------------------------------------------------------------- a bounded history
@pytest.fixture
def small_history(monkeypatch):
    """Labs made in this test keep only their newest 20 requests."""
    monkeypatch.setattr(fl.defaults, "HISTORY_KEEP", 20)


def test_the_history_keeps_the_newest_requests_and_says_it_dropped_some(small_history):
    with fl.Lab(pods=2) as lab:
        last = [lab.call("balance", user="Ravi") for _ in range(60)][-1]
        history = lab.history
        assert 20 <= len(history.requests) <= 22  # trimmed to 20 once past 20 + 10%
        assert history.total == len(history) == 60 and history.dropped == 60 - len(history.requests)
        assert history.requests[-1] is last
        notes = [e for e in history.events if e.kind == "trimmed"]
        assert notes and "it keeps the last 20" in notes[-1].detail
        assert f"the oldest {history.dropped} dropped (it keeps the last 20)" in repr(history)


def test_a_run_keeps_every_one_of_its_requests(small_history):
    with fl.Lab(pods=2) as lab:
        lab.call("balance", user="Ravi")
        run = lab.run([("balance", {"user": "Ravi"})] * 100)
        assert len(run.requests) == 100 and run.ok == 100  # 5 times what the history keeps
        assert len({r.id for r in run.requests}) == 100
        assert lab.history.total == 101
        again = lab.run([("balance", {"user": "Meena"})] * 30)  # the history trims before it
        assert len(again.requests) == 30 and {r.params["user"] for r in again.requests} == {"Meena"}
        assert len(lab.history.requests) <= 30 + 22


def test_load_keys_never_repeat_after_the_history_was_trimmed(small_history):
    shape = fl.load.constant(rps=50, seconds=0.5, mix={"pay": 1}, users=4)
    with fl.Lab(pods=2, accounts={"Ravi": 10**6, "Meena": 10**6, "Anil": 10**6, "Kiran": 10**6}) as lab:
        first = lab.run(shape)
        second = lab.run(shape)
        keys = [r.params["key"] for r in first.requests + second.requests]
        assert len(keys) == len(set(keys))
        assert not any(r.value["repeated"] for r in second.requests if r.ok)


def story(lab):
    """Payments on every pod, pod-2's books lost with it, and a session only pod-2 knew."""
    ravi = lab.call("login", user="Ravi", pod="pod-1").value
    meena = lab.call("login", user="Meena", pod="pod-2").value
    for i in range(30):
        lab.call(
            "pay",
            sender="Ravi",
            receiver="Anil",
            amount=10 + i,
            token=ravi["token"],
            key=f"rent-{i}",
            pod=f"pod-{i % 3 + 1}",
        )
    lab.call("whoami", user="Meena", session=meena["session"], pod="pod-3")  # unknown there
    deadline = time.monotonic() + 30  # every SMS out first, so the kill loses books, not SMS
    while len(lab.sms()) < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    lab.kill("pod-2")
    for _ in range(40):  # push everything above out of a 20-request history
        lab.call("balance", user="Ravi", pod="pod-1")
    return lab.audit(wait=5)


def test_the_audit_of_a_trimmed_history_counts_as_if_nothing_was_dropped(monkeypatch):
    with fl.Lab(pods=3, seed=7) as lab:
        whole = story(lab)
    monkeypatch.setattr(fl.defaults, "HISTORY_KEEP", 20)
    with fl.Lab(pods=3, seed=7) as lab:
        trimmed = story(lab)
        assert lab.history.dropped >= 50  # the logins, payments and whoami are all gone
        assert all(r.endpoint == "balance" for r in lab.history.requests)
    assert [p[0] for p in trimmed.lost_payments] == [f"rent-{i}" for i in range(1, 30, 3)]  # pod-2's
    assert trimmed.lost_sessions == ["Meena"]
    assert (trimmed.notifications.enqueued, trimmed.notifications.delivered) == (60, 60)
    assert str(trimmed) == str(whole)
    assert (trimmed.lost_payments, trimmed.wrong_balances, trimmed.money_created, trimmed.notifications) == (
        whole.lost_payments,
        whole.wrong_balances,
        whole.money_created,
        whole.notifications,
    )
