"""The State a handler sees behaves the same on memory and Redis, through real pods."""

import os
import shutil

import pytest

import finpay_lab as fl
from finpay_lab.stores.redis_server import RedisServer
from finpay_lab.stores.state import MemoryState

from .conftest import gone


def test_get_set_delete_and_defaults(state):
    assert state.get("missing") is None and state.get("missing", 7) == 7
    state.set("k", {"a": [1, 2]})
    assert state.get("k") == {"a": [1, 2]}
    assert state.delete("k") is True and state.delete("k") is False
    with pytest.raises(fl.Rejected, match="JSON"):
        state.set("k", object())


def test_incr_starts_from_initial_and_rejects_non_integers(state):
    assert state.incr("balance:Ravi", 500, initial=1000) == 1500
    assert state.incr("balance:Ravi", 300, initial=1000) == 1800
    state.set("name", "Ravi")
    with pytest.raises(fl.Rejected, match="integer"):
        state.incr("name")


def test_queue_is_first_in_first_out(state):
    first, second = state.enqueue("q", "a"), state.enqueue("q", {"b": 2})
    assert first != second and state.backlog("q") == 2
    if state.kind == "redis":
        assert state.take("q", "c1") is None  # a queue's first take creates its consumer group
    assert [state.take("q", "c1") for _ in range(3)] == [(first, "a"), (second, {"b": 2}), None]
    state.ack("q", first)
    state.ack("q", second)
    assert state.backlog("q") == 0


def test_the_consumer_group_is_the_states_choice(state):
    """Redis keeps a queue's readers in a consumer group: "workers" unless told otherwise."""
    if state.kind != "redis":
        pytest.skip("a consumer group is Redis's")
    from finpay_lab.stores.state import RedisState

    senders = RedisState(state.url, group="senders")
    try:
        assert state.group == "workers"
        item = senders.enqueue("q", "a")
        assert senders.take("q", "c1") is None  # no group yet: created, and read next time
        assert senders.take("q", "c1") == (item, "a")
        assert senders.backlog("q") == 1  # taken, not yet acknowledged
        assert [g["name"] for g in senders.redis.xinfo_groups("q")] == ["senders"]
    finally:
        senders.close()


def test_keys_by_prefix(state):
    for k in ("session:1", "session:2", "balance:Ravi"):
        state.set(k, 1)
    assert state.keys("session:") == ["session:1", "session:2"]


def test_ttl_expires_keys(state):
    import time

    state.set("short", "x", ttl=1)
    assert state.get("short") == "x"
    time.sleep(1.2)
    assert state.get("short") is None


def test_memory_state_rolls_back_a_failed_request():
    s = MemoryState()
    s.set("a", 1)
    s.begin()
    s.set("a", 2)
    s.incr("b", 5)
    s.enqueue("q", "x")
    s.rollback()
    assert (s.get("a"), s.get("b"), s.get("q"), s.backlog("q")) == (1, None, None, 0)


def test_pods_disagree_in_memory_and_agree_in_redis(make_lab):
    lab = make_lab(pods=3)
    values = [lab.call("update_balance", amount=a).value for a in (500, 300)]
    if lab.state == "memory":
        assert values == [1500, 1300]  # pod-1 and pod-2 each started from 1000
    else:
        assert values == [1500, 1800]  # one balance, shared


def test_a_failing_handler_leaves_state_unchanged(make_lab):
    app = fl.App("half-done")

    @app.endpoint
    def transfer(state, amount: int):
        state.incr("balance:Ravi", -amount, initial=1000)
        if amount > 1000:
            raise fl.Rejected("insufficient funds")
        state.incr("balance:Landlord", amount, initial=0)
        return amount

    @app.endpoint
    def crash(state):
        state.set("balance:Ravi", 0)
        return 1 / 0

    @app.endpoint
    def read(state, key: str):
        return state.get(key)

    lab = make_lab(pods=1, app=app)
    assert lab.call("transfer", amount=100).ok
    r = lab.call("transfer", amount=5000)
    assert (r.ok, r.error) == (False, "insufficient funds")
    r = lab.call("crash")
    assert not r.ok and r.error == "crash failed: ZeroDivisionError: division by zero"
    balance = lab.call("read", key="balance:Ravi").value
    if lab.state == "memory":  # rolled back: the pod undoes partial writes
        assert balance == 900
    else:  # Redis applies each command as it is made: handlers must validate first
        assert balance == 0
    assert lab.pods[0].status == "ready"


def test_redis_real_uses_a_password_and_loopback():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    import redis

    server = RedisServer("real").start()
    try:
        assert "@127.0.0.1:" in server.url and server.safe_url.startswith("redis://***@127.0.0.1:")
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).ping()
        assert redis.Redis.from_url(server.url).ping()
        pid = server.pid
    finally:
        server.stop()
    assert gone(pid)


def test_redis_real_without_the_binary_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(fl.RedisUnavailable, match="redis-server"):
        fl.Lab(pods=1, state="redis", redis="real")


def test_redis_url_connects_to_a_server_you_run():
    server = RedisServer("fake").start()
    try:
        with fl.Lab(pods=2, state="redis", redis=server.url) as lab:
            assert lab.redis_url == server.url
            assert [lab.call("update_balance", amount=1).value for _ in range(2)] == [1001, 1002]
    finally:
        server.stop()


def test_bad_redis_and_state_arguments_change_nothing():
    for kwargs in (
        {"state": "disk"},
        {"redis": "mysql://x"},
        {"redis": 5},
        {"pods": -1},
        {"restart": "yes"},
        {"accounts": {"Ravi": -5}},
        {"app": "finpay"},
    ):
        with pytest.raises(fl.BadInput):
            fl.Lab(**kwargs)


def test_fakeredis_server_sets_tcp_nodelay_on_accepted_sockets():
    """Without TCP_NODELAY every pipeline and MULTI/EXEC stalls ~44 ms (Nagle + delayed ACK)."""
    import socket
    import time

    import redis

    from finpay_lab.stores.redis_server import _FakeKeeper

    keeper = _FakeKeeper()  # in this process, so the test can look at the server's sockets
    try:
        client = redis.Redis.from_url(keeper.url)
        assert client.ping()
        deadline = time.monotonic() + 5
        while not keeper.server.clients and time.monotonic() < deadline:
            time.sleep(0.01)
        fds = [conn.get_socket()._client_info["fd"] for conn in keeper.server.clients.values()]
        assert len(fds) == 1
        sock = socket.socket(fileno=os.dup(fds[0]))
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            sock.close()
        client.close()
    finally:
        keeper.stop()


def test_redis_helper_ignores_sigint_and_stops_on_eof():
    server = RedisServer("fake").start()
    pid = server.pid
    os.kill(pid, 2)  # Ctrl-C in a terminal reaches the whole group; the lab decides
    assert not gone(pid, within=0.3)
    server.stop()
    assert gone(pid)
