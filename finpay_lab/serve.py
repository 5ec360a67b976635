"""One pod as a container runs it: an ``fl.App`` served over HTTP.

    python -m finpay_lab.serve --app finpay_lab.finpay:app --port 8080

In the lab, a pod is a process the lab feeds over a pipe. In a cluster, a pod is a
container a Service feeds over HTTP. This module is that container's process, with the
same app, the same ``App.handle`` and the same ``State`` classes:

    POST /<endpoint>   JSON params  →  JSON {"ok", "value", "error", "pod"}
    GET  /healthz      alive (liveness: restart me if this stops answering)
    GET  /readyz       ready (readiness: send me traffic): the startup hooks ran, the
                       store answers, and no SIGTERM has arrived

What a lab passes to its pods comes from the environment, as Kubernetes passes it:

    REDIS_URL      the shared Redis (state="redis"); unset: pod memory (state="memory")
    FINPAY_SECRET  signs login tokens; every pod needs the same one (a Secret)
    POD_NAME       this pod's name (the downward API); unset: the hostname
    DATABASE_URL   the SQL database (``postgresql://…``, or ``sqlite:///an/absolute/file.db``
                   for one pod): the books, as ``fl.Lab(db=...)`` keeps them; each
                   request thread has its own connection (``stores/sql.py``)
    FINPAY_SMS_LOG where the SMS gateway writes (default: a file in the temp dir)

On start it opens the app's default accounts where the store has none yet (never
overwriting one: pods start beside others, in a scale-up or a rollout), then runs the
app's startup hooks (``App.on_start``). Until then, and while the store does not answer,
``/readyz`` says 503 and why.

A pod never runs the app's **lab-start hooks** (``App.on_lab_start``, ``@app.lab_start``):
a lab runs them once, before its first pod, to make tables and open the books afresh; N
pods doing that as each starts would race and reset each other's books. That step is a
command of its own, run once before the first pod, as a Kubernetes Job would run it:

    python -m finpay_lab.serve --app finpay_lab.finpay:app --init

It runs the hooks against ``REDIS_URL`` and ``DATABASE_URL`` (once they answer) on a lab
with no pods (``serve_pod.ServedLab``), so the stores begin as the same app's would in a
lab, and exits 0, or 1 with the reason. For FinPay that is the books afresh (balances
opened again, sessions and queued SMS gone): never run it against books you mean to keep.

SIGTERM (Kubernetes deleting the pod, after the preStop hook): ``/readyz`` fails at once,
the pod keeps serving for ``--drain-seconds`` (load balancers that have not yet noticed
still reach it), then stops accepting connections, finishes the requests in flight, and
exits 0.

The server is uvicorn (an ASGI server): one process, two small dependencies (h11, click),
and a graceful shutdown that stops accepting, then waits for in-flight requests. Handlers
are plain blocking functions, so each request runs in a thread pool, as a pod runs them.

A learner's app from a notebook: ``finpay_lab.serve.export(app, "myapp.py")`` writes a
module that holds it (the same by-value copy the lab ships to its pods), then
``python -m finpay_lab.serve --app myapp:app``.
"""

import argparse
import asyncio
import base64
import concurrent.futures
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time

from . import defaults
from .errors import BadInput, LabError
from .runtime import wire
from .runtime.app import App
from .serve_pod import Pod, _cause, _safe, init_command

DEFAULT_APP = "finpay_lab.finpay:app"
DEFAULT_PORT = 8080
COMMAND = ["python", "-m", "finpay_lab.serve"]  # what the Dockerfile and the Deployment run


# ---------------------------------------------------------------- finding the app
def load_app(spec: str) -> App:
    """``"module:name"`` → the ``fl.App`` it names. ``finpay_lab.finpay`` is a lazy name of
    the package (not a file), so ``finpay_lab.<x>`` is also looked up on the package."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise BadInput(f"--app must be MODULE:NAME, like {DEFAULT_APP} or myapp:app; not {spec!r:.60}")
    module_name, name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        package, _, attr = module_name.partition(".")
        module = None
        if package == "finpay_lab" and attr and "." not in attr:
            import finpay_lab

            try:
                module = getattr(finpay_lab, attr)
            except AttributeError:
                pass
        if module is None:
            raise BadInput(
                f"--app {spec}: cannot import {module_name} ({exc}); is its file on PYTHONPATH "
                "(or in the working directory)?"
            ) from exc
    app = getattr(module, name, None)
    if not isinstance(app, App):
        raise BadInput(f"--app {spec}: {module_name}.{name} is {type(app).__name__}, not an fl.App")
    return app


def export(app, path) -> str:
    """Write ``app`` (built in a notebook, say) to a module file ``path``, so that
    ``python -m finpay_lab.serve --app <module>:app`` serves it. Returns the ``--app`` value.

    The module holds the app by value, exactly as the lab ships it to its pods (dill, the
    handlers with the globals they use), so what was tested in the lab is what is served.
    Like any pickle of code, it loads only on the same Python version (the file checks)."""
    if not isinstance(app, App):
        raise BadInput(f"export takes an fl.App, not {type(app).__name__}")
    path = os.fspath(path)
    module = os.path.splitext(os.path.basename(path))[0]
    if not path.endswith(".py") or not module.isidentifier():
        raise BadInput(f"export writes a Python module: a path like 'myapp.py', not {path!r:.60}")
    blob = base64.b64encode(wire.ship_app(app)).decode()
    lines = [blob[i : i + 100] for i in range(0, len(blob), 100)]
    version = list(sys.version_info[:2])
    text = (
        f'"""The fl.App {app.name!r} (endpoints: {", ".join(sorted(app.endpoints)) or "none"}), exported by\n'
        "finpay_lab.serve.export. Serve it with:\n\n"
        f"    python -m finpay_lab.serve --app {module}:app --port {DEFAULT_PORT}\n\n"
        "It holds the app by value (its handlers and the globals they use), as the lab ships it\n"
        'to its pods; it loads on the Python version that wrote it."""\n\n'
        "import base64\nimport sys\n\nimport dill\n\n"
        f"if list(sys.version_info[:2]) != {version}:\n"
        f"    raise ImportError('this app was exported with Python {version[0]}.{version[1]}: run it on that "
        "version (the image\\'s base), or export it again from a notebook on this one')\n\n"
        "_BLOB = (\n" + "".join(f'    "{line}"\n' for line in lines) + ")\n"
        "app = dill.loads(base64.b64decode(_BLOB))\n"
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return f"{module}:app"


# ---------------------------------------------------------------- HTTP
class HttpApp:
    """The ASGI app: routes, reads bodies (bounded), runs requests in a thread pool."""

    def __init__(self, pod, threads=defaults.SERVE_THREADS, max_body=defaults.SERVE_MAX_BODY):
        self.pod = pod
        self.max_body = max_body
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="request")
        # Probes have their own thread: a kubelet asking /readyz must not queue behind slow
        # requests (it would time out and take a busy pod out of rotation).
        self.probes = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="probe")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        method, path, pod = scope["method"], scope["path"], self.pod
        loop = asyncio.get_running_loop()
        if path in ("/healthz", "/readyz", "/"):
            if method not in ("GET", "HEAD"):
                return await _send(
                    send,
                    405,
                    pod.reply(False, None, f"{path} answers GET; call an endpoint with POST /<endpoint>"),
                )
            if path == "/healthz":
                return await _send(send, 200, pod.reply(True, "alive", None))
            if path == "/":
                info = {"app": pod.app.name, "endpoints": sorted(pod.app.endpoints), "state": pod.kind}
                return await _send(send, 200, pod.reply(True, info, None))
            ready, why = await loop.run_in_executor(self.probes, pod.readiness)
            return await _send(send, 200 if ready else 503, pod.reply(ready, "ready" if ready else None, why))
        endpoint = path[1:]
        if method != "POST":
            return await _send(
                send,
                405,
                pod.reply(
                    False,
                    None,
                    f"call an endpoint with POST {path} and "
                    'its parameters as a JSON object, like {"user": "Ravi"}',
                ),
            )
        body = await self._body(scope, receive)
        if body is None:
            return await _send(
                send,
                413,
                pod.reply(
                    False,
                    None,
                    f"the request body is over {self.max_body:,} bytes: send the endpoint's parameters only",
                ),
            )
        try:
            params = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return await _send(
                send,
                400,
                pod.reply(
                    False,
                    None,
                    f"the body is not JSON ({exc}): send the "
                    'parameters as a JSON object, like {"user": "Ravi"}',
                ),
            )
        status, reply = await loop.run_in_executor(self.pool, pod.call, endpoint, params)
        await _send(send, status, reply)

    async def _body(self, scope, receive):
        """The whole body, or None if it is over the limit (told or counted)."""
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _send(send, status, body):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, with Kubernetes' order of shutdown. SIGTERM: readiness fails, keep
        serving ``drain_seconds``, then uvicorn's graceful shutdown (stop accepting, finish
        in-flight requests), and exit 0: not re-raised (uvicorn >= 0.29 re-raises the
        signals it caught, and a pod that dies of SIGTERM exits 143, not 0)."""

        pod = None
        drain_seconds = 0.0
        drain_until = None

        def handle_exit(self, sig, frame):
            if sig == signal.SIGTERM and self.drain_until is None:
                self.pod.draining = True
                self.drain_until = time.monotonic() + self.drain_seconds
                print(f"finpay_lab.serve: SIGTERM: {self.pod.name} is draining", file=sys.stderr, flush=True)
            elif sig == signal.SIGTERM:  # a second SIGTERM: stop waiting
                self.drain_until = 0.0
            else:  # Ctrl-C: uvicorn's own (graceful, a second one forces)
                self.should_exit, self.force_exit = True, self.should_exit

        async def on_tick(self, counter):
            if self.drain_until is not None and time.monotonic() >= self.drain_until:
                self.should_exit = True
            return await super().on_tick(counter)

    return Server


def listen(host, port):
    """The listening socket (port 0: one the OS picks). Made with ``proto=IPPROTO_TCP``, not
    0: asyncio turns on TCP_NODELAY only for sockets that say they are TCP, and without it
    every reply waits ~40 ms (Nagle's algorithm meets the client's delayed ACK)."""
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(socket.SOMAXCONN)
    return sock


def _environment():
    database = os.environ.get("DATABASE_URL") or None
    if database is not None and not (
        database.startswith(("postgresql://", "postgres://"))
        or (database.startswith("sqlite:///") and len(database) > len("sqlite:///"))
    ):
        raise LabError(
            f"DATABASE_URL={database.split('@')[-1]!r:.60} is no database this pod can open: use "
            "postgresql://user:password@host:5432/dbname (or sqlite:///an/absolute/path.db for one pod)"
        )
    return {
        "redis_url": os.environ.get("REDIS_URL") or None,
        "secret": os.environ.get("FINPAY_SECRET") or None,
        "name": os.environ.get("POD_NAME") or socket.gethostname(),
        "sms_log": os.environ.get("FINPAY_SMS_LOG"),
        "db_url": database,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m finpay_lab.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--app", default=DEFAULT_APP, help=f"MODULE:NAME of an fl.App (default {DEFAULT_APP})"
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.SERVE_DRAIN_SECONDS,
        help="after SIGTERM, keep serving this long with /readyz failing",
    )
    parser.add_argument(
        "--init",
        action="store_true",
        help="run the app's lab-start hooks once against REDIS_URL/DATABASE_URL, then exit (a Job)",
    )
    args = parser.parse_args(argv)
    try:
        env = _environment()
        app = load_app(args.app)
    except LabError as exc:
        print(f"finpay_lab.serve: {exc}", file=sys.stderr, flush=True)
        return 2
    if args.init:
        return init_command(app, env)
    if app.on_lab_start:
        hooks = ", ".join(getattr(h, "__name__", "?") for h in app.on_lab_start)
        print(
            f"finpay_lab.serve: {app.name} has lab-start hooks ({hooks}); a pod never "
            "runs them: `python -m finpay_lab.serve --init` does, once, before the first pod",
            file=sys.stderr,
            flush=True,
        )
    if env["secret"] is None:
        import secrets

        env["secret"] = secrets.token_hex(16)
        print(
            "finpay_lab.serve: FINPAY_SECRET is not set: this pod signs tokens with its own secret, which no "
            "other pod shares (set it, from a Secret, for more than one pod)",
            file=sys.stderr,
            flush=True,
        )
    pod = Pod(app, env["name"], env["redis_url"], env["secret"], env["sms_log"], db_url=env["db_url"])
    sock = listen(args.host, args.port)
    http = HttpApp(pod)

    import uvicorn

    config = uvicorn.Config(
        http,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=defaults.SERVE_GRACEFUL_TIMEOUT,
    )
    server = _server_class()(config)
    server.pod, server.drain_seconds = pod, max(0.0, args.drain_seconds)

    def start():
        try:
            pod.start()
        except BaseException as exc:  # a startup hook failed: the container fails, visibly
            print(
                f"finpay_lab.serve: a startup hook of {app.name} failed: {_cause(exc)}",
                file=sys.stderr,
                flush=True,
            )
            os._exit(1)

    threading.Thread(target=start, name="startup", daemon=True).start()
    port = sock.getsockname()[1]
    books = f", db={_safe(env['db_url'])}" if env["db_url"] else ""
    print(
        f"finpay_lab.serve: {app.name} on http://{args.host}:{port} as {pod.name} (state={pod.kind!r}{books})",
        flush=True,
    )
    server.run(sockets=[sock])
    for pool in (http.pool, http.probes):
        pool.shutdown(wait=False, cancel_futures=True)
    print(f"finpay_lab.serve: {pod.name} stopped", file=sys.stderr, flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # a handler stuck past the grace period must not hold the exit


if __name__ == "__main__":
    sys.exit(main())
