"""Every way a lab's life can end leaves nothing behind: no process, no work dir, no
multiprocess temp dir. Each test makes its exit happen on purpose: a real Jupyter kernel
shut down or restarted gracefully, a KeyboardInterrupt injected at a chosen step of
close() or of a pod's start, a forgotten lab collected, a SIGKILL or SIGTERM of the lab's
process."""

import gc
import json
import os
import signal
import time

import multiprocess
import psutil
import pytest

import finpay_lab as fl
import finpay_lab.runtime.lab as lab_module

from .conftest import BACKENDS, HAVE_REDIS_SERVER, gone
from .helpers import fork_and_terminate
from .test_lifecycle import execute, kernel, run_script  # noqa: F401 - kernel is a fixture


def dead_now(pid):
    """Gone at this instant (a zombie runs nothing): no grace period."""
    return gone(pid, within=0.001)


def descendants(pid):
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def absent(path, within=5.0):
    deadline = time.monotonic() + within
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------- a Jupyter kernel's end

KERNEL_CELL = """
import json, os, psutil, multiprocess.util
import finpay_lab as fl
lab = fl.Lab(pods=4, state={state!r}, redis={redis!r})
lab.pause("pod-2"); lab.pause("pod-3")
print(json.dumps({{"pids": [p.pid for p in lab.pods] + [lab._guardian.pid],
                   "children": [p.pid for p in psutil.Process().children(recursive=True)],
                   "workdir": lab._workdir, "mp_tempdir": multiprocess.util.get_temp_dir()}}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["shutdown", "restart", "shutdown-now"])
def test_a_kernel_shutdown_or_restart_leaves_nothing_even_with_paused_pods(kernel, how, backend):  # noqa: F811
    """JupyterLab's way: a shutdown request, ~2.5 s, then SIGTERM to the kernel's whole
    process group (now=True: SIGKILL to it). Paused pods keep a SIGTERM pending forever."""
    km, client = kernel
    state, redis = backend
    info = json.loads(execute(client, KERNEL_CELL.format(state=state, redis=redis)))
    pids = set(info["pids"] + info["children"])  # pods, guardian, fork server, Redis helper and server
    assert len(pids) >= (7 if state == "redis" else 6)
    if how == "restart":
        km.restart_kernel(now=False)
    else:
        km.shutdown_kernel(now=how == "shutdown-now")
    left = [pid for pid in pids if not gone(pid, within=10)]
    assert left == []
    assert absent(info["workdir"]) and absent(info["mp_tempdir"])


# ---------------------------------------------------------------- close() interrupted


def _interrupt_once(monkeypatch, obj, name):
    original = getattr(obj, name)
    calls = []

    def interrupted(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, interrupted)


@pytest.mark.parametrize("step", ["pod join", "guardian join", "redis stop", "work dir removal"])
def test_a_close_interrupted_at_any_step_is_finished_by_the_next(monkeypatch, step):
    lab = fl.Lab(pods=3, state="redis")
    lab.pause("pod-2")
    pids = [p.pid for p in lab.pods] + [lab._guardian.pid, lab._redis.pid]
    workdir = lab._workdir
    target = {
        "pod join": (lab._pods["pod-1"].process, "join"),
        "guardian join": (lab._guardian, "join"),
        "redis stop": (lab._redis, "stop"),
        "work dir removal": (lab_module.shutil, "rmtree"),
    }[step]
    _interrupt_once(monkeypatch, *target)
    with pytest.raises(KeyboardInterrupt):
        lab.close()
    assert not lab.closed  # not everything has stopped yet...
    with pytest.raises(fl.LabError, match="close\\(\\) again"):
        lab.call("add_balance", user="Ravi", amount=1)  # ...but it already refuses calls
    lab.close()  # finishes the job
    assert lab.closed
    assert [pid for pid in pids if not dead_now(pid)] == []
    assert not os.path.exists(workdir)
    lab.close()  # and a third call does nothing
    with pytest.raises(fl.LabError, match="closed"):
        lab.call("add_balance", user="Ravi", amount=1)


# ---------------------------------------------------------------- garbage collection


@pytest.mark.parametrize(
    "redis",
    [
        "fake",
        pytest.param(
            "real", marks=pytest.mark.skipif(not HAVE_REDIS_SERVER, reason="redis-server is not on PATH")
        ),
    ],
)
def test_a_garbage_collected_redis_lab_stops_its_redis_helper_and_server(redis):
    lab = fl.Lab(pods=2, state="redis", redis=redis)  # a cell that is run again drops it
    helper = lab._redis.pid
    pids = [p.pid for p in lab.pods] + [lab._guardian.pid, helper] + descendants(helper)
    workdir = lab._workdir
    assert len(pids) == (5 if redis == "real" else 4)  # + redis-server
    del lab
    gc.collect()
    assert [pid for pid in pids if not gone(pid, within=10)] == []
    assert absent(workdir)


# ---------------------------------------------------------------- Ctrl-C while pods start


@pytest.mark.parametrize("how", ["KeyboardInterrupt", "SIGINT"])
def test_ctrl_c_while_scaling_up_loses_no_pod(monkeypatch, how):
    """The interrupt lands right after the 5th new pod's process started, before the lab
    could record it; that pod is also paused, so nothing but close() can stop it."""
    lab = fl.Lab(pods=1)
    before = set(descendants(os.getpid()))
    started = []
    original = multiprocess.context.ForkServerProcess.start

    def start(process):
        original(process)
        started.append(process.pid)
        if len(started) == 5:
            os.kill(process.pid, signal.SIGSTOP)
            if how == "SIGINT":
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, at this very point
            else:
                raise KeyboardInterrupt

    monkeypatch.setattr(multiprocess.context.ForkServerProcess, "start", start)
    with pytest.raises(KeyboardInterrupt):
        lab.scale(30)
    monkeypatch.undo()
    assert len(started) == 5
    lab.close()
    assert [pid for pid in started if not dead_now(pid)] == []
    survivors = [pid for pid in set(descendants(os.getpid())) - before if not dead_now(pid)]
    assert survivors == []


# ---------------------------------------------------------------- the lab's process killed

SCRIPT_LAB = """
    import multiprocess.util
    lab = fl.Lab(pods=3, state="redis", app=app)
    lab.pause("pod-2")
    print(json.dumps({"pids": [p.pid for p in lab.pods] + [lab._guardian.pid, lab._redis.pid],
                      "workdir": lab._workdir, "mp_tempdir": multiprocess.util.get_temp_dir()}),
          flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_a_killed_lab_process_leaves_no_process_and_no_temp_dir(tmp_path, sig):
    proc = run_script(tmp_path, SCRIPT_LAB, guard=False)
    with proc.stdout:
        info = json.loads(proc.stdout.readline())
    pids = info["pids"] + descendants(proc.pid)
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=30) == -sig  # SIGTERM/SIGHUP: the lab cleaned up, then died of it
    assert [pid for pid in pids if not gone(pid, within=10)] == []
    assert absent(info["workdir"]) and absent(info["mp_tempdir"])


@pytest.mark.skipif(not HAVE_REDIS_SERVER, reason="redis-server is not on PATH")
def test_a_killed_real_redis_helper_leaves_no_socket_dir():
    """The real Redis's private socket dir lives inside the lab's work dir, so whatever
    removes that dir (close, or the guardian) removes it too, even when the helper that
    made it was SIGKILLed and could not clean up."""
    lab = fl.Lab(pods=1, state="redis", redis="real")
    try:
        socket_dirs = [
            os.path.join(lab._workdir, d) for d in os.listdir(lab._workdir) if d.startswith("finpay-redis-")
        ]
        assert len(socket_dirs) == 1 and os.path.exists(os.path.join(socket_dirs[0], "redis.sock"))
        os.kill(lab._redis.pid, signal.SIGKILL)
        assert gone(lab._redis.pid)
    finally:
        lab.close()
    assert not os.path.exists(socket_dirs[0]) and not os.path.exists(lab._workdir)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_process_killed_after_its_labs_closed_leaves_no_multiprocess_temp_dir(tmp_path, sig):
    """A kernel killed after its labs closed has no guardian left. SIGTERM (a graceful
    shutdown's last step): the lab's signal handler removes multiprocess's pymp-* dir.
    SIGKILL of the process alone: the fork server removes it as it exits
    (forkserver_cleanup.py)."""
    proc = run_script(
        tmp_path,
        """
        import multiprocess.util
        lab = fl.Lab(pods=2, app=app)
        lab.close()
        print(json.dumps(multiprocess.util.get_temp_dir()), flush=True)
        time.sleep(60)
    """,
        guard=False,
    )
    with proc.stdout:
        mp_tempdir = json.loads(proc.stdout.readline())
    assert os.path.isdir(mp_tempdir)
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=30) == -sig
    assert absent(mp_tempdir, within=10)


def test_the_fork_server_keeps_the_temp_dir_of_a_living_process():
    """The fork server only removes the dir when its parent is gone: a lab's own process
    (here, this test's) goes on using it after its labs close."""
    import multiprocess.util

    with fl.Lab(pods=1):
        pass
    with fl.Lab(pods=1) as lab:  # the same fork server and dir serve the next lab
        assert lab.call("add_balance", user="Ravi", amount=1).ok
    assert os.path.isdir(multiprocess.util.get_temp_dir())


def test_a_forked_child_that_is_terminated_leaves_the_parents_lab_alone():
    """A multiprocessing Pool with fork (as benchmarks/dispatch.py uses) forks the lab's
    process, exit-signal handler and all. Terminating such a child (SIGTERM) must not close
    the parent's labs (kill its pods) nor remove the parent's multiprocess temp dir."""
    import multiprocess.util

    with fl.Lab(pods=2) as lab:
        pids = [p.pid for p in lab.pods]
        assert fork_and_terminate() == -signal.SIGTERM
        assert [p.pid for p in lab.pods] == pids and all(not dead_now(pid) for pid in pids)
        assert lab.call("add_balance", user="Ravi", amount=1).ok
        assert os.path.isdir(multiprocess.util.get_temp_dir())
    with fl.Lab(pods=1) as lab:  # the fork server still answers
        assert lab.call("add_balance", user="Ravi", amount=1).ok


def test_a_forked_child_terminated_the_instant_it_starts_dies_of_it():
    """CPython drops a Python-level signal that lands between fork() and the child's own
    signal set-up; with our SIGTERM handler inherited, a child terminated at that instant
    slept on (one run in three failed above). Exit signals are held over the fork and the
    child gets SIG_DFL back: each of 40 children terminated at once dies of SIGTERM."""
    with fl.Lab(pods=1):
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # ours is installed
        for _ in range(40):
            assert fork_and_terminate() == -signal.SIGTERM
