"""Build the course as a static website: every lesson executed, with its outputs and figures,
plus the glossary, the instructor notes and an index page.

    python scripts/build_site.py                     # execute every lesson, write site/
    python scripts/build_site.py --execute 00,02     # execute these, render the rest as committed
    python scripts/build_site.py --execute none      # render the committed notebooks only (fast)

Why nbconvert and not Jupyter Book: the build must work with no internet. nbconvert renders
from templates and CSS installed with it, and nbclient runs each lesson in a local kernel;
nothing is downloaded. Jupyter Book 2 (mystmd) fetches its site theme at build time, and
Jupyter Book 1 (Sphinx) would be a second, heavy toolchain for one index page.

Executing a lesson runs it as Run All does: the solutions stay in their commented
``# %load solutions/...`` cells and never run (the build refuses a lesson where one would).
Figures are written as PNG files beside each page, and links between lessons, the glossary
and the notes point at the site's own pages. The pages load nothing from the internet:
nbconvert's require.js and MathJax tags (from a CDN) are removed, as the lessons use
neither widgets saved in the notebook nor math.
"""

import argparse
import html
import json
import pathlib
import re
import shutil
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PAGES = {"glossary.md": "Glossary", "instructor_notes.md": "Instructor notes"}
WIDGET = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">.*?</script>', re.DOTALL)
WIDGET_NOTE = (
    "<p><em>A live widget (the lab's dashboard) appears here when the lesson runs in JupyterLab.</em></p>"
)
CDN_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*')
LOCAL_LINK = re.compile(r'(href=")(?!https?:|mailto:|#)([^"#]+?)\.(ipynb|md)(#[^"]*)?(")')
NAV_STYLE = (
    "font:14px system-ui,sans-serif;padding:.6rem 1rem;background:#f3f4f6;border-bottom:1px solid #d0d7de"
)
STYLE = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52rem;
       margin: 0 auto; padding: 1rem 1.5rem 4rem; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: .35rem .6rem; text-align: left; vertical-align: top; }
code { background: #f3f4f6; padding: .1rem .25rem; border-radius: 3px; }
pre code { display: block; padding: .6rem; overflow-x: auto; }
h3 { margin-bottom: .2rem; }
"""


class BuildError(Exception):
    pass


def lessons() -> list:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def title_of(nb) -> str:
    first = "".join(nb.cells[0].source) if nb.cells else ""
    m = re.search(r"^#\s+(.+)$", first, re.MULTILINE)
    return m.group(1).strip() if m else "Untitled"


def minutes_of(nb) -> str:
    m = re.search(r"About (\d+(?:[–-]\d+)?) minutes", "".join(nb.cells[0].source) if nb.cells else "")
    return f"{m.group(1)} min" if m else ""


def refuse_running_solutions(nb, name):
    """A solution must never run under the build (as under Run All)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(
            r"^\s*%load\s+solutions/", "".join(cell.source), re.MULTILINE
        ):
            raise BuildError(
                f"{name}: a cell loads a solution uncommented ({cell.get('id')}); comment it out"
            )


def execute(nb, name, timeout):
    from nbclient import NotebookClient

    refuse_running_solutions(nb, name)
    started = time.monotonic()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return time.monotonic() - started


def local_links(page: str) -> str:
    """Links to lessons and to the two markdown pages point at their pages in the site."""
    return LOCAL_LINK.sub(lambda m: f"{m[1]}{m[2]}.html{m[4] or ''}{m[5]}", page)


def nav(prev_next=("", "")) -> str:
    prev, nxt = prev_next
    links = ['<a href="index.html">FinPay Lab</a>']  # inline style: lesson pages have nbconvert's CSS
    links += [f'<a href="{p.removesuffix(".md")}.html">{t}</a>' for p, t in PAGES.items()]
    if prev:
        links.append(f'<a href="{prev}.html">← previous lesson</a>')
    if nxt:
        links.append(f'<a href="{nxt}.html">next lesson →</a>')
    return f'<nav class="site" style="{NAV_STYLE}">{" · ".join(links)}</nav>\n'


def render_lesson(nb, stem, out: pathlib.Path, prev_next) -> int:
    """Write stem.html and its figures into out; return the number of figures."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    exporter = HTMLExporter(
        template_name="lab", config=Config({"ExtractOutputPreprocessor": {"enabled": True}})
    )
    files_dir = f"{stem}_files"
    page, resources = exporter.from_notebook_node(
        nb, resources={"output_files_dir": files_dir, "unique_key": stem}
    )
    for filename, data in resources.get("outputs", {}).items():
        target = out / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    page = WIDGET.sub(WIDGET_NOTE, CDN_SCRIPT.sub("", page))
    page = re.sub(r"(<body[^>]*>)", lambda m: m[1] + "\n" + nav(prev_next), page, count=1)
    (out / f"{stem}.html").write_text(local_links(page), encoding="utf-8")
    return len(resources.get("outputs", {}))


def standalone(title: str, body_html: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} · FinPay Lab</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{nav()}{body_html}\n</body>\n</html>\n"
    )


def render_markdown(source: pathlib.Path, out: pathlib.Path, title: str):
    import mistune

    markdown = mistune.create_markdown(escape=False, plugins=["table"])
    body = markdown(source.read_text(encoding="utf-8"))
    (out / f"{source.stem}.html").write_text(local_links(standalone(title, body)), encoding="utf-8")


def render_index(entries, out: pathlib.Path, executed_at: str):
    rows = "\n".join(
        f'<tr><td><a href="{e["stem"]}.html">{html.escape(e["title"])}</a></td><td>{e["minutes"]}</td>'
        f"<td>{'executed in ' + format(e['seconds'], '.0f') + ' s' if e['executed'] else 'as committed'}</td></tr>"
        for e in entries
    )
    body = f"""<h1>FinPay Lab</h1>
<p>A hands-on course on stateless and stateful services: real pods (operating-system
processes), a real Redis and a real database, real crashes, and an audit that counts what
was lost. This is the course executed, with every output and figure; to run it yourself,
open it in JupyterLab (<code>make lab</code>) or on Binder.</p>
<table><tr><th>Lesson</th><th>Time</th><th>This build</th></tr>
{rows}
</table>
<p>Also: the <a href="glossary.html">glossary</a> (every term the lessons use) and the
<a href="instructor_notes.html">instructor notes</a> (timings, misconceptions, Binder).</p>
<p><small>Built {executed_at} with nbconvert, offline.</small></p>"""
    (out / "index.html").write_text(standalone("FinPay Lab", body), encoding="utf-8")


def build(out: pathlib.Path, execute_which: str = "all", timeout: int = 600, log=print) -> dict:
    import nbformat

    paths = lessons()
    if execute_which == "all":
        chosen = {p.stem[:2] for p in paths}
    elif execute_which == "none":
        chosen = set()
    else:
        chosen = {n.strip()[:2] for n in execute_which.split(",") if n.strip()}
        unknown = chosen - {p.stem[:2] for p in paths}
        if unknown:
            raise BuildError(
                f"--execute names no lesson for {sorted(unknown)}: pass lesson numbers such as 00,02, or all, or none"
            )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    stems = [p.stem for p in paths]
    for i, path in enumerate(paths):
        nb = nbformat.read(path, as_version=4)
        entry = {
            "stem": path.stem,
            "title": title_of(nb),
            "minutes": minutes_of(nb),
            "executed": False,
            "seconds": 0.0,
        }
        if path.stem[:2] in chosen:
            log(f"executing {path.name} ...")
            entry["seconds"] = round(execute(nb, path.name, timeout), 1)
            entry["executed"] = True
        prev_next = (stems[i - 1] if i else "", stems[i + 1] if i + 1 < len(stems) else "")
        entry["figures"] = render_lesson(nb, path.stem, out, prev_next)
        log(
            f"{path.stem}.html: {entry['figures']} figure(s)"
            + (f", executed in {entry['seconds']} s" if entry["executed"] else "")
        )
        entries.append(entry)
    for name, title in PAGES.items():
        render_markdown(NOTEBOOKS / name, out, title)
    executed_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    render_index(entries, out, executed_at)
    manifest = {"built": executed_at, "lessons": entries, "pages": [p.removesuffix(".md") for p in PAGES]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=pathlib.Path, default=ROOT / "site", help="output directory (default: site/)"
    )
    parser.add_argument(
        "--execute", default="all", help="all (default), none, or lesson numbers such as 00,02"
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default 600)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        manifest = build(args.out, args.execute, args.timeout)
    except BuildError as e:
        print(f"build_site: {e}", file=sys.stderr)
        return 2
    ran = [e for e in manifest["lessons"] if e["executed"]]
    print(
        f"site: {len(manifest['lessons'])} lessons ({len(ran)} executed, {sum(e['seconds'] for e in ran):.0f} s), "
        f"glossary, instructor notes → {args.out}/index.html in {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
