"""Turn the visible ``# NBVAL_CHECK_OUTPUT`` comment of checked cells into a cell tag.

    python scripts/markers_to_tags.py                    # every lesson, rewritten in place
    python scripts/markers_to_tags.py notebooks/03_*.ipynb
    python scripts/markers_to_tags.py --check            # exit 1 if a lesson still has a comment

nbval (0.11, ``nbval/plugin.py``: ``metadata_tags``, ``find_metadata_tags``) reads the tag
``nbval-check-output`` exactly as it reads the comment: under ``--nbval-lax`` it compares
that cell's output with the stored one. The comment is removed, not kept beside the tag:
nbval warns about a cell marked both ways ("Overlapping options"), and this project turns
warnings into errors. ``keep_output`` stays, so scripts/strip_outputs.py keeps the
checked output. A cell that already has the tag and no comment is left as it is, so a
second run changes nothing.
"""

import argparse
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # also when loaded from its path
from _notebooks import rewrite  # noqa: E402

TAG = "nbval-check-output"
MARKER = re.compile(r"^[ \t]*#[ \t]*NBVAL_CHECK_OUTPUT[ \t]*(\n|$)", re.MULTILINE)


def convert(nb: dict) -> int:
    """Move each checked cell's comment into its tags, in place; return the cells changed."""
    changed = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if not MARKER.search(source):
            continue
        cell["source"] = MARKER.sub("", source).splitlines(keepends=True)
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if TAG not in tags:
            tags.append(TAG)
        changed += 1
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a comment is left")
    parser.add_argument("paths", nargs="*", type=pathlib.Path, help="notebooks (default: every lesson)")
    args = parser.parse_args(argv)
    done = "to convert" if args.check else "converted"
    todo = rewrite(args.paths, convert, lambda n: f"{n} cell(s) {done}", args.check)
    if args.check and todo:
        print("run python scripts/markers_to_tags.py to convert them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
