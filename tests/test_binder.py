"""Binder builds from binder/ alone: a fresh Python 3.12 venv with only
binder/requirements.txt (installed from the repo root, as repo2docker does) runs every
notebook of the course."""

import glob
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def python312():
    candidates = [shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12", "/opt/homebrew/bin/python3.12"]
    for path in candidates:
        if path and os.path.exists(path):
            ok = subprocess.run(
                [path, "-c", "import sys, venv; assert sys.version_info[:2] == (3, 12)"], capture_output=True
            )
            if ok.returncode == 0:
                return path
    return None


def test_binder_files_say_what_repo2docker_needs():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.12"
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "." in requirements  # the project itself
    assert "redis-server" in (ROOT / "binder" / "apt.txt").read_text().split()


RUN_ALL = """
import glob, sys, time, nbformat
from nbclient import NotebookClient
for path in sorted(glob.glob("notebooks/*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    t = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": "notebooks"}}).execute()
    print(f"{path}: ok in {time.perf_counter() - t:.1f} s", flush=True)
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_notebook_runs_in_a_fresh_binder_environment(tmp_path):
    python = python312()
    if python is None:
        pytest.skip("no Python 3.12 on this machine")
    if not glob.glob(str(ROOT / "notebooks" / "*.ipynb")):
        pytest.skip("no notebooks yet")
    venv = tmp_path / "binder-venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # a copy of the repo, so the install cannot touch the working tree
    repo = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        repo,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "*.egg-info", "__pycache__", "artifacts", ".pytest_cache"
        ),
    )
    subprocess.run(pip + ["-r", "binder/requirements.txt"], check=True, cwd=repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", RUN_ALL],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert done.stdout.count(": ok in ") == len(glob.glob(str(ROOT / "notebooks" / "*.ipynb")))
