"""One pod over HTTP, the part that is not HTTP: the app, its ``State`` and database, its
startup (default accounts, hooks) and readiness, and one request's call through
``App.serve`` into a JSON reply. ``serve.py`` puts it behind uvicorn; read that first.

And ``init``, what ``serve --init`` runs instead of a pod: the app's lab-start hooks
(``App.on_lab_start``), once, against a ``ServedLab``: the part of a lab those hooks read
(``state``, ``accounts``, ``redis_url``, ``db``, ``sql``...), backed by the served stores.
"""

import functools
import json
import os
import random
import tempfile
import threading
import time

import redis as redis_py

from . import defaults
from .errors import BadInput, DatabaseError, LabError, Rejected
from .runtime import pod_loop
from .runtime.app import App
from .runtime.arguments import check_endpoint
from .stores.state import make_state

_call = threading.local()  # what the handler of this thread's request did


def _traced(fn):
    """The handler, noting on this thread whether it ran and what it raised: ``App.handle``
    turns every exception into an error string, and HTTP needs the cause as a status."""

    @functools.wraps(fn)  # the same signature: App's parameter checks see the handler's own
    def run(*args, **kwargs):
        _call.entered = True
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            _call.raised = exc
            raise

    return run


class Pod:
    """The app, its state and its readiness: everything but HTTP."""

    def __init__(
        self,
        app,
        name,
        redis_url=None,
        secret=None,
        sms_log=None,
        sms_seconds=defaults.SMS_SECONDS,
        db_url=None,
    ):
        self.app = app
        self.name = name
        self.kind = "redis" if redis_url else "memory"
        self.db = Connections(db_url) if db_url else None
        # What the lab tells each pod (runtime/lab.py, Lab.__init__), from the environment.
        self.config = {
            "name": name,
            "state": self.kind,
            "redis_url": redis_url,
            "seed": defaults.SEED,
            "restarts": 0,
            "accounts": dict(app.default_accounts),
            "secret": secret,
            "gateway": sms_log or os.path.join(tempfile.gettempdir(), f"finpay-sms-{name}.jsonl"),
            "sms_seconds": sms_seconds,
            "db_url": db_url,
        }
        self.served = App(app.name)  # the same handlers, traced; App.handle does the rest
        for endpoint, fn in app.endpoints.items():
            self.served.endpoint(_traced(fn), name=endpoint)
        self.state = make_state(self.kind, redis_url)
        self.started = False
        self.draining = False
        self.why_not_ready = "starting: the startup hooks have not run yet"

    def start(self):
        """Open the default accounts where the store has none, then run the startup hooks.
        A store that does not answer yet is retried (alive, not ready); a hook that fails
        is fatal, as a crashing container is (its restarts show the error)."""
        context = pod_loop.PodContext(
            self.name,
            os.getpid(),
            0,
            self.config,
            random.Random(f"{defaults.SEED}:{self.name}:0"),
            self.state,
            db=self.db,
            settings=dict(getattr(self.app, "settings", None) or {}),
        )
        pod_loop.install(context)  # what fl.this_pod() answers in a handler
        while True:
            try:
                self.store_answers()
                open_books = getattr(self.app, "open_books", None)
                if self.db is not None and open_books is not None:  # tables and accounts the database lacks
                    open_books(self.db.sql, self.app.default_accounts)
                elif self.kind == "redis":  # memory: the app's own hook opens each pod's books
                    for user, amount in self.app.default_accounts.items():
                        self.state.incr(f"balance:{user}", 0, initial=amount)  # SET NX: never overwrites
                break
            except Exception as exc:
                if not _unreachable(exc):
                    raise  # not a store still starting: a bug, or books it cannot open
                self.why_not_ready = f"starting: the store does not answer yet ({_cause(exc)})"
                time.sleep(defaults.SERVE_RETRY)
        for hook in self.app.on_start:
            hook(self.state)
        self.started = True

    def store_answers(self):
        if self.kind == "redis":
            self.state.redis.ping()
        if self.db is not None:
            self.db.sql("SELECT 1 AS one")

    def readiness(self):
        """(ready, why not)."""
        if self.draining:
            return False, "draining: SIGTERM received, finishing the requests in flight"
        if not self.started:
            return False, self.why_not_ready
        try:
            self.store_answers()
        except Exception as exc:
            return False, f"the store does not answer ({_cause(exc)})"
        return True, None

    def call(self, endpoint, params):
        """One request: (HTTP status, body)."""
        try:
            check_endpoint(endpoint)
        except BadInput as exc:
            return 404, self.reply(False, None, str(exc))
        if endpoint not in self.served:
            return 404, self.reply(*self.served.handle(self.state, endpoint, params))
        if not self.started:
            return 503, self.reply(False, None, f"{self.name} is not ready: {self.why_not_ready}")
        _call.entered, _call.raised = False, None
        ok, value, error = self.served.handle(self.state, endpoint, params)
        if ok:
            try:
                return 200, self.reply(True, value, None)
            except (TypeError, ValueError) as exc:
                return 500, self.reply(False, None, f"{endpoint} returned a value JSON cannot hold ({exc})")
        if not _call.entered:  # refused before the handler ran: the request's parameters
            return 400, self.reply(False, None, error)
        raised = _call.raised
        if isinstance(raised, Rejected):
            return 422, self.reply(False, None, error)
        if _unreachable(raised):
            return 503, self.reply(False, None, error)
        return 500, self.reply(False, None, error)

    def reply(self, ok, value, error):
        if type(error) is str and len(error) > defaults.ERROR_LIMIT:
            error = error[: defaults.ERROR_LIMIT - 1] + "…"
        return json.dumps(
            {"ok": ok, "value": value, "error": error, "pod": self.name}, ensure_ascii=False
        ).encode()


class ServedLab:
    """What an app's lab-start hooks read of ``lab``, for the stores a served pod is given
    (``REDIS_URL``, ``DATABASE_URL``): a lab with no pods, whose stores someone else runs."""

    def __init__(self, app, redis_url=None, db_url=None, say=print):
        self.app = app
        self.state = "redis" if redis_url else "memory"
        self.redis_url = redis_url
        self.redis = _ServedRedis(redis_url)
        self.accounts = dict(app.default_accounts)
        self.seed = defaults.SEED
        self.db_url = db_url
        self.db = Connections(db_url) if db_url else None
        self.say = say  # where what the hooks record goes (record_event): serve --init prints it
        self._t0 = time.monotonic()

    def now(self):
        return time.monotonic() - self._t0

    def sql(self, query, **params):
        """One statement in its own transaction, as ``lab.sql``: the rows, a list of dicts."""
        if self.db is None:
            raise LabError("a lab-start hook ran lab.sql, but no DATABASE_URL is set: set it to the database")
        return self.db.sql(query, **params)

    def record_event(self, pod, kind, detail="", pid=None, end=None):
        self.say(f"{kind} {detail}".rstrip())

    def store_answers(self):
        if self.redis_url:
            client = redis_py.Redis.from_url(self.redis_url, socket_connect_timeout=defaults.SERVE_RETRY)
            try:
                client.ping()
            finally:
                client.close()
        if self.db is not None:
            self.db.sql("SELECT 1 AS one")

    def __getattr__(self, name):  # a hook that wants more than a served init has: say what it has
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"lab.{name}: a served init (serve --init) has no pods and offers only app, state, accounts, "
            "seed, redis_url, redis, db, db_url, sql(), record_event() and now()"
        )


class _ServedRedis:
    """``lab.redis`` of a ``ServedLab``: a server the lab only connects to."""

    kind = "external"
    process = None
    pid = None

    def __init__(self, url):
        self.url = url

    @property
    def safe_url(self):
        return _safe(self.url)


def init(app, redis_url=None, db_url=None, timeout=defaults.SERVE_INIT_TIMEOUT, say=print):
    """Run ``app``'s lab-start hooks once against the served stores, as a lab runs them
    before its first pod; waits up to ``timeout`` s for the stores to answer first. Returns
    the ``ServedLab``; a hook's failure is raised."""
    lab = ServedLab(app, redis_url, db_url, say)
    deadline = time.monotonic() + timeout
    while True:
        try:
            lab.store_answers()
            break
        except Exception as exc:
            if not _unreachable(exc):
                raise LabError(f"the stores given cannot be used: {_cause(exc)}") from exc
            if time.monotonic() > deadline:
                raise LabError(f"the stores did not answer within {timeout:g} s: {_cause(exc)}") from exc
            time.sleep(defaults.SERVE_RETRY)
    for hook in app.on_lab_start:
        name = getattr(hook, "__qualname__", type(hook).__name__)
        try:
            hook(lab)
        except Exception as exc:  # the Job fails, with the hook's reason
            raise LabError(f"the lab-start hook {name} of {app.name} failed: {_cause(exc)}") from exc
        say(f"ran {name}")
    return lab


def init_command(app, env):
    """``serve --init``: the app's lab-start hooks, once; the exit code a Job reports."""
    import sys

    def say(line, file=sys.stdout):
        print(f"finpay_lab.serve --init: {line}", file=file, flush=True)

    stores = [
        f"{what}={_safe(url)}" for what, url in (("redis", env["redis_url"]), ("db", env["db_url"])) if url
    ]
    say(f"{app.name} ({', '.join(stores) or 'no shared store: state in pod memory'})")
    if not app.on_lab_start:
        say(f"{app.name} has no lab-start hooks: nothing to do")
        return 0
    try:
        init(app, env["redis_url"], env["db_url"], say=say)
    except LabError as exc:
        say(str(exc), file=sys.stderr)
        return 1
    return 0


def _unreachable(exc):
    """Redis did not answer (down, not up yet, a wrong password), as App.handle tells it;
    or the database could not be reached."""
    return isinstance(exc, redis_py.ConnectionError | redis_py.TimeoutError | Unreachable)


class Unreachable(DatabaseError):
    """The database did not answer (not up yet, or gone)."""


class Connections:
    """The pod's database: one connection per request thread (a connection runs one
    transaction at a time, and HTTP requests run side by side in a thread pool). What
    ``this_pod().db`` is here: ``transaction()``, as a lab pod's one connection has."""

    def __init__(self, url):
        self.url = url
        self._local = threading.local()

    def connection(self):
        from .stores.sql import connect  # loaded only by a pod with a database

        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = connect(self.url)
            except DatabaseError as exc:
                raise Unreachable(str(exc)) from None
        return conn

    def transaction(self, write=True):
        return self.connection().transaction(write=write)

    def sql(self, query, **params):
        with self.transaction() as db:
            return db.query(query, **params)


def _safe(url):
    from .stores.postgres_server import safe_url

    return safe_url(url)


def _cause(exc):
    return f"{type(exc).__name__}: {exc}"
