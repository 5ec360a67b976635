"""The glossary and scripts/link_glossary.py: every term's anchor exists, the script links the
first use of each term in a lesson's prose (never code, headings or links), and running it
twice changes nothing."""

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "notebooks" / "glossary.md"
SCRIPT = ROOT / "scripts" / "link_glossary.py"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("link_glossary", SCRIPT)
link_glossary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(link_glossary)


def anchors():
    return set(re.findall(r'<a id="([\w-]+)"></a>', GLOSSARY.read_text(encoding="utf-8")))


def run_script(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def markdown(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def unlink(text):
    return re.sub(r"\[([^\]]*)\]\(glossary\.md#[\w-]+\)", r"\1", text)


@pytest.fixture
def lesson_copies(tmp_path):
    """The lessons as they were before the script ran: their glossary links taken out."""
    for path in LESSONS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                text = re.sub(r"\[([^\]]+)\]\(glossary\.md#[\w-]+\)", r"\1", "".join(cell["source"]))
                cell["source"] = text.splitlines(keepends=True)
        (tmp_path / path.name).write_text(
            json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return sorted(tmp_path.glob("*.ipynb"))


def test_every_term_the_script_links_has_its_anchor_in_the_glossary():
    linked = {anchor for anchor, _, _ in link_glossary.TERMS}
    assert linked - anchors() == set()
    assert len(linked) == len(link_glossary.TERMS), "an anchor is listed twice"


def test_every_glossary_entry_has_one_anchor_and_names_the_lesson_where_it_first_matters():
    text = GLOSSARY.read_text(encoding="utf-8")
    ids = re.findall(r'<a id="([\w-]+)"></a>', text)
    assert len(ids) == len(set(ids)), "a glossary anchor appears twice"
    for entry in re.split(r'\n(?=<a id=")', text)[1:]:
        assert re.search(r"First matters in\s+\[\d\d\]\(\d\d_\w+\.ipynb\)", entry), entry[:60]


def test_the_glossary_defines_the_terms_the_issue_names():
    needed = [
        "hmac",
        "consumer-group",
        "pending-entry",
        "percentile",
        "open-loop",
        "coordinated-omission",
        "idempotency-key",
        "cache-aside",
        "ttl",
        "wal",
        "acid",
        "transaction",
        "isolation",
        "lost-update",
        "fsync",
        "replication",
        "failover",
        "statefulset",
        "replicaset",
        "deployment",
        "service",
        "readiness-probe",
        "prestop",
        "hpa",
        "stabilization-window",
        "sticky-session",
        "consistent-hashing",
        "outbox",
    ]
    assert set(needed) - anchors() == set()


def test_it_links_the_first_use_of_each_term_and_a_second_run_changes_nothing(lesson_copies):
    before = {p.name: p.read_bytes() for p in lesson_copies}
    first = run_script(*lesson_copies)
    assert first.returncode == 0, first.stderr
    unlinked = [p for p in lesson_copies if b"glossary.md#" not in before[p.name]]
    assert unlinked, "every lesson is linked already: test on a lesson that is not"
    for path in unlinked:  # every lesson uses some term
        assert path.read_bytes() != before[path.name], f"{path.name} was not linked"

    once = {p.name: p.read_bytes() for p in lesson_copies}
    second = run_script(*lesson_copies)
    assert second.returncode == 0 and second.stdout == ""
    assert {p.name: p.read_bytes() for p in lesson_copies} == once
    assert run_script("--check", *lesson_copies).returncode == 0

    for path in lesson_copies:
        text = "\n".join(markdown(path))
        linked = re.findall(r"\]\(glossary\.md#([\w-]+)\)", text)
        assert len(linked) == len(set(linked)), f"{path.name}: a term linked twice"
        assert set(linked) <= anchors()


def test_only_prose_changes_code_cells_headings_and_links_do_not(lesson_copies):
    originals = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in lesson_copies}
    run_script(*lesson_copies)
    for path in lesson_copies:
        old, new = originals[path.name]["cells"], json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert [c["id"] for c in old] == [c["id"] for c in new]
        for a, b in zip(old, new):
            if a["cell_type"] != "markdown":
                assert a == b
                continue
            assert unlink("".join(b["source"])) == unlink("".join(a["source"])), (
                f"{path.name} {a['id']}: more than links changed"
            )
            for old_line, new_line in zip(
                "".join(a["source"]).splitlines(), "".join(b["source"]).splitlines()
            ):
                if old_line.lstrip().startswith("#"):
                    assert new_line == old_line, "a heading was linked"


def test_the_linker_leaves_code_links_headings_and_html_alone():
    text = (
        "## Sessions\n"
        'A `session` in code, a [session link](x.ipynb), <a id="session"></a>, and\n'
        "```python\nsession = 1\n```\n"
        "then the first session in prose, and another session."
    )
    new, linked = link_glossary.link_text(text, set())
    assert linked == ["session"]
    assert new.count("glossary.md#session") == 1
    assert "the first [session](glossary.md#session) in prose, and another session." in new
    assert new.startswith("## Sessions\nA `session` in code, a [session link](x.ipynb)")


def test_a_longer_phrase_wins_over_the_word_inside_it():
    new, linked = link_glossary.link_text("Sticky sessions cost you; a session is a record.", set())
    assert new == (
        "[Sticky sessions](glossary.md#sticky-session) cost you; a [session](glossary.md#session) is a record."
    )
    assert linked == ["sticky-session", "session"]


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_a_lesson_that_links_the_glossary_links_every_term_it_uses(path):
    """`python scripts/link_glossary.py` has run on every lesson (run it again after writing
    one): each links the glossary, and the first use of every term it uses is a link."""
    assert any("glossary.md#" in text for text in markdown(path)), (
        f"run python scripts/link_glossary.py {path}"
    )
    result = run_script("--check", path)
    assert result.returncode == 0, result.stdout
