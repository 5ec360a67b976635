"""Run All of every lesson, as shipped, gives nothing away: no exercise says ✅ (or ❌)
before the learner has answered; each says what to do instead ("Not answered yet").

The lessons run once (tests/course_runs.py), with solutions and readers' pauses slipped in
between their cells; this file reads only the lesson's own cells, which run as shipped.
nbval (make test) also runs each lesson exactly as shipped and checks its claims.
"""

import pathlib
import re

import nbformat
import pytest

from tests.course_runs import LESSONS, NOTEBOOKS, executed, solution_file, text_of

NAMES = [p.name for p in LESSONS]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lesson", NAMES)
def test_run_all_prints_no_verdict_only_not_answered_yet(lesson):
    nb = executed(lesson)
    own = [c for c in nb.cells if "inserted" not in c.metadata]
    checks = 0
    for i, cell in enumerate(own):
        if cell.cell_type != "code":
            continue
        shown = text_of(cell)
        assert "✅" not in shown and "❌" not in shown, f"cell {i} gives a verdict under Run All:\n{shown}"
        if _grades(own, i):
            checks += 1
            assert "Not answered yet" in shown, f"cell {i} should say what to do:\n{shown}"
    assert checks >= 2, "every lesson has exercises"


def _grades(cells, i):
    """Cell ``i`` checks an exercise: a reading check (fl.checks.check) or a grader
    (fl.checks.<name>), which its solution loader follows."""
    nxt = cells[i + 1] if i + 1 < len(cells) else None
    return "fl.checks.check(" in cells[i].source or (nxt is not None and solution_file(nxt) is not None)


@pytest.mark.parametrize("lesson", NAMES)
def test_solutions_are_files_loaded_on_purpose(lesson):
    """No solution code sits in a lesson: each exercise's check is followed by a cell that
    loads its solution only when the learner uncomments the %load line."""
    nb = nbformat.read(NOTEBOOKS / lesson, as_version=4)
    loaders = [solution_file(c) for c in nb.cells if solution_file(c)]
    exercises = [c for i, c in enumerate(nb.cells) if c.cell_type == "code" and _grades(nb.cells, i)]
    assert len(loaders) == len(exercises)
    for path in loaders:
        assert path.is_file(), f"{path} is missing"
        assert path.name.startswith(lesson[:2] + "_exercise_")
    for i, cell in enumerate(nb.cells):
        if solution_file(cell):
            code = [line for line in cell.source.splitlines() if not line.startswith("#")]
            assert not code, f"cell {i}: a loader runs nothing until the learner asks: {code}"
            assert re.search(r"fl\.checks\.\w+\(", nb.cells[i - 1].source), (
                f"cell {i}: a loader follows its check"
            )
        else:
            assert "solution" not in cell.metadata.get("tags", []), f"cell {i}: solution code in the lesson"


def test_every_solution_file_belongs_to_a_lesson():
    named = {
        solution_file(c).name
        for p in LESSONS
        for c in nbformat.read(p, as_version=4).cells
        if solution_file(c)
    }
    on_disk = {p.name for p in (NOTEBOOKS / "solutions").glob("*.py")}
    assert on_disk == named
    assert all(pathlib.Path(NOTEBOOKS / "solutions" / n).read_text(encoding="utf-8").strip() for n in named)


def test_a_prediction_is_shown_beside_the_measurement_without_a_verdict(capsys):
    from finpay_lab import checks

    checks.reveal(None, measured=(1500, 1300))
    checks.reveal((1500, 1800), measured=(1500, 1300))
    shown = capsys.readouterr().out
    assert "No prediction recorded" in shown and "You predicted:     (1500, 1800)" in shown
    assert shown.count("The lab measured: (1500, 1300)") == 2
    assert "✅" not in shown and "❌" not in shown


def test_an_unanswered_check_says_what_to_do_and_where_the_solution_is(capsys):
    from finpay_lab import checks

    assert checks.check(None, 4000, hint="h", name="Exercise 0.1") is False
    shown = capsys.readouterr().out
    assert "Not answered yet" in shown and "Exercise 0.1" in shown and "load a solution" in shown
    assert "✅" not in shown and "❌" not in shown
