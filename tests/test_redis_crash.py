"""A Redis that really crashes: SIGKILL the process holding the keys, start it again on the
same port. Empty without persistence; replayed from its append-only file with "aof"."""

import shutil

import pytest
import redis

import finpay_lab as fl
from finpay_lab.stores.redis_server import RedisServer
from finpay_lab.stores.state import redis_client

from .helpers import alive as _alive
from .helpers import children as _children

needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not on PATH"
)
KINDS = ["fake", pytest.param("real", marks=needs_redis_server)]


def _lab(persistence="none", **kwargs):
    return fl.Lab(redis_persistence=persistence, **kwargs)


# ---------------------------------------------------------------- the server handle
@pytest.mark.parametrize("kind", KINDS)
def test_a_crash_kills_the_process_holding_the_keys_and_it_comes_back_empty(kind):
    server = RedisServer(kind).start()
    try:
        url = server.url
        client = redis_client(url)
        client.set("session:abc", "Ravi")
        holder = server.pid if kind == "fake" else _children(server.pid)[0]
        server.crash()
        assert not _alive(holder)  # SIGKILLed: the process itself, not just its sockets
        assert server.url == url  # same port, same password
        now = server.pid if kind == "fake" else _children(server.pid)[0]
        assert now != holder and _alive(now)
        assert client.get("session:abc") is None  # the open client reconnects by itself
        client.set("after", 1)
        assert redis_client(url).get("after") == "1"
    finally:
        server.stop()


@needs_redis_server
def test_with_an_append_only_file_a_crash_keeps_every_acknowledged_write():
    server = RedisServer("real", persistence="aof").start()
    try:
        client = redis_client(server.url)
        for i in range(500):
            client.set(f"k{i}", i)  # each "OK" means it is in the AOF (in the page cache)
        client.expire("k0", 3600)
        old = _children(server.pid)[0]
        server.crash()
        assert not _alive(old)
        assert [client.get(f"k{i}") for i in range(500)] == [str(i) for i in range(500)]
        assert 0 < client.ttl("k0") <= 3600
        server.crash()  # and again: the file kept growing where it was
        assert client.dbsize() == 500
    finally:
        server.stop()


def test_persistence_is_checked_before_anything_starts():
    with pytest.raises(fl.BadInput, match="redis='real'"):
        RedisServer("fake", persistence="aof")
    with pytest.raises(fl.BadInput, match="'none'.*'aof'"):
        RedisServer("real", persistence="disk")
    with pytest.raises(fl.BadInput, match="redis='real'"):
        RedisServer("redis://localhost:6379/0", persistence="aof")
    with pytest.raises(fl.BadInput, match="redis='fake' or 'real'"):
        RedisServer("redis://localhost:6379/0").crash()


# ---------------------------------------------------------------- in a lab: sessions and pods
def _sessions_survive(persistence, kind):
    with _lab(persistence, pods=3, state="redis", redis=kind) as lab:
        sessions = [lab.call("login", user="Ravi").value["session"] for _ in range(3)]
        # after=0: the crash comes before the first request is sent, so none is in flight.
        run = lab.run([("balance", {"user": "Ravi"})] * 20, chaos=[fl.chaos.redis_crash(after=0)])
        crash = [e for e in run.events if e.kind == "fault" and "redis crash" in e.detail]
        back = [e for e in run.events if e.kind == "redis" and "restarted" in e.detail]
        assert len(crash) == 1 and crash[0].end is not None and crash[0].end >= crash[0].t
        assert len(back) == 1
        kept = [
            lab.call("whoami", user="Ravi", session=s, pod=f"pod-{i + 1}").ok for i, s in enumerate(sessions)
        ]
        return run, back[0].detail, kept, lab


def test_without_persistence_every_session_is_gone_and_pods_carry_on():
    run, detail, kept, _ = _sessions_survive("none", "fake")
    assert "empty" in detail
    assert kept == [False, False, False]
    assert not any(r.ok for r in run.requests)  # the server answers, but Ravi's account is gone too
    assert all("Ravi" in r.error for r in run.requests)


@needs_redis_server
def test_with_aof_every_session_survives_the_crash():
    run, detail, kept, _ = _sessions_survive("aof", "real")
    assert "append-only file" in detail
    assert kept == [True, True, True]
    assert all(r.ok for r in run.requests) and len(run.requests) == 20


@pytest.mark.parametrize("kind", KINDS)
def test_every_pod_reconnects_by_itself_after_a_crash(kind):
    app = fl.App("counter-crash")

    @app.endpoint
    def bump(state):
        return state.incr("n", 1)

    with fl.Lab(pods=3, state="redis", redis=kind, app=app) as lab:
        for pod in ("pod-1", "pod-2", "pod-3"):  # every pod holds an open connection
            assert lab.call("bump", pod=pod).ok
        lab.redis.crash()
        after = [lab.call("bump", pod=pod) for pod in ("pod-1", "pod-2", "pod-3")]
        assert [r.value for r in after] == [1, 2, 3]  # empty, and nobody failed
        assert all(p.status == "ready" for p in lab.pods)


def test_redis_crash_is_refused_where_the_lab_runs_no_redis():
    with fl.Lab(pods=1, state="memory") as lab:
        with pytest.raises(fl.BadInput, match="redis_crash needs state='redis'"):
            lab.run([("balance", {"user": "Ravi"})], chaos=[fl.chaos.redis_crash()])
        assert not lab.history.events or all("redis crash" not in e.detail for e in lab.history.events)


def test_a_crash_is_not_a_reason_to_refuse_an_old_client():
    """A client made before the crash keeps working: redis-py notices the dropped
    connection when it takes it from its pool, and connects again."""
    server = RedisServer("fake").start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("x", 1)
        server.crash()
        assert client.get("x") is None
    finally:
        server.stop()
