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
"""

import os
import secrets

from ..errors import Rejected
from ..runtime.app import App
from ..runtime.pod_loop import this_pod
from . import audit, auth
from .ledger import ledger_for
from .notifications import QUEUE, Gateway, Worker

app = App("finpay")

SESSION_TTL = 3600  # seconds a login session stays valid
MAX_PAYMENT = 10_00_000  # ₹10 lakh: larger amounts are refused (a typo, or fraud)
STATEMENT_LENGTH = 10

# The course's cast, plus customers enough for a salary-day crowd (₹, whole rupees).
CAST = {"Ravi": 20_000, "Meena": 15_000, "Landlord": 0, "Arjun": 8_000,
        "Priya": 12_000, "Kiran": 5_000, "Anil": 25_000, "Sana": 9_000}
DEFAULT_ACCOUNTS = {**CAST, **{f"cust-{i:03d}": 10_000 for i in range(1, 93)}}


# ---------------------------------------------------------------- startup
@app.startup
def open_accounts_and_start_worker(state):
    pod = this_pod()
    if state.kind == "memory":  # each pod opens the books in its own memory
        for user, amount in pod.config["accounts"].items():
            state.set(f"balance:{user}", amount)
    if "gateway" in pod.config:  # a lab running FinPay has its SMS gateway (App.gateway)
        pod.sms_worker = Worker(state, pod, pod.config["gateway"], pod.config["sms_seconds"])


def open_shared_books(lab):
    """Redis: the lab opens the books once, for every pod (and every restart) to share."""
    import json

    from ..stores.state import lab_redis

    with lab_redis(lab) as client:  # a dead Redis: RedisUnavailable, and an event
        stale = [k for prefix in ("balance:", "session:", "active:", "payment:", "ledger:", "demo_balance:", "sms:")
                 for k in client.scan_iter(match=prefix + "*", count=1000)]
        if stale:
            client.delete(*stale)
        pipe = client.pipeline()
        for user, amount in lab.accounts.items():
            pipe.set(f"balance:{user}", json.dumps(amount))
        pipe.execute()


def sms_gateway(workdir):
    """The lab's SMS gateway (a sidecar of every pod): a log of deliveries in its work dir."""
    return Gateway(os.path.join(workdir, "sms-gateway.jsonl"))


# What FinPay declares to the runtime (see runtime/app.py), which never imports it.
app.on_lab_start = [lambda lab: open_shared_books(lab) if lab.state == "redis" else None]
app.default_accounts = DEFAULT_ACCOUNTS
app.gateway = sms_gateway
app.preload = ["finpay_lab.services.finpay"]  # the fork server imports it once: pods start in ms
app.fold_history = audit.fold_promises
app.balances = audit.balances
app.audit = audit.audit


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
def login(state, user: str):
    """Start a session (kept in state) and issue a signed token (kept by the client)."""
    _known(state, user)
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
def _known(state, user):
    if not user or state.get(f"balance:{user}") is None:
        raise Rejected(f"unknown customer {user!r}")


def _rupees(amount):
    if amount <= 0:
        raise Rejected(f"amount must be a positive number of rupees, not {amount}")
    if amount > MAX_PAYMENT:
        raise Rejected(f"amount ₹{amount:,} is over the ₹{MAX_PAYMENT:,} limit for one payment")


@app.endpoint
def balance(state, user: str):
    """The customer's balance, as this pod (memory) or Redis (shared) knows it."""
    value = state.get(f"balance:{user}")
    if value is None:
        raise Rejected(f"unknown customer {user!r}")
    return value


@app.endpoint
def statement(state, user: str, limit: int = STATEMENT_LENGTH):
    """The customer's recent payments, newest first."""
    _known(state, user)
    if not 1 <= limit <= 50:
        raise Rejected("limit must be between 1 and 50")
    return ledger_for(state).statement(user)[:limit]


@app.endpoint
def pay(state, sender: str, receiver: str, amount: int, token: str, key: str | None = None):
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
    _known(state, sender)
    _known(state, receiver)
    pod = this_pod()
    # Without a key, a payment gets an id no client can guess (and so claim first as a key).
    payment = key or f"{pod.name}-{pod.restarts}-{secrets.token_hex(8)}"
    sms = [{"id": f"{payment}:sent", "to": sender, "text": f"Payment Sent: ₹{amount:,} to {receiver}"},
           {"id": f"{payment}:received", "to": receiver, "text": f"Payment Received: ₹{amount:,} from {sender}"}]
    receipt = {"payment": payment, "sender": sender, "receiver": receiver, "amount": amount, "sms": sms}
    new, receipt = ledger_for(state).move(sender, receiver, amount, payment, receipt)
    if not new and [receipt[k] for k in ("sender", "receiver", "amount")] != [sender, receiver, amount]:
        # A key names one payment: reused for another, it must neither move money nor
        # show someone else's receipt (as Stripe refuses a reused idempotency key).
        raise Rejected(f"key {key!r} was already used for a different payment: use a new key for a new payment")
    if new:  # a repeat already queued its SMS the first time
        for message in sms:
            _enqueue(state, message)
    return dict(receipt, repeated=not new)


def _enqueue(state, sms):
    state.enqueue(QUEUE, sms)
    worker = getattr(this_pod(), "sms_worker", None)
    if worker:
        worker.wake.set()


@app.endpoint
def notify(state, user: str, message: str):
    """Queue an SMS for a customer; the pod's worker sends it later."""
    _known(state, user)
    if not message or len(message) > 160:
        raise Rejected("an SMS holds 1 to 160 characters")
    pod = this_pod()
    sms = {"id": f"{pod.name}-{pod.restarts}-{secrets.token_hex(8)}", "to": user, "text": message}
    _enqueue(state, sms)
    return {"sms": [sms]}


# ---------------------------------------------------------------- fraud
@app.endpoint
def fraud_check(state, user_a: str, user_b: str):
    """Before a large transfer between two customers, check both are logged in here.

    It needs *both* sessions: with sessions in pod memory and sticky routing, Ravi's
    session may live on pod-3 and Meena's on pod-1, and no single pod sees both.
    """
    missing = [u for u in (user_a, user_b) if state.get(f"active:{u}") is None]
    if missing:
        raise Rejected(f"fraud check on {this_pod().name} cannot see the session of {' and '.join(missing)}")
    recent = [p for p in ledger_for(state).statement(user_a) if user_b in (p["sender"], p["receiver"])]
    return {"checked_on": this_pod().name, "recent_payments": len(recent),
            "risk": "review" if len(recent) >= 3 else "low"}
