"""Every solution passes its check, and can be run a second time.

Each lesson runs once (tests/course_runs.py) with every solution file's code slipped in
right after its loader, twice in a row, in the kernel the lesson built up to that point:
the state a learner has when they load it.
"""

import pytest

from tests.course_runs import LESSONS, executed, text_of

NAMES = [p.name for p in LESSONS]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lesson", NAMES)
def test_every_solution_passes_its_check_twice(lesson):
    nb = executed(lesson)
    runs = [c for c in nb.cells if c.metadata.get("inserted", "").startswith("solution run")]
    assert runs, "the lesson has exercises"
    for cell in runs:
        shown = text_of(cell)
        where = f"{cell.metadata['solution']} ({cell.metadata['inserted']})"
        assert "Traceback" not in shown, f"{where} failed:\n{shown}"
        assert "✅" in shown and "❌" not in shown, f"{where} does not pass its check:\n{shown}"
    assert [c.metadata["inserted"] for c in runs] == ["solution run 1", "solution run 2"] * (len(runs) // 2)
