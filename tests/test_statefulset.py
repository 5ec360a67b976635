"""fl.StatefulSet: real redis-server pods with stable names, their own volumes, replication,
failover behind one stable address, and the acknowledged writes asynchronous replication
loses (and WAIT keeps)."""

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import redis

import finpay_lab as fl

from .helpers import alive as _alive

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not on PATH")


def _started(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().split(")")[-1].split()[19])  # starttime, in clock ticks


def _pods(store):
    return {p.name: p for p in store.pods}


def _settled(store, names=None):
    """Wait until every replica named has applied everything the primary has (a guard)."""
    client = store.client()
    client.wait(len(names or []) or store.replicas - 1, 5000)


@pytest.fixture
def store():
    with fl.StatefulSet(replicas=3) as s:
        yield s


# ---------------------------------------------------------------- names, order, volumes
def test_three_pods_in_order_a_primary_and_two_synced_replicas(store):
    pods = store.pods
    assert [p.name for p in pods] == ["redis-0", "redis-1", "redis-2"]
    assert [p.role for p in pods] == ["primary", "replica", "replica"]
    assert all(p.status == "running" for p in pods)
    assert [p.link for p in pods] == [None, "up", "up"]
    assert len({p.port for p in pods}) == 3 and len({p.volume for p in pods}) == 3
    assert all(p.volume.startswith(store.dir) for p in pods)
    starts = [_started(p.pid) for p in pods]
    assert starts == sorted(starts)  # redis-1 after redis-0 was up, redis-2 after redis-1
    assert store.primary == "redis-0"
    assert "***" in store.safe_url and store._password not in repr(store)


def test_the_service_address_reaches_the_primary_and_writes_replicate(store):
    client = store.client()
    assert client.info("replication")["role"] == "master"
    client.set("balance:Ravi", 20000)
    assert client.wait(2, 5000) == 2
    for name in ("redis-1", "redis-2"):
        assert store.client(name).get("balance:Ravi") == "20000"
        with pytest.raises(redis.ReadOnlyError):
            store.client(name).set("x", 1)


def test_a_killed_replica_comes_back_under_its_name_with_its_volume(store):
    client = store.client()
    client.set("before", 1)
    _settled(store)
    before = _pods(store)["redis-1"]
    store.kill("redis-1")
    assert not _alive(before.pid)
    killed = _pods(store)["redis-1"]
    assert (killed.status, killed.pid) == ("dead", None)
    client.set("while-dead", 2)
    store.restart("redis-1")
    after = _pods(store)["redis-1"]
    assert (after.status, after.port, after.volume, after.role) == (
        "running",
        before.port,
        before.volume,
        "replica",
    )
    assert after.pid != before.pid and after.link == "up"
    assert store.client("redis-1").get("before") == "1"
    assert store.client("redis-1").get("while-dead") == "2"  # it caught up with the primary


def test_the_primary_restarted_without_failover_replays_its_own_volume(store):
    client = store.client()
    for i in range(100):
        client.set(f"k{i}", i)
    store.kill("redis-0", restart=True)  # the kubelet restarts it in place
    assert os.listdir(os.path.join(_pods(store)["redis-0"].volume, "appendonlydir"))
    assert store.primary == "redis-0"
    client = store.client()
    assert client.dbsize() == 100  # from its append-only file: its replicas hold nothing it lacks
    client.set("again", 1)
    assert client.wait(2, 5000) == 2  # the replicas followed it back


def test_scaling_down_and_up_gives_a_pod_its_volume_back(store):
    client = store.client()
    client.set("k", "v")
    _settled(store)
    old = _pods(store)["redis-2"]
    store.scale(1)
    assert not _alive(old.pid)
    assert [p.status for p in store.pods] == ["running", "removed", "removed"]
    assert os.path.isdir(old.volume)  # a StatefulSet keeps its volumes when it scales down
    store.scale(3)
    new = _pods(store)["redis-2"]
    assert (new.status, new.port, new.volume, new.link) == ("running", old.port, old.volume, "up")
    assert store.client("redis-2").get("k") == "v"


# ---------------------------------------------------------------- failover
def test_failover_promotes_the_most_up_to_date_replica_and_repoints_everyone(store):
    client = store.client()
    client.set("a", 1)
    _settled(store)
    store.pause_replication("redis-1")  # redis-1 falls behind; redis-2 keeps up
    client.set("b", 2)
    assert client.wait(1, 5000) == 1  # one replica (redis-2) has it
    store.kill("redis-0")
    started = time.perf_counter()
    assert store.failover() == {"old": "redis-0", "new": "redis-2"}
    took = time.perf_counter() - started
    store.resume_replication("redis-1")
    pods = _pods(store)
    assert (pods["redis-2"].role, pods["redis-1"].role, pods["redis-0"].status) == (
        "primary",
        "replica",
        "dead",
    )
    client = store.client()  # the same address, now the new primary
    assert client.get("b") == "2"  # acknowledged by a replica (WAIT 1): kept
    client.set("c", 3)
    assert client.wait(1, 5000) == 1
    assert store.client("redis-1").get("b") == "2"  # redis-1 now follows redis-2
    store.restart("redis-0")  # the old primary returns as a replica of the new one
    assert _pods(store)["redis-0"].role == "replica" and store.client("redis-0").get("c") == "3"
    assert took < 5.0  # a guard against hanging, not a measure


def test_an_open_client_reaches_the_new_primary_after_failover(store):
    client = store.client()
    client.set("x", 1)
    _settled(store)
    store.kill("redis-0")
    with pytest.raises(redis.ConnectionError):  # the Service has nowhere to send it
        client.get("x")
    store.failover()
    assert client.get("x") == "1"  # the pooled connection was dropped; this one is new
    assert client.info("replication")["role"] == "master"


# ---------------------------------------------------------------- the Jepsen lesson
def _acknowledged_then_failover(store, n, wait_ms=None):
    """n writes while the replicas are cut off; kill the primary, heal, fail over.
    Returns (acknowledged, lost, WAIT answers)."""
    client = store.client()
    client.set("opening", 1)
    _settled(store)
    store.pause_replication()
    acknowledged, answers = [], []
    for i in range(n):
        client.set(f"payment:{i}", i)  # the primary says OK...
        if wait_ms is None:
            acknowledged.append(i)  # ...and the application tells the customer "done"
        else:
            answers.append(client.wait(1, wait_ms))  # ...the application asks for a replica first
            if answers[-1] >= 1:
                acknowledged.append(i)
    store.kill(store.primary)
    store.resume_replication()
    store.failover()
    after = store.client()
    assert after.get("opening") == "1"
    lost = [i for i in acknowledged if after.get(f"payment:{i}") is None]
    return acknowledged, lost, answers


def test_without_wait_every_write_acknowledged_during_the_partition_is_lost(store):
    acknowledged, lost, _ = _acknowledged_then_failover(store, 10)
    assert len(acknowledged) == 10 and len(lost) == 10
    store.restart("redis-0")  # the old primary had them on its volume, and throws them away
    assert store.client("redis-0").get("payment:0") is None


def test_with_wait_no_acknowledged_write_is_lost_because_none_was_acknowledged(store):
    acknowledged, lost, answers = _acknowledged_then_failover(store, 3, wait_ms=100)
    assert answers == [0, 0, 0]  # WAIT timed out: no replica had them
    assert acknowledged == [] and lost == []


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("replicas", [0, 100, -1, True, 2.5, "3"])
def test_a_statefulset_of_a_silly_size_is_refused(replicas):
    with pytest.raises(fl.BadInput, match="replicas must be a whole number from 1 to"):
        fl.StatefulSet(replicas=replicas)


def test_unknown_pods_are_refused_and_nothing_changes(store):
    before = [(p.name, p.role, p.pid, p.status) for p in store.pods]
    for action in (
        lambda: store.kill("redis-7"),
        lambda: store.kill(3),
        lambda: store.failover(to="redis-9"),
        lambda: store.failover(to="redis-0"),
        lambda: store.restart("redis-1"),
        lambda: store.restart("pod-1"),
        lambda: store.scale(0),
        lambda: store.scale(100),
        lambda: store.pause_replication("redis-5"),
        lambda: store.client("redis-4"),
    ):
        with pytest.raises(fl.BadInput):
            action()
    assert [(p.name, p.role, p.pid, p.status) for p in store.pods] == before
    assert store.client().wait(2, 5000) == 2  # replication untouched too


def test_failover_with_no_replica_left_is_refused():
    with fl.StatefulSet(replicas=1) as store:
        with pytest.raises(fl.BadInput, match="no running replica"):
            store.failover()
        assert store.primary == "redis-0"


def test_scaling_away_the_primary_is_refused(store):
    store.kill("redis-0")
    store.failover()
    new = store.primary
    with pytest.raises(fl.BadInput, match="fail over first"):
        store.scale(int(new[-1]))
    assert store.primary == new


def test_without_redis_server_on_path_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(fl.RedisUnavailable, match="apt-get install redis-server"):
        fl.StatefulSet(replicas=3).start()


def test_a_lab_cannot_use_a_store_that_is_not_running():
    with pytest.raises(fl.BadInput, match="start the StatefulSet first"):
        fl.Lab(pods=1, state="redis", redis=fl.StatefulSet(replicas=1))


# ---------------------------------------------------------------- the lab on top
def test_a_lab_uses_the_service_and_survives_a_failover(store):
    with fl.Lab(pods=2, state="redis", redis=store) as lab:
        assert lab.redis.kind == "statefulset" and lab.redis_url == store.url
        session = lab.call("login", user="Ravi").value["session"]
        _settled(store)
        store.kill("redis-0")
        store.failover()
        for pod in ("pod-1", "pod-2"):  # every pod reconnects, through the same address
            # Its pooled connection was closed by the Service before this call: redis-py
            # sees that when it takes it from the pool, and connects again.
            r = lab.call("whoami", user="Ravi", session=session, pod=pod)
            assert r.ok, r.error
        with pytest.raises(fl.BadInput):
            lab.redis.down()  # the lab only connects: the store is the learner's
    assert store.client().get(f"session:{session}") == '"Ravi"'  # the lab's close left it running


# ---------------------------------------------------------------- nothing outlives it
def _gone(pids, directory, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids) and not os.path.exists(directory):
            return True
        time.sleep(0.05)
    return False


def test_close_ends_every_process_and_removes_every_volume():
    store = fl.StatefulSet(replicas=3).start()
    pids, directory = store.pids, store.dir
    assert len(pids) == 4 and all(_alive(p) for p in pids)
    store.close()
    store.close()  # twice is fine
    assert _gone(pids, directory)


def test_an_exception_inside_the_with_block_ends_it_all():
    with pytest.raises(RuntimeError, match="a cell failed"), fl.StatefulSet(replicas=2) as store:
        pids, directory = store.pids, store.dir
        raise RuntimeError("a cell failed")
    assert _gone(pids, directory)


def test_a_forgotten_store_is_ended_by_the_garbage_collector():
    store = fl.StatefulSet(replicas=2).start()
    pids, directory = store.pids, store.dir
    del store
    gc.collect()
    assert _gone(pids, directory)


def test_sigkill_of_the_notebook_process_ends_it_all():
    code = textwrap.dedent("""
        import json, time, finpay_lab as fl
        store = fl.StatefulSet(replicas=3).start()
        print(json.dumps([store.pids, store.dir]), flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids, directory = json.loads(parent.stdout.readline())
        assert len(pids) == 4 and all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _gone(pids, directory)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_a_forked_child_that_exits_leaves_the_parents_store_alone():
    """A fork of the notebook's process (a multiprocessing Pool with fork) runs the
    parent's atexit finalizers when it exits: they must not end the parent's store."""
    code = textwrap.dedent("""
        import os, sys, finpay_lab as fl
        store = fl.StatefulSet(replicas=2).start()
        child = os.fork()
        if child == 0:
            sys.exit(0)  # a normal exit: atexit runs every registered finalizer
        os.waitpid(child, 0)
        print(os.path.isdir(store.dir), store.client().ping(), flush=True)
        store.close()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_a_memory_lab_switched_to_redis_connects_to_the_store(store):
    with fl.Lab(pods=1, state="memory", redis=store) as lab:
        lab.switch_state("redis")
        assert lab.redis_url == store.url
        assert lab.call("login", user="Ravi").ok
