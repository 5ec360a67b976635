"""The workflow that publishes the course website builds what `make site` builds.

GitHub Actions can't run here, so this checks the workflow's wiring against the repository
it lives in: it builds with the Makefile's own `make site`, uploads the folder that target
writes, deploys after the build, on pushes to main, with the permissions Pages needs; and
the README links the address Pages serves for the repository the Binder badge names.
"""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/site.yml").read_text())


def test_it_builds_with_make_site_and_uploads_what_that_writes():
    steps = WORKFLOW["jobs"]["build"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any(r.strip() == "make site" for r in runs)
    site_target = re.search(r"^site:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    out = re.search(r"--out (\S+)", site_target).group(1)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == out


def test_it_deploys_after_the_build_on_pushes_to_main():
    triggers = WORKFLOW[True] if True in WORKFLOW else WORKFLOW["on"]  # YAML 1.1 reads `on:` as True
    assert triggers["push"]["branches"] == ["main"]
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])
    assert WORKFLOW["permissions"]["pages"] == "write" and WORKFLOW["permissions"]["id-token"] == "write"


def test_the_readme_links_the_site_of_the_repository_binder_launches():
    readme = (ROOT / "README.md").read_text()
    owner, repo = re.search(r"mybinder\.org/v2/gh/([^/]+)/([^/]+)/", readme).groups()
    assert f"https://{owner}.github.io/{repo}/" in readme
