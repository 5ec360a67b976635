"""Committed notebooks carry no outputs or widget state, except the checked claims."""

import glob
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The lessons only: a scratch notebook a learner made in JupyterLab (Untitled.ipynb) is theirs.
NOTEBOOKS = sorted(glob.glob(str(ROOT / "notebooks" / "[0-9][0-9]_*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[pathlib.Path(p).name for p in NOTEBOOKS])
def test_notebook_is_stripped_except_checked_cells(path):
    nb = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    assert "widgets" not in nb.get("metadata", {}), "saved widget state"
    checked = 0
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        keep = cell.get("metadata", {}).get("keep_output", False)
        tagged = "nbval-check-output" in cell.get("metadata", {}).get("tags", [])
        assert keep == tagged, f"cell {i}: keep_output and the nbval-check-output tag go together"
        assert "NBVAL_CHECK_OUTPUT" not in source, f"cell {i}: a checked cell is tagged, not commented"
        if keep:
            checked += 1
            assert cell["outputs"], f"cell {i} is a checked claim but has no committed output"
        else:
            assert not cell["outputs"] and cell["execution_count"] is None, f"cell {i} carries outputs"
    assert checked >= 1, "every lesson checks at least one claim"


def test_the_course_has_its_lessons_in_order():
    names = [pathlib.Path(p).stem for p in NOTEBOOKS]
    assert names == [
        "00_welcome",
        "01_stateless_vs_stateful",
        "02_pods_and_load_balancing",
        "03_sessions_and_crashes",
        "04_notification_queue",
        "05_salary_day",
        "06_databases_and_caches",
        "07_externalize_state",
        "08_deploys_and_statefulsets",
        "09_capstone",
    ]
