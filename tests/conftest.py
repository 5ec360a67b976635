"""Shared fixtures: one test body, several backends (memory, fake Redis, real Redis)."""

import os
import shutil
import time

import psutil
import pytest

import finpay_lab as fl

HAVE_REDIS_SERVER = shutil.which("redis-server") is not None
needs_redis_server = pytest.mark.skipif(not HAVE_REDIS_SERVER, reason="redis-server is not on PATH")

# (state, redis) pairs every backend-agnostic test runs against.
BACKENDS = [
    pytest.param(("memory", "fake"), id="memory"),
    pytest.param(("redis", "fake"), id="redis-fake"),
    pytest.param(("redis", "real"), id="redis-real", marks=[pytest.mark.real_redis, needs_redis_server]),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=["memory", "redis-fake", pytest.param("redis-real", marks=needs_redis_server)])
def state(request):
    """A State of each kind on its own (no pods): memory, or a Redis server of each kind."""
    from finpay_lab.stores.redis_server import RedisServer
    from finpay_lab.stores.state import MemoryState, RedisState

    if request.param == "memory":
        yield MemoryState()
        return
    server = RedisServer(request.param.split("-")[1]).start()
    try:
        s = RedisState(server.url)
        yield s
        s.close()
    finally:
        server.stop()


@pytest.fixture
def make_lab(backend):
    """Build labs on the parametrized backend; every one is closed after the test."""
    labs = []

    def make(**kwargs):
        state, redis = backend
        kwargs.setdefault("state", state)
        kwargs.setdefault("redis", redis)
        lab = fl.Lab(**kwargs)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()


def gone(pid, within=5.0):
    """True once ``pid`` no longer runs (a zombie counts as gone: it runs nothing)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def finpay_processes():
    """Processes started for a lab by this test process (pods and Redis helpers)."""
    found = []
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "finpay_lab.stores.redis_server" in cmd or "redis-server" in cmd:
            found.append(proc)
    return found
