"""Checked cells marked by a tag instead of a visible comment: scripts/markers_to_tags.py
converts them, nbval really checks a tagged cell, and the stripped-notebook rule accepts
either form.

`test_notebook_is_stripped_except_checked_cells` below is the version of
tests/test_notebooks_clean.py's test that accepts the tag: once the lessons are converted,
it replaces that one (delete the old test, or change its one `assert keep == ...` line to
`is_checked(cell)`)."""

import copy
import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "markers_to_tags.py"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("markers_to_tags", SCRIPT)
markers_to_tags = importlib.util.module_from_spec(spec)
spec.loader.exec_module(markers_to_tags)


def is_checked(cell):
    """A cell nbval compares under --nbval-lax: the comment or the tag."""
    source = "".join(cell["source"])
    return "# NBVAL_CHECK_OUTPUT" in source or "nbval-check-output" in cell.get("metadata", {}).get(
        "tags", []
    )


def check_stripped(nb):
    assert "widgets" not in nb.get("metadata", {}), "saved widget state"
    checked = 0
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        keep = cell.get("metadata", {}).get("keep_output", False)
        assert keep == is_checked(cell), f"cell {i}: keep_output and the nbval-check-output tag go together"
        if keep:
            checked += 1
            assert cell["outputs"], f"cell {i} is a checked claim but has no committed output"
        else:
            assert not cell["outputs"] and cell["execution_count"] is None, f"cell {i} carries outputs"
    assert checked >= 1, "every lesson checks at least one claim"


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_notebook_is_stripped_except_checked_cells(path):
    check_stripped(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_converting_keeps_every_checked_cell_checked_and_a_second_run_changes_nothing(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    before = copy.deepcopy(nb)
    converted = markers_to_tags.convert(nb)
    assert converted == sum(1 for c in before["cells"] if "# NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    check_stripped(nb)
    for old, new in zip(before["cells"], nb["cells"]):
        assert old["id"] == new["id"] and is_checked(old) == is_checked(new)
        assert "NBVAL_CHECK_OUTPUT" not in "".join(new["source"])
        if old["cell_type"] == "code" and is_checked(old):
            assert new["outputs"] == old["outputs"]
            assert "".join(new["source"]) == "".join(old["source"]).replace("# NBVAL_CHECK_OUTPUT\n", "", 1)
    again = copy.deepcopy(nb)
    assert markers_to_tags.convert(again) == 0 and again == nb


def nbval(notebook, cwd):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(cwd),
            str(notebook),
            "--nbval-lax",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval_sanitize.cfg"),
            "-q",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_nbval_checks_a_tagged_cell_and_fails_when_its_output_differs(tmp_path):
    """The real lesson 00, converted: it passes as it is; with one tagged cell's stored
    output changed, nbval fails that cell (so the tag, not the comment, is what it reads)."""
    (tmp_path / "notebooks").mkdir()
    lesson = tmp_path / "notebooks" / "00_welcome.ipynb"
    lesson.write_text((ROOT / "notebooks" / "00_welcome.ipynb").read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run([sys.executable, str(SCRIPT), str(lesson)], check=True, capture_output=True)
    nb = json.loads(lesson.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert tagged and not any("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in nb["cells"])

    passed = nbval(lesson, tmp_path)
    assert passed.returncode == 0, passed.stdout[-3000:]

    cell = next(c for c in tagged if "value:" in "".join(c["outputs"][0].get("text", "")))
    cell["outputs"][0]["text"] = "".join(cell["outputs"][0]["text"]).replace("value: 6000", "value: 6001")
    lesson.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    failed = nbval(lesson, tmp_path)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "6001" in failed.stdout and "6000" in failed.stdout
    assert "1 failed" in failed.stdout
