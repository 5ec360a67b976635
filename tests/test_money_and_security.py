"""Money that cannot be half-moved, a Redis that fails clearly, and secrets nobody can guess.

Each test reproduces a defect of the hardening issue (items 8-12): it fails on the code
before the fix.
"""

import os
import signal
import socket
import stat
import time

import psutil
import pytest
import redis

import finpay_lab as fl
from finpay_lab import defaults
from finpay_lab.services.finpay import open_shared_books
from finpay_lab.stores.redis_server import RedisServer
from finpay_lab.stores.state import EXACT_MAX, redis_client

from .conftest import gone, needs_redis_server

REDIS_KINDS = ["fake", pytest.param("real", marks=[pytest.mark.real_redis, needs_redis_server])]


def _port(url):
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _password(url):
    return url.split("://:", 1)[1].split("@", 1)[0]


# ---------------------------------------------------------------- item 8: money destroyed
def test_the_issues_opening_balance_is_refused_before_anything_starts():
    before = len(psutil.Process().children(recursive=True))
    with pytest.raises(fl.BadInput, match="opening balance must be whole rupees from 0 to"):
        fl.Lab(pods=1, state="redis", accounts={"Ravi": 20_000, "Landlord": 2**63 - 1})
    with pytest.raises(fl.BadInput, match="add up to"):
        fl.Lab(pods=1, accounts={f"cust-{i}": defaults.MAX_OPENING_BALANCE for i in range(9_100)})
    assert len(psutil.Process().children(recursive=True)) <= before  # nothing was started
    assert defaults.MAX_OPENING_BALANCE * 9_000 <= defaults.MAX_TOTAL_BALANCE == EXACT_MAX == 2**53 - 1


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_a_crafted_receiver_key_in_redis_moves_nothing_through_the_lab(kind):
    """The issue's reproduction end to end: a receiver Redis cannot credit, a key, a retry."""
    with fl.Lab(pods=1, state="redis", redis=kind) as lab:
        store = redis_client(lab.redis_url)
        store.set("balance:Landlord", str(2**63 - 1))  # what the old opening balance put there
        token = lab.call("login", user="Ravi").value["token"]
        for _attempt in range(2):
            r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=token, key="rent")
            assert not r.ok and "Landlord" in r.error
        assert lab.call("balance", user="Ravi").value == 20_000
        assert store.get("balance:Landlord") == str(2**63 - 1)
        assert not store.exists("payment:rent", "ledger:Ravi", "ledger:Landlord")
        store.set("balance:Landlord", "0")  # repaired: the same key now pays, once
        r = lab.call("pay", sender="Ravi", receiver="Landlord", amount=100, token=token, key="rent")
        assert r.ok and not r.value["repeated"] and r.value["balance"] == 19_900
        store.close()


# ---------------------------------------------------------------- item 9: incr out of range
@pytest.mark.parametrize("amount", [10**100, 2**63 - 1])
def test_update_balance_out_of_range_is_refused_and_creates_nothing(make_lab, amount):
    lab = make_lab(pods=1)
    r = lab.call("update_balance", amount=amount)
    assert not r.ok and ("2⁶³" in r.error) and "does not hold an integer" not in r.error
    if lab.state == "redis":
        assert not redis_client(lab.redis_url).exists("demo_balance:Ravi")
    else:
        assert lab.peek("pod-1", "demo_balance:") == {}
    assert lab.call("update_balance", amount=500).value == 1_500  # the first real deposit


def test_incr_refuses_an_overflow_and_keeps_the_value(state):
    assert state.incr("n", 2**63 - 1, initial=0) == 2**63 - 1
    with pytest.raises(fl.Rejected, match="overflow"):
        state.incr("n", 1)
    assert state.get("n") == 2**63 - 1
    with pytest.raises(fl.Rejected, match="whole number"):
        state.incr("m", 2**63)
    assert state.get("m") is None and state.keys("m") == []


# ---------------------------------------------------------------- item 10: a dead Redis
def _kill_and_wait(pid):
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)


REAL = [pytest.mark.real_redis, needs_redis_server]


@pytest.mark.parametrize(
    ("kind", "victim"),
    [  # the embedded server lives inside its helper
        ("fake", "helper"),
        pytest.param("real", "helper", marks=REAL),
        pytest.param("real", "server", marks=REAL),
    ],
)
def test_a_killed_redis_gives_redis_unavailable_and_an_event(kind, victim):
    with fl.Lab(pods=1, state="redis", redis=kind) as lab:
        helper = psutil.Process(lab._redis.pid)
        pid = (
            helper.pid
            if victim == "helper"
            else next(p.pid for p in helper.children() if "redis-server" in " ".join(p.cmdline()))
        )
        _kill_and_wait(pid)
        for look in (lab.balances, lambda: lab.audit(wait=0)):
            with pytest.raises(fl.RedisUnavailable, match="does not answer") as caught:
                look()
            assert isinstance(caught.value, fl.LabError)
            assert not isinstance(caught.value, redis.RedisError)
            assert _password(lab.redis_url) not in str(caught.value)
        with pytest.raises(fl.RedisUnavailable):
            open_shared_books(lab)  # what switch_state runs on the way to Redis
        unreachable = [e for e in lab.history.events if e.kind == "redis" and e.detail == "unreachable"]
        assert len(unreachable) == 3
        if victim == "helper":
            assert "helper process has exited" in str(caught.value)


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_redis_down_refuses_connections_and_up_keeps_the_data(kind):
    """Real Redis used to be frozen (SIGSTOP): connects succeeded and commands hung until
    their timeout. Now both kinds stop listening and drop their clients."""
    server = RedisServer(kind).start()
    try:
        before = redis_client(server.url)
        before.set("kept", "yes")
        server.command("down")
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            redis_client(server.url).ping()  # a new connection: refused
        with pytest.raises(redis.ConnectionError):
            before.get("kept")  # an open connection: dropped
        assert time.monotonic() - started < defaults.REDIS_SOCKET_TIMEOUT  # refused, not timed out
        server.command("up")
        assert redis_client(server.url).get("kept") == "yes"
    finally:
        server.stop()


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_a_one_second_redis_outage_shows_in_the_run(kind):
    """With redis="real" the outage was a SIGSTOP: requests waited and then succeeded, so
    the lesson's outage showed no errors. The fault starts after request 10, so requests
    11 on are sent while Redis is down, whatever the machine's speed."""
    with fl.Lab(pods=2, state="redis", redis=kind) as lab:
        workload = [("balance", {"user": "Ravi"})] * 30
        run = lab.run(workload, chaos=[fl.chaos.redis_down(after=10, seconds=1.0)])
        failed = [r for r in run.requests if not r.ok]
        assert failed and all("Redis is unreachable" in r.error for r in failed)
        assert lab.call("balance", user="Ravi").value == 20_000  # back, with its data


# ---------------------------------------------------------------- item 11: a password on both
def _raw(port, payload, wait=0.3):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        time.sleep(wait)
        s.settimeout(0.5)
        chunks = []
        try:
            while chunk := s.recv(4096):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_no_command_reaches_redis_without_the_password(kind):
    server = RedisServer(kind).start()
    try:
        port, password = _port(server.url), _password(server.url)
        crore = b"*3\r\n$3\r\nSET\r\n$13\r\nbalance:Mallo\r\n$9\r\n990000000\r\n"
        reply = _raw(port, crore + b"GET balance:Ravi\r\nAUTH wrong-password\r\n")
        assert reply == (
            b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n"
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        )
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).set("balance:Mallo", 1)
        # AUTH and a command in one packet: the command runs, after the password
        set_x = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n"
        assert _raw(port, f"AUTH {password}\r\n".encode() + set_x) == b"+OK\r\n+OK\r\n"
        client = redis_client(server.url)
        assert client.get("balance:Mallo") is None and client.get("x") == "1"
        assert redis.Redis.from_url(server.url, protocol=3).ping()  # HELLO 3 AUTH default ...
        assert server.safe_url == f"redis://***@127.0.0.1:{port}/0"
    finally:
        server.stop()


def test_an_unauthenticated_flood_is_cut_off():
    server = RedisServer("fake").start()
    try:
        reply = _raw(_port(server.url), b"*1000000\r\n")
        assert reply.startswith(b"-ERR Protocol error")
    finally:
        server.stop()


@pytest.mark.parametrize("kind", REDIS_KINDS)
def test_the_password_is_on_no_command_line_and_in_no_event(kind):
    with fl.Lab(pods=1, state="redis", redis=kind) as lab:
        password = _password(lab.redis_url)
        helper = psutil.Process(lab._redis.pid)
        assert len([helper, *helper.children(recursive=True)]) == (2 if kind == "real" else 1)
        everyone = psutil.Process().children(recursive=True)  # helper, server, pods, guardian
        assert helper in everyone
        for proc in everyone:
            assert password not in " ".join(proc.cmdline())
            assert all(password not in v for v in proc.environ().values())
        lab.call("login", user="Ravi")
        assert all(password not in f"{e} {e.detail}" for e in lab.history.events)
        assert password not in repr(lab)
        if kind == "real":  # the helper's private door: a socket in a directory only we can open
            path = redis_client(lab.redis_url).config_get("unixsocket")["unixsocket"]
            assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


# ---------------------------------------------------------------- item 12: unguessable ids
def test_session_and_payment_ids_differ_between_labs_with_the_same_seed():
    seen = []
    for _ in range(2):
        with fl.Lab(pods=1, seed=7) as lab:
            login = lab.call("login", user="Ravi").value
            paid = lab.call("pay", sender="Ravi", receiver="Meena", amount=10, token=login["token"]).value
            sms = lab.call("notify", user="Ravi", message="hi").value["sms"][0]["id"]
            seen.append((login["session"], paid["payment"], sms))
            assert lab.call("whoami", user="Ravi", session=login["session"]).ok
    (s1, p1, n1), (s2, p2, n2) = seen
    assert s1 != s2 and p1 != p2 and n1 != n2
    assert len(s1) >= 2 + 32  # "s-" and 128 random bits
    assert p1.startswith("pod-1-0-") and n1.startswith("pod-1-0-")  # still says where it came from


def test_a_key_reused_for_another_payment_moves_nothing_and_shows_nothing(make_lab):
    """Keys were not bound to their payment: Ravi reusing Meena's key got her receipt
    (receiver, amount, her balance) back as an 'ok' repeat, and his payment never moved."""
    lab = make_lab(pods=1)
    meena = lab.call("login", user="Meena").value["token"]
    ravi = lab.call("login", user="Ravi").value["token"]
    assert lab.call("pay", sender="Meena", receiver="Landlord", amount=700, token=meena, key="k-42").ok
    r = lab.call("pay", sender="Ravi", receiver="Arjun", amount=50, token=ravi, key="k-42")
    assert not r.ok and "already used for a different payment" in r.error
    assert "Meena" not in r.error and "14,300" not in r.error
    assert lab.call("balance", user="Ravi").value == 20_000
    again = lab.call("pay", sender="Meena", receiver="Landlord", amount=700, token=meena, key="k-42")
    assert again.ok and again.value["repeated"] and lab.call("balance", user="Meena").value == 14_300
