"""Nothing outlives the lab: not after close, an exception, the end of a script, a kernel
shutdown or restart, or a SIGKILL of the lab's own process. And handlers written in a
notebook cell or a script's __main__ run inside the pods."""

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import finpay_lab as fl

from .conftest import gone


def lab_pids(lab):
    """The lab's pods, then its Redis helper (if any), then its guardian."""
    pids = [p.pid for p in lab.pods if p.status != "dead"]
    if lab._redis.pid:
        pids.append(lab._redis.pid)
    return pids + [lab._guardian.pid]


def test_close_stops_every_pod_and_the_redis_helper(make_lab):
    lab = make_lab(pods=3)
    pids = lab_pids(lab)
    assert len(pids) == (5 if lab.state == "redis" else 4)
    lab.close()
    assert all(gone(pid) for pid in pids)
    lab.close()  # twice is fine
    with pytest.raises(fl.LabError, match="closed"):
        lab.call("add_balance", user="Ravi", amount=1)


def test_an_exception_in_the_with_block_still_stops_everything(backend):
    state, redis = backend
    pids = []
    with pytest.raises(ZeroDivisionError), fl.Lab(pods=2, state=state, redis=redis) as lab:
        pids = lab_pids(lab)
        _ = 1 / 0  # a bug in the learner's cell
    assert pids and all(gone(pid) for pid in pids)


def test_a_forgotten_lab_dies_with_its_last_reference():
    lab = fl.Lab(pods=2)
    pids = lab_pids(lab)
    del lab
    gc.collect()
    assert all(gone(pid) for pid in pids)  # the lifeline pipe closed: the pods exit


SCRIPT = """
import json, sys, time
import finpay_lab as fl

app = fl.App("script")
GREETING = "hello from"   # a module global the handler uses

@app.endpoint
def hello(state):
    return f"{GREETING} {fl.this_pod().name}"

{body}
"""


def run_script(tmp_path, body, guard=True):
    code = SCRIPT.replace("{body}", textwrap.dedent(body))
    if guard:
        code = code.replace("\nlab = ", "\nif __name__ == '__main__':\n    lab = ")
    path = tmp_path / "script.py"
    path.write_text(code)
    return subprocess.Popen(
        [sys.executable, str(path)], stdout=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True
    )


@pytest.mark.parametrize("state,redis", [("memory", "fake"), ("redis", "fake")])
def test_sigkill_of_the_lab_process_takes_its_pods_and_redis_with_it(tmp_path, state, redis):
    proc = run_script(
        tmp_path,
        f"""
        lab = fl.Lab(pods=3, state={state!r}, redis={redis!r}, app=app)
        print(json.dumps([p.pid for p in lab.pods] + [lab._redis.pid]), flush=True)
        time.sleep(60)
    """,
        guard=False,
    )
    with proc.stdout:
        pids = [p for p in json.loads(proc.stdout.readline()) if p]
    assert len(pids) == (4 if state == "redis" else 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert all(gone(pid, within=5) for pid in pids)


def test_a_paused_pod_dies_with_a_sigkilled_lab_thanks_to_the_guardian(tmp_path):
    """A SIGSTOPped pod runs nothing, not even its watchdog: the guardian thaws and kills it."""
    proc = run_script(
        tmp_path,
        """
        lab = fl.Lab(pods=3, app=app)
        lab.pause("pod-2")
        print(json.dumps({"pods": [p.pid for p in lab.pods], "guardian": lab._guardian.pid,
                          "workdir": lab._workdir}), flush=True)
        time.sleep(60)
    """,
        guard=False,
    )
    with proc.stdout:
        info = json.loads(proc.stdout.readline())
    # SIGSTOP takes effect when the kernel next schedules the pod: under load that is after
    # lab.pause returns, so wait for the state (the deadline only guards against a hang).
    assert status_becomes(info["pods"][1], psutil.STATUS_STOPPED, within=10)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert all(gone(pid, within=5) for pid in info["pods"] + [info["guardian"]])
    assert not os.path.exists(info["workdir"])  # the SMS gateway's log went too


def status_becomes(pid, status, within):
    deadline = time.monotonic() + within
    while psutil.Process(pid).status() != status:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_handlers_from_a_script_main_run_in_pods_and_the_script_exit_stops_them(tmp_path):
    for guard in (True, False):
        proc = run_script(
            tmp_path,
            """
            lab = fl.Lab(pods=2, app=app)
            print(json.dumps([lab.call("hello").value for _ in range(2)] + [p.pid for p in lab.pods]))
        """,
            guard=guard,
        )
        with proc.stdout:
            out = json.loads(proc.stdout.readline())
        assert proc.wait(timeout=30) == 0
        assert out[:2] == ["hello from pod-1", "hello from pod-2"]
        assert all(gone(pid) for pid in out[2:])  # never closed: atexit did it


@pytest.fixture
def kernel():
    jupyter_client = pytest.importorskip("jupyter_client")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=os.getcwd())
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield km, client
    client.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def execute(client, code):
    """Run code in the kernel; return its stdout, raise on error."""
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))

    client.execute_interactive(code, output_hook=hook, timeout=60)
    return "".join(out)


NOTEBOOK_CELL = """
import math, json
import finpay_lab as fl
FACTOR = 3

app = fl.App("notebook")

@app.endpoint
def scaled_root(state, x: float):
    return math.sqrt(x) * FACTOR   # an import and a global from this cell

lab = fl.Lab(pods=3, state="redis", app=app)
print(json.dumps({"value": lab.call("scaled_root", x=16.0).value,
                  "pids": [p.pid for p in lab.pods] + [lab._redis.pid]}))
"""


@pytest.mark.parametrize("how", ["shutdown", "restart"])
def test_notebook_handlers_run_in_pods_and_a_kernel_shutdown_or_restart_stops_them(kernel, how):
    km, client = kernel
    result = json.loads(execute(client, NOTEBOOK_CELL))
    assert result["value"] == 12.0
    pids = result["pids"]
    assert len(pids) == 4
    if how == "shutdown":
        km.shutdown_kernel()
    else:
        km.restart_kernel(now=False)
    assert all(gone(pid, within=10) for pid in pids)
