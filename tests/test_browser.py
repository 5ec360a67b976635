"""The dashboard in a real browser: JupyterLab + headless Chromium, as a learner sees it.

A JupyterLab server starts on a free port with a throwaway root, config and settings
directory; Chromium (through Playwright) opens a notebook that builds a lab and its
dashboard, runs it, waits for the widget to render, clicks a pod's kill button and waits
for the tile to say "dead". The screenshot lands in tests/artifacts/dashboard.png.
Afterwards the server is shut down and every finpay_lab process it started must be gone.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "id": "dashboard",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import finpay_lab as fl\nlab = fl.Lab(pods=3)\nfl.dashboard(lab)",
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Chromium at {CHROMIUM}"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def family(pid):
    """The process and all its descendants (kernels, their pods, Redis helpers)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def ours(procs):
    alive = []
    for p in procs:
        try:
            if (
                p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE
                and "finpay_lab" in " ".join(p.cmdline())
            ):
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.fixture
def jupyter(tmp_path):
    """A JupyterLab server in its own process group, isolated from the user's settings."""
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    (root / "dashboard.ipynb").write_text(json.dumps(NOTEBOOK))
    # No "get Jupyter news?" toast covering the page: it would hide the widget.
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    token, port = secrets.token_hex(16), free_port()
    log = (tmp_path / "jupyter.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--allow-root",
        ],  # no network; CI may be root
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    seen = []  # every descendant ever seen: a kernel's pods included
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.3)
        yield {"base": base, "token": token, "server": server, "seen": seen}
    finally:
        shutdown(server, base, token, seen)
        log.close()


def shutdown(server, base, token, seen, force=True):
    """Stop the server; with ``force``, SIGKILL anything it started. Safe to call twice."""
    seen += family(server.pid)
    if server.poll() is None:
        # Polite first: the server shuts its kernels down, and a kernel's lab its pods.
        try:
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=5).close()
            server.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
    # Then certain: the server's process group, and anything it started (kernels live in
    # their own process groups, so killpg alone would miss them).
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=10)
    for p in seen if force else ():
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def run_first_cell(page):
    """Shift+Enter in the first cell once the kernel is connected and idle.

    A cell run before the kernel's websocket is up is silently dropped, so wait for the
    status bar's "| Idle", and run again only if the prompt shows the cell never started.
    """
    prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for _ in range(3):
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                return  # [*] running, or [1] done
            time.sleep(0.2)
    raise AssertionError("the notebook's cell never started running")


def test_dashboard_in_jupyterlab(jupyter):
    from playwright.sync_api import expect, sync_playwright

    base, token, seen = jupyter["base"], jupyter["token"], jupyter["seen"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/dashboard.ipynb?token={token}")
            run_first_cell(page)

            board = page.locator(".finpay-dashboard")
            expect(board).to_be_visible(timeout=90_000)
            expect(board).to_contain_text("pod-1", timeout=30_000)
            output = page.locator(".jp-OutputArea").first
            expect(output).not_to_contain_text("Loading widget")
            expect(output).not_to_contain_text("Error displaying widget")
            expect(page.locator(".finpay-tile")).to_have_count(3)

            # Some load first, so the chart has something to show when pod-2 dies.
            board.get_by_role("button", name="start load").click()
            expect(board.get_by_role("button", name="stop load")).to_be_visible()
            page.wait_for_timeout(4000)

            tile = page.locator(".finpay-tile", has_text="pod-2")
            tile.get_by_role("button", name="kill").click()
            expect(tile).to_contain_text("dead", timeout=15_000)
            expect(tile.get_by_role("button", name="kill")).to_be_disabled()
            expect(board).to_contain_text("pod-2 killed with SIGKILL")
            page.wait_for_timeout(3000)  # the failures after the kill reach the chart

            ARTIFACTS.mkdir(exist_ok=True)
            board.screenshot(path=str(ARTIFACTS / "dashboard.png"))
            page.screenshot(path=str(ARTIFACTS / "dashboard-page.png"), full_page=True)

            board.get_by_role("button", name="stop load").click()
            expect(board.get_by_role("button", name="start load")).to_be_visible()
            seen += family(jupyter["server"].pid)
            assert len(ours(seen)) >= 3, "the notebook's pods run while it is open"
        finally:
            browser.close()

    # Shutting the server down shuts its kernel down, and the kernel's lab ends its pods
    # (the atexit hook; a killed kernel's pods see their lifeline pipe close).
    shutdown(jupyter["server"], base, token, seen, force=False)
    deadline = time.monotonic() + 3
    while ours(seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours(seen), f"left running: {[p.cmdline() for p in ours(seen)]}"
