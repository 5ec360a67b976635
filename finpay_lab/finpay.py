"""The FinPay Wallet app: the services the course runs on its pods.

Stateless (any pod, same answer): ``add_balance``.
Stateful (the answer depends on what this pod, or Redis, remembers): ``update_balance``,
``login``, ``whoami``.
"""

from .app import App
from .errors import Rejected
from .pods import this_pod

app = App("finpay")

SESSION_TTL = 3600  # seconds a login stays valid


@app.endpoint
def add_balance(state, user: str, amount: int):
    """Stateless: the result depends on the request alone (Step 1 of the course)."""
    return amount + 1000


@app.endpoint
def update_balance(state, amount: int, user: str = "Ravi"):
    """Stateful: each call adds to a balance the service remembers (Step 2)."""
    if amount <= 0:
        raise Rejected(f"amount must be a positive number of rupees, not {amount}")
    return state.incr(f"balance:{user}", amount, initial=1000)


@app.endpoint
def login(state, user: str):
    """Start a session: its id is kept in state, so only a pod that can see it knows you."""
    if not user:
        raise Rejected("login needs a user name")
    session = f"s-{this_pod().random.getrandbits(48):012x}"
    state.set(f"session:{session}", user, ttl=SESSION_TTL)
    return {"session": session}


@app.endpoint
def whoami(state, user: str, session: str):
    """Who is this session? Fails when the pod cannot see the session (lost or elsewhere)."""
    owner = state.get(f"session:{session}")
    if owner is None:
        raise Rejected(f"unknown session {session} for {user} on {this_pod().name}: please log in again")
    if owner != user:
        raise Rejected(f"session {session} belongs to another user")
    return user
