"""The system's side of the audit: **the books**, what the system now holds.

A lab keeps its books where its state is: in each pod's memory (``state="memory"``: one
set of books per pod, read with ``lab.peek``), in Redis (one set shared by every pod), or,
with a database (``fl.Lab(..., db=...)``), in its tables (read with ``lab.sql``; the SMS
queue still lives wherever ``state`` keeps it). ``read_books`` reads them all into one
shape, ``{store: {"balances": {user: ₹}, "payments": {id: receipt}, "queued": [sms id]}}``,
so the audit (``audit.py``) compares one shape with what customers were promised
(``promises.py``), wherever the books were kept.

``balances`` is FinPay's answer to ``lab.balances()`` (``App.balances``): every customer's
balance as each live pod sees it. Reading never changes the books.
"""

from ..runtime.pods import SERVING
from .notifications import QUEUE


def read_books(lab):
    """``{store: {"balances": {user: ₹}, "payments": {id: receipt}, "queued": [sms id]}}``;
    a store is a live pod (memory), ``"redis"``, or ``"database"`` (a lab with a db: the
    one set of books, with the SMS still queued wherever ``state`` keeps them)."""
    if lab.db is not None:
        return {"database": _read_database(lab)}
    if lab.state == "memory":
        stores = {}
        for pod in lab.pods:
            if pod.status not in SERVING:
                continue
            held = lab.peek(pod.name)
            stores[pod.name] = {
                "balances": {k[8:]: v for k, v in held.items() if k.startswith("balance:")},
                "payments": {k[8:]: v for k, v in held.items() if k.startswith("payment:")},
                "queued": [sms["id"] for _, sms in held.get(QUEUE, [])],
            }
        return stores
    return {"redis": _read_redis(lab)}


def _read_redis(lab):
    import json

    import redis

    from ..stores.state import lab_redis

    with lab_redis(lab) as client:  # a dead Redis: RedisUnavailable, and an event

        def values(prefix):
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            return {k[len(prefix) :]: json.loads(v) for k, v in zip(keys, client.mget(keys) if keys else [])}

        queued = []
        try:
            group = next((g for g in client.xinfo_groups(QUEUE) if g["name"] == "workers"), None)
            pending = {e["message_id"] for e in client.xpending_range(QUEUE, "workers", "-", "+", 100_000)}
            last = group["last-delivered-id"] if group else "0-0"
            for entry_id, fields in client.xrange(QUEUE):
                if entry_id in pending or _after(entry_id, last):
                    queued.append(json.loads(fields["item"])["id"])
        except redis.ResponseError:
            pass  # no queue yet
        return {"balances": values("balance:"), "payments": values("payment:"), "queued": queued}


def _read_database(lab):
    import json

    queued = []
    if lab.state == "memory":
        for pod in lab.pods:
            if pod.status in SERVING:
                queued += [sms["id"] for _, sms in lab.peek(pod.name, QUEUE).get(QUEUE, [])]
    else:
        queued = _read_redis(lab)["queued"]
    return {
        "balances": {r["name"]: r["balance"] for r in lab.sql("SELECT name, balance FROM accounts")},
        "payments": {r["id"]: json.loads(r["receipt"]) for r in lab.sql("SELECT id, receipt FROM payments")},
        "queued": queued,
    }


def balances(lab):
    """``lab.balances()``: every customer's balance as each live pod sees it, ``{user: {pod: ₹}}``."""
    stores = read_books(lab)
    if lab.state == "redis" or lab.db is not None:  # every live pod reads the one shared copy
        shared = next(iter(stores.values()))
        stores = {p.name: shared for p in lab.pods if p.status in SERVING}
    return {
        user: {pod: books["balances"][user] for pod, books in stores.items() if user in books["balances"]}
        for user in lab.accounts
    }


def _after(a, b):
    return tuple(map(int, a.split("-"))) > tuple(map(int, b.split("-")))
