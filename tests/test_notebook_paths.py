"""The course points at real code: every ``finpay_lab/...py`` a lesson names exists, and so
does the class or function it tells learners to look for there."""

import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
PATH = re.compile(r"finpay_lab/[\w/]+\.py")
# "look for `RedisLedger` in `finpay_lab/services/ledger.py`": a name, then its file
NAME_IN_PATH = re.compile(r"`(\w+)`,?\s+in\s+`(finpay_lab/[\w/]+\.py)`")


def _texts():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            yield notebook.name, "".join(cell["source"])


def test_every_module_path_a_lesson_names_exists():
    named = [(nb, path) for nb, text in _texts() for path in PATH.findall(text)]
    assert named, "no lesson names a module path: update this test"
    assert [(nb, path) for nb, path in named if not (ROOT / path).is_file()] == []


def test_what_a_lesson_says_to_look_for_is_in_that_file():
    pointers = [(nb, name, path) for nb, text in _texts() for name, path in NAME_IN_PATH.findall(text)]
    assert any(name == "RedisLedger" for _, name, _ in pointers)  # lesson 07: the payment's script
    missing = [
        (nb, name, path)
        for nb, name, path in pointers
        if not re.search(rf"\b(class|def)\s+{name}\b", (ROOT / path).read_text(encoding="utf-8"))
    ]
    assert missing == []
