"""What the scripts that rewrite the lessons share: which notebooks are the lessons, and the
loop that changes each one, says what it changed, and writes it back (with ``--check``,
only says).

    from _notebooks import rewrite
    todo = rewrite(args.paths, convert, lambda n: f"{n} cell(s) converted", check=args.check)
"""

import json
import pathlib

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def lessons() -> list:
    """Every lesson, in order: notebooks/NN_*.ipynb."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def rewrite(paths, change, says, check=False) -> list:
    """Run ``change(nb)`` on each notebook of ``paths`` (default: every lesson), in place. For
    each it changed (``change`` returned something true), print "<file name>: <``says`` of
    what it returned>" and, unless ``check``, write the notebook back. Returns those paths."""
    todo = []
    for path in paths or lessons():
        nb = json.loads(path.read_text(encoding="utf-8"))
        changed = change(nb)
        if not changed:
            continue
        todo.append(path)
        print(f"{path.name}: {says(changed)}")
        if not check:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return todo
