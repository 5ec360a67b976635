"""Strip notebook outputs, keeping only the cells whose output is a lesson's checked claim.

    python scripts/strip_outputs.py notebooks/*.ipynb          # rewrite in place
    python scripts/strip_outputs.py --check notebooks/*.ipynb  # exit 1 if any need it

Kept: code cells with ``"keep_output": true`` in their metadata (they also carry
the ``nbval-check-output`` tag, so nbval compares them on every run). Everything else loses
its outputs and execution count, and the notebook loses any saved widget state.
"""

import argparse
import json
import sys


def strip(nb: dict) -> bool:
    changed = False
    if nb.get("metadata", {}).pop("widgets", None) is not None:
        changed = True
    for cell in nb.get("cells", []):
        if cell.get("metadata", {}).pop("execution", None) is not None:  # nbconvert's timestamps
            changed = True
        if cell.get("cell_type") != "code":
            continue
        if cell.get("metadata", {}).get("keep_output"):
            for out in cell.get("outputs", []):
                if out.get(
                    "output_type"
                ) == "display_data" and "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                    raise SystemExit("a keep_output cell must not hold a widget")
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            cell["outputs"], cell["execution_count"] = [], None
            changed = True
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report; exit 1 if a notebook needs stripping"
    )
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.paths:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
        if strip(nb):
            dirty.append(path)
            if not args.check:
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(nb, f, indent=1, ensure_ascii=False)
                    f.write("\n")
    if args.check and dirty:
        print("outputs to strip in: " + ", ".join(dirty))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
