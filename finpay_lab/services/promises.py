"""The client's side of the audit: **what the customers were promised**, read from the
responses they were given (the lab's history).

A payment a response said succeeded was promised; so was every SMS a response said was
queued, and every session a login handed out (a later "unknown session" for it is a
session lost). A payment whose request failed mid-way (its pod crashed, Redis broke off,
the pod never answered: a ``Response.cause`` in ``IN_DOUBT``) may or may not have moved the
money: it is *in doubt*, and the audit (``audit.py``) counts it as made if any books
(``books.py``) hold its receipt. Refusals ("insufficient funds") happen before any money
moves, so they are never in doubt.

A history keeps only its newest requests: before it drops older ones it hands them to
``fold_promises`` (FinPay's ``App.fold_history``), which keeps what they promised in a
compact ``Promises``, so the audit still counts every promise of the lab's whole life.
"""

import sys

from ..runtime.history import Cause

# Failures after which a payment may or may not have happened: the pod died, the
# connection to Redis broke, or the pod never answered.
IN_DOUBT = frozenset({Cause.CRASHED, Cause.STORE_UNAVAILABLE, Cause.TIMEOUT})


def promises_of(requests):
    """What the responses told customers: payments made, SMS queued, sessions lost. A
    history that dropped old requests carries what those promised (``Requests.promised``)."""
    promises = Promises(getattr(requests, "promised", None))
    promises.add(requests)
    return promises.result()


def fold_promises(promised, dropped):
    """FinPay's ``App.fold_history``: what ``dropped`` requests promised, added to
    ``promised`` (a ``Promises``, or None at the first trim) before the history drops them."""
    promised = promised or Promises()
    promised.add(dropped, compact=True)
    return promised


class Promises:
    """The client's side, counted one request at a time. ``add(..., compact=True)`` keeps
    only what the audit reads (a payment's sender, receiver and amount), for requests the
    history is about to drop: ~0.3 KB a payment instead of the ~1.8 KB of its Response."""

    def __init__(self, start=None):
        self.payments = dict(start.payments) if start else {}  # id -> receipt, or (sender, receiver, ₹)
        self.in_doubt = set(start.in_doubt) if start else set()
        self.sms = dict(start.sms) if start else {}  # id -> (to, text)
        self.sms_pods = dict(getattr(start, "sms_pods", {})) if start else {}  # id -> the pod that queued it
        self.sessions = dict(start.sessions) if start else {}  # session -> user
        self.lost = list(start.lost) if start else []

    def add(self, requests, compact=False):
        payments, sms, sessions, lost = self.payments, self.sms, self.sessions, self.lost
        for r in sorted(requests, key=lambda r: r.sent):
            if r.endpoint == "pay":
                if r.ok:
                    v = r.value
                    payments.setdefault(
                        v["payment"],
                        (_name(v["sender"]), _name(v["receiver"]), v["amount"]) if compact else v,
                    )
                elif r.params.get("key") and r.cause in IN_DOUBT:
                    self.in_doubt.add(r.params["key"])  # it failed mid-way: did the money move first?
            if r.ok and r.endpoint in ("pay", "notify"):
                for message in r.value.get("sms", ()):
                    sms.setdefault(message["id"], (_name(message["to"]), message["text"]))
                    self.sms_pods.setdefault(message["id"], r.pod)
            if r.ok and r.endpoint == "login":
                sessions[r.value["session"]] = r.params.get("user")
            if (
                not r.ok
                and r.endpoint == "whoami"
                and "unknown session" in (r.error or "")
                and r.params.get("session") in sessions
            ):
                user = sessions[r.params["session"]]
                if user not in lost:
                    lost.append(user)

    def result(self):
        payments = {
            pid: {"payment": pid, "sender": p[0], "receiver": p[1], "amount": p[2]}
            if isinstance(p, tuple)
            else p
            for pid, p in self.payments.items()
        }
        return {
            "payments": payments,
            "in_doubt": self.in_doubt - set(payments),
            "sms": dict(self.sms),
            "sms_pods": dict(self.sms_pods),
            "lost_sessions": list(self.lost),
        }


def _name(user):
    """One string object per customer name, however many records mention it."""
    return sys.intern(user) if type(user) is str else user
