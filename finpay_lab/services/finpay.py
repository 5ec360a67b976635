"""The FinPay Wallet app: the services the course runs on its pods.

Every endpoint works on ``state="memory"`` and ``state="redis"`` with the same code; only
where the state lives changes, and with it what survives a crash.

Course steps:      ``add_balance`` (stateless), ``update_balance`` (stateful, Step 2)
Sessions:          ``login`` → a session id kept in state + a signed token; ``whoami``
Accounts:          ``balance``, ``statement``, ``pay`` (atomic, idempotent with ``key``;
                   the atomic step is the ledger's: ``ledger.py``)
Notifications:     ``notify``; ``pay`` also queues "Payment Sent"/"Payment Received" SMS
Fraud:             ``fraud_check`` needs both customers' sessions on the pod it runs on

Keys in state: ``balance:<user>``, ``session:<id>``, ``active:<user>``, ``payment:<id>``,
``ledger:<user>``, ``demo_balance:<user>``, and the SMS queue ``sms:queue``.

**With a database** (``fl.Lab(..., db="sqlite")``) the books move to SQL tables
(``ledger.SCHEMA``: accounts with ``CHECK (balance >= 0)``, payments keyed by their
idempotency key, the ledger), created by the lab's start hook; each ``pay`` is one
transaction (``SqlLedger``). ``state`` keeps what Redis is good at: sessions, the SMS queue
and a **cache of balances** (``cache:balance:<user>``): ``balance`` reads the cache, else
the database, and caches what it read for ``defaults.BALANCE_CACHE_TTL`` s (cache-aside);
``pay`` deletes both customers' cached balances once its transaction has committed. A lab
whose app says ``app.settings["invalidate_cache"] = False`` (``finpay_app(invalidate_cache=
False)``) skips that: its balances go stale, and the audit counts the stale reads. With
``state="memory"`` each pod has its own cache, and a payment clears only its own pod's.

Crash points (``fl.crash_point``), in every store mode: ``after_debit`` and
``after_commit``. In SQL, ``after_debit`` sits between the two UPDATEs of the transaction
(sender debited, receiver not yet credited); ``after_commit`` comes after the commit, before
the reply. In memory and Redis the move is one indivisible step (a lock, a Lua script): no
moment exists where only the debit is done, so both points sit after the whole move,
``after_debit`` before the SMS are queued, ``after_commit`` just before the reply.
"""

import copy
import json
import os
import secrets
import weakref

from .. import defaults
from ..errors import Rejected
from ..runtime.app import App
from ..runtime.pod_loop import this_pod
from ..runtime.points import crash_point
from . import audit, auth, books, promises
from .ledger import SCHEMA, ledger_for
from .notifications import QUEUE, Gateway, Worker

app = App("finpay")

SESSION_TTL = 3600  # seconds a login session stays valid
MAX_PAYMENT = 10_00_000  # ₹10 lakh: larger amounts are refused (a typo, or fraud)
STATEMENT_LENGTH = 10

# The course's cast, plus customers enough for a salary-day crowd (₹, whole rupees).
CAST = {
    "Ravi": 20_000,
    "Meena": 15_000,
    "Landlord": 0,
    "Arjun": 8_000,
    "Priya": 12_000,
    "Kiran": 5_000,
    "Anil": 25_000,
    "Sana": 9_000,
}
DEFAULT_ACCOUNTS = {**CAST, **{f"cust-{i:03d}": 10_000 for i in range(1, 93)}}


# ---------------------------------------------------------------- startup
@app.startup
def open_accounts_and_start_worker(state):
    pod = this_pod()
    if state.kind == "memory" and not pod.config.get("db_url"):  # each pod opens the books in its own memory
        for user, amount in pod.config["accounts"].items():
            state.set(f"balance:{user}", amount)
    if "gateway" in pod.config:  # a lab running FinPay has its SMS gateway (App.gateway)
        pod.sms_worker = Worker(state, pod, pod.config["gateway"], pod.config["sms_seconds"])


def open_shared_books(lab):
    """Redis: the lab opens the books once, for every pod (and every restart) to share."""
    if lab.state != "redis":
        return  # in memory each pod opens its own
    import json

    from ..stores.state import lab_redis

    with lab_redis(lab) as client:  # a dead Redis: RedisUnavailable, and an event
        stale = [
            k
            for prefix in (
                "balance:",
                "session:",
                "active:",
                "payment:",
                "ledger:",
                "demo_balance:",
                "sms:",
                CACHE,
            )
            for k in client.scan_iter(match=prefix + "*", count=1000)
        ]
        if stale:
            client.delete(*stale)
        if lab.db is not None:
            return  # the books are the database's; Redis keeps only the cache of them
        pipe = client.pipeline()
        for user, amount in lab.accounts.items():
            pipe.set(f"balance:{user}", json.dumps(amount))
        pipe.execute()


def sms_gateway(workdir):
    """The lab's SMS gateway (a sidecar of every pod): a log of deliveries in its work dir."""
    return Gateway(os.path.join(workdir, "sms-gateway.jsonl"))


def open_sql_books(lab):
    """A lab with a database: FinPay's tables, made afresh, and the opening balances; once
    per lab (``switch_state`` runs the hooks again: the pods change, the books stay)."""
    if lab.db is not None and lab not in _OPENED:
        open_books(lab.sql, lab.accounts, fresh=True)
        _OPENED.add(lab)


_OPENED = weakref.WeakSet()  # the labs whose database holds FinPay's books already


def open_books(sql, accounts, fresh=False):
    """FinPay's tables and accounts in a database, through ``sql(query, **params)``: made
    afresh (``fresh``: the lab's own database), or only what is missing (a served pod,
    ``serve.py``, starting beside others: it never overwrites a balance)."""
    for statement in SCHEMA if fresh else [s for s in SCHEMA if not s.startswith("DROP")]:
        sql(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ") if not fresh else statement)
    for user, amount in accounts.items():
        sql(
            "INSERT INTO accounts (name, balance) VALUES (:name, :balance) ON CONFLICT (name) DO NOTHING",
            name=user,
            balance=amount,
        )


def held_in_memory(state):
    """FinPay's ``App.pod_stats``, run in the pod: the sessions and queued SMS it keeps in its
    own memory (``state`` is None when it keeps nothing there: state='redis')."""
    keys = state.keys() if state is not None else []
    queues = (state.get(k) for k in keys if k.startswith(QUEUE))
    return {
        "sessions": sum(k.startswith("session:") for k in keys),
        "queued_sms": sum(len(v) for v in queues if isinstance(v, list)),
    }


def finpay_app(invalidate_cache=True, cache_ttl=None):
    """The FinPay app with its cache settings: ``invalidate_cache=False`` skips the
    invalidation after a payment (balances then go stale, up to ``cache_ttl`` s)."""
    variant = copy.copy(app)
    variant.settings = dict(
        app.settings,
        invalidate_cache=bool(invalidate_cache),
        cache_ttl=defaults.BALANCE_CACHE_TTL if cache_ttl is None else cache_ttl,
    )
    return variant


# What FinPay declares to the runtime (see runtime/app.py), which never imports it.
app.on_lab_start = [open_shared_books, open_sql_books]  # once per lab, before its pods (serve.py: --init)
app.default_accounts = DEFAULT_ACCOUNTS
app.gateway = sms_gateway
app.open_books = open_books  # serve.py, with DATABASE_URL: the tables and accounts a database lacks
app.preload = ["finpay_lab.services.finpay"]  # the fork server imports it once: pods start in ms
app.fold_history = promises.fold_promises
app.balances = books.balances
app.audit = audit.audit
app.user_params = ("user", "sender", "user_a")  # whom a request is for: sticky routing, Response.user
app.pod_stats = held_in_memory  # lab.pod_stats and the dashboard's tiles: sessions and queued SMS


# ---------------------------------------------------------------- the course's first steps
@app.endpoint
def add_balance(state, user: str, amount: int):
    """Stateless: the result depends on the request alone (Step 1 of the course)."""
    return amount + 1000


@app.endpoint
def update_balance(state, amount: int, user: str = "Ravi"):
    """Stateful: each call adds to a balance the service remembers (Step 2)."""
    if amount <= 0:
        raise Rejected(f"amount must be a positive number of rupees, not {amount}")
    return state.incr(f"demo_balance:{user}", amount, initial=1000)


# ---------------------------------------------------------------- sessions
@app.endpoint
def login(state, user: str, db=None):
    """Start a session (kept in state) and issue a signed token (kept by the client)."""
    _known(state, user, db)
    pod = this_pod()
    # A session id is a secret: whoever knows it is logged in. So it comes from the OS's
    # random source, never from the lab's seed (which makes every lab with that seed alike).
    session = f"s-{secrets.token_hex(16)}"
    state.set(f"session:{session}", user, ttl=SESSION_TTL)
    state.set(f"active:{user}", session, ttl=SESSION_TTL)
    return {"session": session, "token": auth.sign(user, pod.config["secret"])}


@app.endpoint
def whoami(state, user: str, session: str):
    """Who is this session? Fails when this pod cannot see the session (lost or elsewhere)."""
    owner = state.get(f"session:{session}")
    if owner is None:
        raise Rejected(f"unknown session {session} for {user} on {this_pod().name}: please log in again")
    if owner != user:
        raise Rejected(f"session {session} belongs to another user")
    return user


# ---------------------------------------------------------------- accounts and payments
CACHE = "cache:balance:"  # with a database: the cached balance of a customer


def _known(state, user, db=None):
    if db is not None:
        if not user or not db.query("SELECT 1 AS known FROM accounts WHERE name = :user", user=user):
            raise Rejected(f"unknown customer {user!r}")
        return
    if not user or state.get(f"balance:{user}") is None:
        raise Rejected(f"unknown customer {user!r}")


def _rupees(amount):
    if amount <= 0:
        raise Rejected(f"amount must be a positive number of rupees, not {amount}")
    if amount > MAX_PAYMENT:
        raise Rejected(f"amount ₹{amount:,} is over the ₹{MAX_PAYMENT:,} limit for one payment")


@app.endpoint
def balance(state, user: str, db=None):
    """The customer's balance, as this pod (memory) or Redis (shared) knows it; with a
    database, from the cache in front of it (cache-aside)."""
    if db is not None:
        return _cached_balance(state, db, user)
    value = state.get(f"balance:{user}")
    if value is None:
        raise Rejected(f"unknown customer {user!r}")
    return value


def _cached_balance(state, db, user):
    """Cache-aside: the cache's answer if it has one, else the database's, cached for a
    while. A cache that is down (Redis unreachable) is skipped: the database answers."""
    cached = _cache(state.get, CACHE + user)
    if cached is not None:
        return cached
    rows = db.query("SELECT balance FROM accounts WHERE name = :user", user=user)
    if not rows:
        raise Rejected(f"unknown customer {user!r}")
    value = rows[0]["balance"]
    ttl = (this_pod().settings or {}).get("cache_ttl", defaults.BALANCE_CACHE_TTL)
    _cache(state.set, CACHE + user, value, ttl=ttl)
    return value


def _cache(operation, *args, **kwargs):
    """A cache operation that gives up (None) when the cache's Redis is unreachable."""
    try:
        return operation(*args, **kwargs)
    except Exception as exc:
        if type(exc).__module__.startswith("redis") and type(exc).__name__ in (
            "ConnectionError",
            "TimeoutError",
        ):
            return None
        raise


@app.endpoint
def statement(state, user: str, limit: int = STATEMENT_LENGTH, db=None):
    """The customer's recent payments, newest first."""
    _known(state, user, db)
    if not 1 <= limit <= 50:
        raise Rejected("limit must be between 1 and 50")
    return ledger_for(state, db).statement(user)[:limit]


@app.endpoint
def pay(state, sender: str, receiver: str, amount: int, token: str, key: str | None = None, db=None):
    """Move money from sender to receiver: stateless auth, atomic, idempotent with ``key``.

    The request carries everything needed (the token proves who the sender is), so any
    pod can process it. With a ``key``, a retry after a crash returns the first result
    and moves no money again.
    """
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 100):
        raise Rejected("key must be a string of 1 to 100 characters")
    _rupees(amount)
    if auth.verify(token, this_pod().config["secret"]) != sender:
        raise Rejected(f"this token was issued to someone else, not {sender}")
    if sender == receiver:
        raise Rejected("sender and receiver are the same account")
    if db is None:  # with a db, the ledger's first query asks this too (one round trip, not three)
        _known(state, sender)
        _known(state, receiver)
    pod = this_pod()
    # Without a key, a payment gets an id no client can guess (and so claim first as a key).
    payment = key or f"{pod.name}-{pod.restarts}-{secrets.token_hex(8)}"
    sms = [
        {"id": f"{payment}:sent", "to": sender, "text": f"Payment Sent: ₹{amount:,} to {receiver}"},
        {"id": f"{payment}:received", "to": receiver, "text": f"Payment Received: ₹{amount:,} from {sender}"},
    ]
    receipt = {"payment": payment, "sender": sender, "receiver": receiver, "amount": amount, "sms": sms}
    new, receipt = ledger_for(state, db).move(sender, receiver, amount, payment, receipt)
    if db is None:
        crash_point("after_debit")  # memory, Redis: the move was one step; this is after all of it
    if not new and [receipt[k] for k in ("sender", "receiver", "amount")] != [sender, receiver, amount]:
        # A key names one payment: reused for another, it must neither move money nor
        # show someone else's receipt (as Stripe refuses a reused idempotency key).
        raise Rejected(
            f"key {key!r} was already used for a different payment: use a new key for a new payment"
        )
    if new and db is not None:  # once the money is safe: the SMS, and the cache made right
        db.after_commit(lambda: _after_payment(state, sender, receiver, sms, pod.settings or {}))
    elif new:  # a repeat already queued its SMS the first time
        for message in sms:
            _enqueue(state, message)
    if db is None:
        crash_point("after_commit")  # with a db, the runtime's point after the commit (runtime/app.py)
    return dict(receipt, repeated=not new)


def _after_payment(state, sender, receiver, sms, settings):
    """After a payment's commit: invalidate both cached balances (unless the app's settings
    say not to: the stale-read exercise), queue the SMS. Not before the commit: a reader
    between the invalidation and the commit would cache the old balance again, and an SMS
    queued before a rollback would announce money that never moved."""
    invalidate = settings.get("invalidate_cache", True)
    if state.kind == "redis":  # all of it in one round trip to Redis (a pipeline), not four
        _after_payment_in_redis(state, [CACHE + sender, CACHE + receiver] if invalidate else [], sms)
        return
    if invalidate:
        for user in (sender, receiver):
            _cache(state.delete, CACHE + user)
    for message in sms:
        _enqueue(state, message)


def _after_payment_in_redis(state, stale, sms):
    """The same on a ``RedisState``: the DEL and both XADDs sent together (what
    ``state.delete`` and ``state.enqueue`` would send one by one). Redis unreachable: the
    error goes up, as the enqueue's would (the payment is committed; its SMS are not queued)."""
    pipe = state.redis.pipeline(transaction=False)
    if stale:
        pipe.delete(*stale)
    for message in sms:
        pipe.xadd(QUEUE, {"item": json.dumps(message)})
    pipe.execute()
    worker = getattr(this_pod(), "sms_worker", None)
    if worker:
        worker.wake.set()


def _enqueue(state, sms):
    state.enqueue(QUEUE, sms)
    worker = getattr(this_pod(), "sms_worker", None)
    if worker:
        worker.wake.set()


@app.endpoint
def notify(state, user: str, message: str, db=None):
    """Queue an SMS for a customer; the pod's worker sends it later."""
    _known(state, user, db)
    if not message or len(message) > 160:
        raise Rejected("an SMS holds 1 to 160 characters")
    pod = this_pod()
    sms = {"id": f"{pod.name}-{pod.restarts}-{secrets.token_hex(8)}", "to": user, "text": message}
    _enqueue(state, sms)
    return {"sms": [sms]}


# ---------------------------------------------------------------- fraud
@app.endpoint
def fraud_check(state, user_a: str, user_b: str, db=None):
    """Before a large transfer between two customers, check both are logged in here.

    It needs *both* sessions: with sessions in pod memory and sticky routing, Ravi's
    session may live on pod-3 and Meena's on pod-1, and no single pod sees both.
    """
    missing = [u for u in (user_a, user_b) if state.get(f"active:{u}") is None]
    if missing:
        raise Rejected(f"fraud check on {this_pod().name} cannot see the session of {' and '.join(missing)}")
    recent = [p for p in ledger_for(state, db).statement(user_a) if user_b in (p["sender"], p["receiver"])]
    return {
        "checked_on": this_pod().name,
        "recent_payments": len(recent),
        "risk": "review" if len(recent) >= 3 else "low",
    }
