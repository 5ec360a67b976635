"""finpay_lab.serve: one pod over HTTP, as a container runs it (issue 12).

Real processes on 127.0.0.1 (each listens on a port the OS picks and prints it), a real
redis-server, real signals. Every server a test starts is stopped and reaped by the test.
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest

import finpay_lab as fl
from finpay_lab import defaults, serve
from finpay_lab.stores.redis_server import RedisServer

from .conftest import gone, needs_redis_server

SECRET = "test-secret-shared-by-both-pods"
GUARD = 30.0  # seconds: only guards against a hang


class Server:
    """One ``python -m finpay_lab.serve`` process."""

    def __init__(self, name, redis_url=None, args=(), cwd=None, env=None):
        environ = {
            k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "FINPAY_SECRET")
        }
        self.sms_dir = tempfile.mkdtemp(prefix="finpay-serve-test-")  # its SMS gateway's log, removed at stop
        environ.update(
            POD_NAME=name,
            FINPAY_SECRET=SECRET,
            FINPAY_SMS_LOG=os.path.join(self.sms_dir, "sms.jsonl"),
            **(env or {}),
        )
        if redis_url:
            environ["REDIS_URL"] = redis_url
        self.name = name
        # The test's own address comes last, so it wins over a --port in args (a Deployment's command).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "finpay_lab.serve", *args, "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=environ,
        )
        self.stderr = []
        self.reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self.reader.start()
        line = _readline(self.proc.stdout)
        assert " on http://127.0.0.1:" in line, f"no address from {name}: {line!r} {''.join(self.stderr)}"
        self.port = int(line.split("http://127.0.0.1:")[1].split()[0])

    def request(self, method, path, body=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=GUARD)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def post(self, endpoint, **params):
        return self.request("POST", f"/{endpoint}", params)

    def wait_ready(self):
        deadline = time.monotonic() + GUARD
        while time.monotonic() < deadline:
            status, reply = self.request("GET", "/readyz")
            if status == 200:
                return reply
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never became ready: {reply}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(GUARD)
        self.proc.stdout.close()
        shutil.rmtree(self.sms_dir, ignore_errors=True)
        self.proc.stderr.close()
        assert gone(self.proc.pid)


def _readline(stream):
    """The server's first line (its address), without hanging if it never comes."""
    box = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(GUARD)
    return box[0] if box else ""


@pytest.fixture
def servers():
    started = []

    def start(*args, **kwargs):
        server = Server(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    assert not [
        p for p in psutil.Process().children(recursive=True) if "finpay_lab.serve" in " ".join(p.cmdline())
    ]


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer("real").start(str(tmp_path))
    try:
        yield server.url
    finally:
        server.stop()


# ---------------------------------------------------------------- two pods, one Redis
@pytest.mark.real_redis
@needs_redis_server
def test_two_pods_share_one_redis_sessions_and_idempotent_payments(servers, redis_url):
    a, b = servers("pod-a", redis_url), servers("pod-b", redis_url)
    a.wait_ready(), b.wait_ready()

    status, login = a.post("login", user="Ravi")
    assert status == 200 and login["ok"] and login["pod"] == "pod-a"
    session, token = login["value"]["session"], login["value"]["token"]

    status, who = b.post("whoami", user="Ravi", session=session)  # made on pod-a, seen on pod-b
    assert (status, who["value"], who["pod"]) == (200, "Ravi", "pod-b")

    pay = {"sender": "Ravi", "receiver": "Landlord", "amount": 5000, "token": token, "key": "rent-nov"}
    status, first = a.post("pay", **pay)
    assert status == 200 and first["value"]["repeated"] is False
    status, retry = b.post("pay", **pay)  # the client's retry lands on the other pod
    assert status == 200 and retry["value"]["repeated"] is True
    assert retry["value"]["payment"] == first["value"]["payment"] == "rent-nov"
    assert b.post("balance", user="Ravi")[1]["value"] == 20_000 - 5000  # moved once
    assert a.post("balance", user="Landlord")[1]["value"] == 5000


@pytest.mark.real_redis
@needs_redis_server
def test_a_pod_opens_only_the_accounts_the_store_lacks(servers, redis_url):
    """A pod starting beside a running one (a rollout, a scale-up) must not reset the books."""
    a = servers("pod-a", redis_url)
    a.wait_ready()
    token = a.post("login", user="Ravi")[1]["value"]["token"]
    assert a.post("pay", sender="Ravi", receiver="Meena", amount=700, token=token)[0] == 200
    b = servers("pod-b", redis_url)
    b.wait_ready()
    assert b.post("balance", user="Ravi")[1]["value"] == 20_000 - 700


def test_memory_pods_each_keep_their_own_sessions(servers):
    """No REDIS_URL: pod memory, as state="memory": the course's lost session, over HTTP."""
    a, b = servers("pod-a"), servers("pod-b")
    assert a.wait_ready()["ok"] and b.wait_ready()["ok"]
    assert a.request("GET", "/")[1]["value"]["state"] == "memory"
    session = a.post("login", user="Ravi")[1]["value"]["session"]
    assert a.post("whoami", user="Ravi", session=session)[0] == 200
    status, reply = b.post("whoami", user="Ravi", session=session)
    assert status == 422 and "unknown session" in reply["error"] and "pod-b" in reply["error"]


# ---------------------------------------------------------------- bad requests
BAD = [
    ("POST", "/transfer", b'{"user": "Ravi"}', 404, "unknown endpoint 'transfer' (this app has: add_balance"),
    ("POST", "/__peek__", b"{}", 404, "names starting with '__' are the lab's own"),
    ("POST", "/", b"{}", 405, "/ answers GET; call an endpoint with POST /<endpoint>"),
    ("POST", "/balance", b'{"user": ', 400, "the body is not JSON"),
    ("POST", "/balance", b'["Ravi"]', 400, "balance: parameters must be a dict of name=value"),
    ("POST", "/balance", b'"Ravi"', 400, "balance: parameters must be a dict of name=value"),
    ("POST", "/balance", b'{"user": 5}', 400, "balance: user must be str, got int 5"),
    ("POST", "/balance", b"{}", 400, "balance: missing required parameter 'user'"),
    ("POST", "/balance", b'{"user": "Ravi", "pod": "pod-1"}', 400, "balance: unexpected parameter 'pod'"),
    (
        "POST",
        "/pay",
        b'{"sender": "Ravi", "receiver": "Meena", "amount": true, "token": "x"}',
        400,
        "pay: amount must be int, got bool True",
    ),
    ("POST", "/balance", b'{"user": "' + b"x" * 70_000 + b'"}', 413, "the request body is over 65,536 bytes"),
    ("GET", "/balance", None, 405, "call an endpoint with POST /balance"),
    ("POST", "/readyz", b"{}", 405, "/readyz answers GET"),
    ("POST", "/balance", b'{"user": "Nobody"}', 422, "unknown customer 'Nobody'"),
    (
        "POST",
        "/pay",
        b'{"sender": "Ravi", "receiver": "Meena", "amount": 5, "token": "forged"}',
        422,
        "invalid token",
    ),
]


def test_bad_requests_get_a_4xx_and_the_lab_s_words_and_the_pod_keeps_serving(servers):
    pod = servers("pod-a")
    pod.wait_ready()
    for method, path, raw, status, words in BAD:
        got, reply = pod.request(method, path, raw=raw)
        assert (got, reply["ok"], reply["pod"]) == (status, False, "pod-a"), (path, raw and raw[:60], reply)
        assert words in reply["error"], (path, reply["error"])
        assert pod.post("balance", user="Ravi") == (
            200,
            {"ok": True, "value": 20_000, "error": None, "pod": "pod-a"},
        )
    assert pod.proc.poll() is None


def test_a_handler_bug_is_a_500_and_the_pod_keeps_serving(servers, tmp_path):
    app = _notebook_app("""
app = fl.App("buggy")
@app.endpoint
def divide(state, a: int, b: int):
    return a // b
""")
    serve.export(app, tmp_path / "buggy.py")
    pod = servers("pod-a", args=["--app", "buggy:app"], cwd=tmp_path)
    pod.wait_ready()
    status, reply = pod.post("divide", a=1, b=0)
    assert (
        status == 500
        and reply["error"] == "divide failed: ZeroDivisionError: integer division or modulo by zero"
    )
    assert pod.post("divide", a=7, b=2)[1]["value"] == 3


def test_a_pod_whose_redis_does_not_answer_is_alive_but_not_ready(servers):
    with socket_closed_port() as port:
        pod = servers("pod-a", f"redis://127.0.0.1:{port}/0")
        assert pod.request("GET", "/healthz") == (
            200,
            {"ok": True, "value": "alive", "error": None, "pod": "pod-a"},
        )
        # Not ready from the first moment; the reason names the store once its first try
        # has failed (the server answers probes before that try ends: poll, never ready).
        deadline = time.monotonic() + GUARD
        while True:
            status, ready = pod.request("GET", "/readyz")
            assert status == 503
            if "does not answer" in ready["error"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert "does not answer" in ready["error"]
        status, reply = pod.post("balance", user="Ravi")
        assert status == 503 and "pod-a is not ready" in reply["error"]


class socket_closed_port:
    """A port nothing listens on (bound, never listening, so nothing else takes it)."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_a_database_url_it_cannot_open_is_refused_with_a_clear_error():
    env = dict(
        os.environ, DATABASE_URL="mysql://x@localhost/finpay"
    )  # served with a database: test_finpay_db.py
    done = subprocess.run(
        [sys.executable, "-m", "finpay_lab.serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=GUARD,
    )
    assert done.returncode == 2
    assert "is no database this pod can open: use postgresql://" in done.stderr


# ---------------------------------------------------------------- SIGTERM
@pytest.mark.real_redis
@needs_redis_server
def test_sigterm_fails_readiness_finishes_the_request_in_flight_and_exits_0(servers, tmp_path, redis_url):
    """With Redis, a pod serves requests side by side (pod memory serves one at a time: its
    lock is held for the whole request, as a lab pod runs one), so one can be held."""
    assert serve.export(_holder_app(), tmp_path / "holdapp.py") == "holdapp:app"
    # A long drain, ended on purpose by a second SIGTERM: nothing here depends on timing.
    pod = servers("pod-a", redis_url, args=["--app", "holdapp:app", "--drain-seconds", "600"], cwd=tmp_path)
    pod.wait_ready()
    gate = str(tmp_path / "gate")
    held = {}
    caller = threading.Thread(target=lambda: held.update(reply=pod.post("hold", gate=gate)))
    caller.start()
    _wait_for(lambda: os.path.exists(gate + ".started"), "the held request to start")

    pod.proc.send_signal(signal.SIGTERM)
    _wait_for(lambda: pod.request("GET", "/readyz")[0] == 503, "/readyz to fail after SIGTERM")
    status, ready = pod.request("GET", "/readyz")
    assert status == 503 and ready["error"].startswith("draining: SIGTERM received")
    assert pod.request("GET", "/healthz")[0] == 200  # alive: do not restart it
    assert pod.post("ping") == (
        200,
        {"ok": True, "value": "pong", "error": None, "pod": "pod-a"},
    )  # still serving

    pod.proc.send_signal(signal.SIGTERM)  # the drain is over: stop accepting, finish what is in flight
    _wait_for(lambda: _refused(pod.port), "the pod to stop accepting")
    assert pod.proc.poll() is None and caller.is_alive()  # waiting for the request in flight
    open(gate, "w").close()
    caller.join(GUARD)
    assert held["reply"] == (200, {"ok": True, "value": "released on pod-a", "error": None, "pod": "pod-a"})
    assert pod.proc.wait(GUARD) == 0
    assert "pod-a is draining" in "".join(pod.stderr)


HOLDER = """
import os, time
app = fl.App("holder")
@app.endpoint
def hold(state, gate: str):
    open(gate + ".started", "w").close()
    while not os.path.exists(gate):
        time.sleep(0.01)
    return "released on " + fl.this_pod().name

@app.endpoint
def ping(state):
    return "pong"
"""


def _holder_app():
    """``hold`` answers once the file ``gate`` exists (and says it started): a request kept
    in flight for exactly as long as the test wants."""
    return _notebook_app(HOLDER)


@pytest.mark.real_redis
@needs_redis_server
def test_readyz_answers_while_every_request_thread_is_busy(servers, tmp_path, redis_url):
    """A kubelet's probe must not queue behind slow requests (it would time out, and a busy
    pod would be taken out of rotation): probes have their own thread."""
    serve.export(_holder_app(), tmp_path / "holdapp.py")
    pod = servers("pod-a", redis_url, args=["--app", "holdapp:app"], cwd=tmp_path)
    pod.wait_ready()
    gates = [str(tmp_path / f"gate-{i}") for i in range(defaults.SERVE_THREADS)]
    callers = [threading.Thread(target=pod.post, args=("hold",), kwargs={"gate": g}) for g in gates]
    for caller in callers:
        caller.start()
    _wait_for(lambda: all(os.path.exists(g + ".started") for g in gates), "every request thread to be busy")
    conn = http.client.HTTPConnection("127.0.0.1", pod.port, timeout=10)  # blocked, it would wait for a gate
    try:
        conn.request("GET", "/readyz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
        for g in gates:
            open(g, "w").close()
        for caller in callers:
            caller.join(GUARD)


def _refused(port):
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def _wait_for(condition, what):
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


# ---------------------------------------------------------------- the app
def _notebook_app(source):
    """An app defined as in a notebook cell (module __main__): exported by value."""
    namespace = {"__name__": "__main__", "fl": fl}
    exec(source, namespace)
    return namespace["app"]


def test_the_app_is_found_by_module_and_name():
    assert serve.load_app("finpay_lab.finpay:app") is fl.finpay.app  # a lazy name of the package
    assert serve.load_app("finpay_lab.services.finpay:app") is fl.finpay.app
    for spec, words in [
        ("finpay_lab.finpay", "--app must be MODULE:NAME"),
        ("nosuchmodule:app", "cannot import nosuchmodule"),
        ("finpay_lab.finpay:CAST", "finpay_lab.finpay.CAST is dict, not an fl.App"),
    ]:
        with pytest.raises(fl.BadInput, match=words):
            serve.load_app(spec)


def test_export_writes_a_module_that_serves_the_same_app(tmp_path):
    app = _notebook_app("""
app = fl.App("counter")
BONUS = 1000
@app.endpoint
def update_balance(state, amount: int, user="Ravi"):
    return state.incr(f"balance:{user}", amount, initial=BONUS)
""")
    assert serve.export(app, tmp_path / "counter.py") == "counter:app"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finpay_lab.serve import load_app; from finpay_lab import "
            "MemoryState; a = load_app('counter:app'); print(a.handle(MemoryState(), "
            "'update_balance', {'amount': 5}))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD,
    )
    assert done.stdout.strip() == "(True, 1005, None)", done.stderr
    for bad in ("counter.txt", "my-app.py"):
        with pytest.raises(fl.BadInput, match="export writes a Python module"):
            serve.export(app, tmp_path / bad)
    with pytest.raises(fl.BadInput, match="export takes an fl.App"):
        serve.export("app", tmp_path / "x.py")


def test_replies_leave_at_once_tcp_nodelay_on_every_connection():
    """The listening socket says it is TCP, so asyncio sets TCP_NODELAY on each accepted
    connection. Without it (a plain ``socket.socket()``, proto 0) every reply waited ~40 ms
    for the client's delayed ACK: 44 ms per request measured, against 0.5 ms with it."""
    import asyncio
    import socket

    async def accepted_nodelay():
        seen = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = serve.listen("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        client = socket.create_connection(listener.getsockname(), timeout=GUARD)
        try:
            return await asyncio.wait_for(seen, GUARD)
        finally:
            client.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_failing_startup_hook_fails_the_container_visibly(tmp_path):
    """Like a container that crashes on start: exit 1 and the reason (its restarts show it)."""
    app = _notebook_app("""
app = fl.App("broken")
@app.startup
def connect(state):
    raise RuntimeError("no such queue")
@app.endpoint
def ping(state):
    return "pong"
""")
    serve.export(app, tmp_path / "broken.py")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "finpay_lab.serve",
            "--app",
            "broken:app",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD,
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"},
    )
    assert done.returncode == 1
    assert "a startup hook of broken failed: RuntimeError: no such queue" in done.stderr
