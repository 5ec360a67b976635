"""An app: the handler functions every pod runs.

    app = fl.App("counter")

    @app.endpoint
    def update_balance(state, amount: int, user="Ravi"):
        return state.incr(f"balance:{user}", amount, initial=1000)

A handler's first parameter is the pod's ``State``; the rest come from the request. Type
annotations (``amount: int``) are checked before the handler runs, so a wrongly typed
request is refused with a clear error instead of failing somewhere inside.

What the runtime may ask of an app is declared here, and nowhere else: its endpoints and
``handle``, ``on_start`` (what each pod runs when it starts: ``@app.startup``),
``default_accounts`` (the opening balances of a lab given no ``accounts=``),
``on_lab_start`` (what the lab runs once, when its store is up: ``@app.lab_start``, say to
create a table with ``lab.sql``; ``serve --init`` runs them the same way against a
served store, see serve.py), ``gateway`` (a sidecar the lab keeps for its pods: FinPay's SMS
gateway), ``preload`` (the app's modules a fork server imports once, so pods start fast),
``fold_history`` (what a history keeps of the requests it drops), ``settings`` (plain values
its handlers read as ``fl.this_pod().settings``), ``user_params`` (which parameter names
the user a request is for: sticky routing and ``Response.user`` read it; ``user`` unless the
app says otherwise, FinPay adds a payment's ``sender``), ``pod_stats`` (what a pod reports
about what it holds in its own memory, ``lab.pod_stats``: FinPay counts sessions and queued
SMS), and the lab methods only an app can answer: ``balances`` and ``audit``. An app that declares none of them gets a lab
with nothing more than pods and a store. The runtime never imports an app:
``fl.Lab(app=None)`` runs the one the package registered as its default (the FinPay app,
see ``finpay_lab/__init__.py``, and ``services/finpay.py`` for its declarations).

``handle`` is the whole contract between a pod and its app: it never raises. Whatever goes
wrong (unknown endpoint, bad parameters, ``Rejected``, a bug) becomes ``(False, None,
error)``, the pod stays up, and the state is rolled back to where it was. A pod calls
``serve``, which is ``handle`` plus why a request failed: a ``Cause`` the audit reads.

**A handler that names ``db``** gets its request's database transaction (a lab started
with ``db=...``): committed when the handler returns, rolled back when it raises (and by
the database itself when the pod dies mid-request). The database's refusals come back as
answers, never as a pod's death: a constraint (CHECK, UNIQUE) as ``Rejected``
(``Cause.REJECTED``), any other failed statement with the database's own message
(``Cause.DATABASE``). ``db=None`` as a default lets the same handler run in a lab without
a database (it then gets ``None``).
"""

import inspect
import types

from ..errors import BadInput, DatabaseError, LabError, Rejected
from .history import Cause
from .pod_loop import this_pod
from .points import crash_point
from .readiness import check_app

_CHECKED_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict, "list": list}


_default_app = None  # a function that gives the app of fl.Lab(app=None)


def register_default_app(loader):
    """Name the app ``fl.Lab(app=None)`` runs: ``loader()`` gives it, on the first lab."""
    global _default_app
    _default_app = loader


def default_app():
    if _default_app is None:
        raise LabError("no default app is registered: pass app=fl.App(...) to fl.Lab")
    return _default_app()


class App:
    """A named set of endpoints. Build one in a notebook cell; the lab ships it to pods."""

    # What an app may declare, and the defaults of one that declares nothing (also for a
    # subclass whose __init__ does not call super().__init__).
    name = "app"
    on_start = ()  # functions(state) each pod runs once when it starts
    on_lab_start = ()  # functions(lab) the lab runs once its store is up (and after switch_state)
    default_accounts = types.MappingProxyType({})  # {user: ₹} when the lab is given no accounts=
    gateway = None  # a function(workdir) giving the lab's gateway: pods are told its .path
    preload = ()  # module paths a fork server imports once, before any pod starts
    fold_history = None  # function(kept, dropped requests) -> kept, called before a history drops requests
    balances = None  # function(lab) -> {user: {pod: ₹}}: what lab.balances() answers
    audit = None  # function(lab, requests, wait) -> a report: what lab.audit() answers
    startup_delay = 0.0  # seconds a pod takes to get ready after it starts (readiness.py)
    readiness_check = None  # function(state) -> bool: asked until True before a pod is ready
    settings = types.MappingProxyType({})  # {name: plain value} the handlers read as this_pod().settings
    open_books = None  # function(sql, accounts): tables and accounts a served pod's database lacks (serve.py)
    user_params = ("user",)  # the parameters naming whom a request is for, the first one present wins
    pod_stats = (
        None  # function(state, or None if the pod keeps nothing of its own) -> {name: count}, in the pod
    )

    def __init__(self, name: str = "app", startup_delay: float = 0.0, readiness=None):
        self.name = name
        self.startup_delay = startup_delay
        self.readiness_check = readiness
        check_app(self)  # a bad delay or check: fl.BadInput now, not when a pod starts
        self.endpoints = {}
        self.on_start = []
        self.on_lab_start = []
        self.default_accounts = {}
        self.settings = {}
        self._specs = {}

    def startup(self, fn):
        """Register ``fn(state)`` to run in every pod when it starts (before it is ready)."""
        self.on_start.append(fn)
        return fn

    def lab_start(self, fn):
        """Register ``fn(lab)`` to run once per lab, when its stores are up and before any
        pod starts (and again after ``switch_state``): where the app makes its tables
        (``lab.sql``) or opens shared books. Usable as a decorator; it appends to
        ``on_lab_start``, which an app may also set as a list."""
        if not callable(fn):
            raise TypeError(f"a lab-start hook must be a function(lab), not {type(fn).__name__}")
        if type(self.on_lab_start) is not list:  # a subclass's tuple default: this app's own list
            self.on_lab_start = list(self.on_lab_start)
        self.on_lab_start.append(fn)
        return fn

    def readiness(self, fn):
        """Register ``fn(state) -> bool``: a pod is ready (routable) only once it returns
        True, after ``startup_delay`` (see readiness.py). Usable as a decorator."""
        if not callable(fn):
            raise TypeError(f"a readiness check must be a function(state), not {type(fn).__name__}")
        self.readiness_check = fn
        return fn

    def endpoint(self, fn=None, *, name: str | None = None):
        """Register ``fn`` as an endpoint (its own name, or ``name=``). Usable as a decorator."""
        if fn is None:
            return lambda f: self.endpoint(f, name=name)
        if not callable(fn):
            raise TypeError(f"an endpoint must be a function, not {type(fn).__name__}")
        params = list(inspect.signature(fn).parameters)
        if not params:
            raise TypeError(f"{fn.__name__}() must take the pod's state as its first parameter")
        self.endpoints[name or fn.__name__] = fn
        return fn

    def __contains__(self, endpoint):
        return endpoint in self.endpoints

    def __repr__(self):
        return f"App({self.name!r}, endpoints={sorted(self.endpoints)})"

    def export(self, path):
        """Write this app to a module (``"myapp.py"``) that serve.py serves over HTTP
        (``--app myapp:app``), one pod as a container runs it."""
        import finpay_lab  # the package's lazy door: the runtime never imports serve

        return finpay_lab.serve.export(self, path)

    def handle(self, state, endpoint, params):
        """Run one request against ``state``; returns ``(ok, value, error)`` and never raises."""
        return self.serve(state, endpoint, params)[:3]

    def serve(self, state, endpoint, params):
        """``handle``, and why it failed: ``(ok, value, error, cause)``, a ``Cause`` or None."""
        fn = self.endpoints.get(endpoint) if type(endpoint) is str else None
        if fn is None:
            known = ", ".join(sorted(self.endpoints)) or "none"
            return (
                False,
                None,
                f"unknown endpoint {_short(endpoint)} (this app has: {known})",
                Cause.BAD_REQUEST,
            )
        if not isinstance(params, dict):
            return False, None, f"{endpoint}: parameters must be a dict of name=value", Cause.BAD_REQUEST
        problem = self._check(endpoint, fn, params)
        if problem:
            return False, None, f"{endpoint}: {problem}", Cause.BAD_REQUEST
        spec = self.__dict__["_specs"][endpoint]
        state.begin()
        try:
            value = fn(state, **params) if spec.db is None else _with_db(fn, state, params, spec.db)
        except Rejected as exc:
            state.rollback()
            return False, None, str(exc), Cause.REJECTED
        except DatabaseError as exc:  # the database said no: the transaction is rolled back
            state.rollback()
            if exc.integrity:  # a constraint refused it (balance >= 0, a unique key)
                return False, None, f"{endpoint}: the database refused it: {exc}", Cause.REJECTED
            return False, None, f"{endpoint}: the database said: {exc}", Cause.DATABASE
        except Exception as exc:  # a bug, or Redis unreachable: report it, keep serving
            state.rollback()
            if type(exc).__module__.startswith("redis") and type(exc).__name__ in (
                "ConnectionError",
                "TimeoutError",
            ):
                return (
                    False,
                    None,
                    f"{endpoint} failed: Redis is unreachable ({exc})",
                    Cause.STORE_UNAVAILABLE,
                )
            return False, None, f"{endpoint} failed: {type(exc).__name__}: {exc}", Cause.APP_ERROR
        state.commit()
        return True, value, None, None

    def _check(self, endpoint, fn, params):
        specs = self.__dict__.setdefault("_specs", {})  # a subclass may skip App.__init__
        spec = specs.get(endpoint)
        if spec is None:
            spec = specs[endpoint] = _Spec(fn)
        return spec.check(params)


def check_hooks(app):
    """Refuse a ``user_params`` or ``pod_stats`` the lab could not use (fl.BadInput), before
    any pod starts."""
    names = app.user_params
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) and n for n in names):
        raise BadInput(
            f"App.user_params names the parameters that say whom a request is for: a tuple of "
            f"names like ('user', 'sender'), not {names!r:.40}"
        )
    if app.pod_stats is not None and not callable(app.pod_stats):
        raise BadInput(
            f"App.pod_stats is a function(state) -> {{name: count}}, not {type(app.pod_stats).__name__}"
        )


def _with_db(fn, state, params, required):
    """Run ``fn`` inside its request's transaction, on the pod's connection."""
    conn = this_pod().db
    if conn is None:
        if not required:
            return fn(state, db=None, **params)
        raise LabError(
            "this handler names `db`, but the lab has no database: start it with "
            "fl.Lab(..., db='sqlite') (or 'postgres'), or give the parameter a default, db=None"
        )
    with conn.transaction() as db:
        value = fn(state, db=db, **params)
    crash_point("after_commit")  # every db handler has this point: committed, reply not yet sent
    return value


class _Spec:
    """What an endpoint accepts, worked out once per pod: checking a request is then a few
    set operations, not a full ``inspect`` bind (this runs on every request)."""

    def __init__(self, fn):
        self.sig = inspect.signature(fn)
        params = list(self.sig.parameters.values())
        self.state_name = params[0].name
        rest = params[1:]
        db = next((p for p in rest if p.name == "db" and p.kind != p.VAR_KEYWORD), None)
        self.db = None if db is None else db.default is inspect.Parameter.empty  # None: no db; True: required
        rest = [p for p in rest if p is not db]
        self.flexible = any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in rest)
        self.names = {p.name for p in rest}
        self.required = {p.name for p in rest if p.default is p.empty}
        self.types = []
        for p in rest:
            expected = (
                _CHECKED_TYPES.get(p.annotation, p.annotation)
                if isinstance(p.annotation, str)
                else p.annotation
            )
            if isinstance(expected, type) and expected is not p.empty:
                self.types.append((p.name, expected))

    def check(self, params):
        if self.state_name in params:
            return f"{self.state_name!r} is the pod's state, not a request parameter"
        if self.db is not None and "db" in params:
            return "'db' is the request's database transaction, not a request parameter"
        if self.flexible:
            try:
                self.sig.bind(None, **params, **({} if self.db is None else {"db": None}))
            except TypeError as exc:
                return str(exc)
        else:
            unknown = params.keys() - self.names
            if unknown:
                return f"unexpected parameter {sorted(unknown)[0]!r} (takes: {', '.join(sorted(self.names)) or 'none'})"
            missing = self.required - params.keys()
            if missing:
                return f"missing required parameter {sorted(missing)[0]!r}"
        for name, expected in self.types:
            if name not in params:
                continue
            value = params[name]
            if type(value) is expected:
                continue
            ok = isinstance(value, expected)
            if expected is int and isinstance(value, bool):
                ok = False  # True is an int in Python, but not an amount of rupees
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                return f"{name} must be {expected.__name__}, got {type(value).__name__} {_short(value)}"
        return None


def _short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
