"""The audit: what the customers were promised, against what the system now holds.

The lab knows both sides. The **client's side** is the history: every payment a customer
was told succeeded, every SMS a response said was queued, every session a login handed
out (``promises.py``). The **system's side** is the books (``books.py``): each pod's
memory (``state="memory"``: one set of books per pod) or Redis (one set shared by all);
and the SMS gateway's log. This module compares the two:

    money_created       ₹ the books hold beyond what was opened: a rupee created (+) or
                        destroyed (−). Transfers only move money, so this must be 0.
    negative_balances   customers below ₹0.
    double_debits       payments (by id / idempotency key) applied in more than one place.
    lost_payments       payments a customer was told succeeded that no books remember.
    wrong_balances      customers whose balance, somewhere, is not opening + their payments.
    divergent_balances  customers whose balance differs from one pod to another.
    lost_sessions       customers whose login later came back "unknown session".
    notifications       SMS queued, delivered, lost (who, what), sent twice, still queued.
    stale_reads         (a lab with a database) balance answers that no moment of their
                        request agreed with: the database held another balance all along.

With a database (``fl.Lab(..., db=...)``) the books are its tables, read with ``lab.sql``;
``state`` still holds the SMS queue. A stale read is judged against the database's own
history: every payment row carries the moment it was written (``payments.at``, the
machine's monotonic clock), and commits a little later, at the latest when its reply left.
A ``balance`` answer is fresh if the database held that balance at some moment between the
request's sending and its answer (either way of placing each commit); else it is stale.

A payment whose request failed (its pod crashed mid-request) is *in doubt*: it counts as
made if any books hold its receipt. A response says why it failed (``Response.cause``, set
where the failure was made): the audit reads that value, never the error's text. Counting
is exact: tests build runs with known losses.
"""

import html
import time
from dataclasses import dataclass, field

from .. import defaults
from ..runtime.pods import SERVING
from .books import balances, read_books
from .promises import IN_DOUBT, Promises, fold_promises, promises_of

# The two sides live in books.py and promises.py; their names still answer as audit.<name>.
__all__ = [
    "IN_DOUBT",
    "Audit",
    "Notifications",
    "Promises",
    "audit",
    "balances",
    "fold_promises",
    "read_books",
    "stale_reads",
]


@dataclass
class Notifications:
    enqueued: int = 0
    delivered: int = 0
    lost: list = field(default_factory=list)  # [(user, message)]
    duplicates: int = 0  # extra deliveries of one message the gateway dropped
    pending: int = 0  # still queued on a live pod or in Redis when the audit gave up waiting


@dataclass
class Audit:
    state: str
    money_created: int = 0
    negative_balances: dict = field(default_factory=dict)
    double_debits: list = field(default_factory=list)  # [(payment id, times applied)]
    lost_payments: list = field(default_factory=list)  # [(payment id, sender, receiver, ₹)]
    wrong_balances: dict = field(default_factory=dict)  # {user: {"expected": ₹, "seen": {pod: ₹}}}
    divergent_balances: dict = field(default_factory=dict)  # {user: {pod: ₹}}
    lost_sessions: list = field(default_factory=list)
    notifications: Notifications = field(default_factory=Notifications)
    database: str | None = None  # the lab's database kind ("sqlite", "postgres"...), None without one
    stale_reads: list = field(default_factory=list)  # [(user, ₹ answered, ₹ the database held)]

    @property
    def ok(self):
        return not (
            self.money_created
            or self.negative_balances
            or self.double_debits
            or self.lost_payments
            or self.wrong_balances
            or self.divergent_balances
            or self.lost_sessions
            or self.notifications.lost
            or self.stale_reads
        )

    def rows(self):
        """(finding, value, verdict) rows: the text and HTML forms are built from these."""
        n = self.notifications
        yield (
            "money created or destroyed",
            f"₹{self.money_created:+,}" if self.money_created else "₹0",
            not self.money_created,
        )
        yield (
            "negative balances",
            _few([f"{u} ₹{v:,}" for u, v in self.negative_balances.items()]),
            not self.negative_balances,
        )
        yield "double debits", _few([f"{p} ×{k}" for p, k in self.double_debits]), not self.double_debits
        yield (
            "payments lost",
            _few([f"{s}→{r} ₹{a:,}" for _, s, r, a in self.lost_payments]),
            not self.lost_payments,
        )
        yield (
            "wrong balances",
            _few([f"{u} (should be ₹{v['expected']:,})" for u, v in self.wrong_balances.items()]),
            not self.wrong_balances,
        )
        yield "pods disagree on", _few(list(self.divergent_balances)), not self.divergent_balances
        yield "sessions lost", _few(self.lost_sessions), not self.lost_sessions
        queued = f" ({n.pending} still queued)" if n.pending else ""
        yield "SMS queued / delivered", f"{n.enqueued} / {n.delivered}{queued}", not n.lost
        yield "SMS lost", _few([f"{u}: {m}" for u, m in n.lost], 4), not n.lost
        yield "SMS sent twice (dropped by gateway)", str(n.duplicates), True
        if self.database is not None:
            yield (
                "stale balance reads (cache)",
                _few([f"{u} ₹{a:,} (was ₹{b:,})" for u, a, b in self.stale_reads]),
                not self.stale_reads,
            )

    def __str__(self):
        head = f"Audit ({self._where}): " + (
            "OK, nothing lost, created or disagreed on" if self.ok else "PROBLEMS FOUND"
        )
        width = max(len(r[0]) for r in self.rows())
        lines = [head] + [
            f"  {'✓' if good else '✗'} {name:<{width}}  {value}" for name, value, good in self.rows()
        ]
        return "\n".join(lines)

    def _repr_html_(self):
        cells = "".join(
            f"<tr><td style='color:{'#2a7' if good else '#c33'}'>{'✓' if good else '✗'}</td>"
            f"<td style='text-align:left'>{html.escape(name)}</td><td style='text-align:left'>{html.escape(value)}</td></tr>"
            for name, value, good in self.rows()
        )
        verdict = "nothing lost, created or disagreed on" if self.ok else "problems found"
        return f"<b>Audit ({html.escape(self._where)}): {verdict}</b><table>{cells}</table>"

    @property
    def _where(self):
        return self.state if self.database is None else f"{self.state}, books in {self.database}"


def _few(items, shown=5):
    """'none', or the first few items and how many there are in all."""
    if not items:
        return "none"
    more = f" … {len(items)} in all" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


# ---------------------------------------------------------------- the audit itself
def audit(lab, requests, wait=defaults.AUDIT_WAIT):
    """Money is counted over the lab's whole history (balances are global); sessions and
    SMS over ``requests`` (a run's, or all of them)."""
    promised = promises_of(requests)
    if requests is not lab.history.requests:
        everything = promises_of(lab.history.requests)
        promised["payments"], promised["in_doubt"] = everything["payments"], everything["in_doubt"]
    stores = _wait_for_sms(lab, promised["sms"], wait, promised["sms_pods"])
    result = Audit(state=lab.state, database=lab.db.kind if lab.db is not None else None)
    _count_money(result, lab, promised, stores)
    if lab.db is not None:
        result.stale_reads = stale_reads(lab, requests)
    result.lost_sessions = promised["lost_sessions"]
    result.notifications = _count_sms(promised["sms"], _attempts(lab), stores)
    return result


def _count_money(result, lab, promised, stores):
    """Money created, negative balances, double debits, lost payments, wrong and divergent
    balances: the books (``stores``) against the payments customers were told of."""
    # Which payments happened: acknowledged ones, plus in-doubt ones some books recorded.
    receipts = {}
    for books in stores.values():
        for pid, receipt in books["payments"].items():
            receipts.setdefault(pid, []).append(receipt)
    made = dict(promised["payments"])
    made.update({pid: rs[0] for pid, rs in receipts.items() if pid in promised["in_doubt"]})
    expected = dict(lab.accounts)
    for p in made.values():
        expected[p["sender"]] -= p["amount"]
        expected[p["receiver"]] += p["amount"]

    opened = sum(lab.accounts.values())
    result.money_created = sum(
        sum(b["balances"].get(u, 0) for u in lab.accounts) - opened for b in stores.values()
    )
    for books in stores.values():
        for user, value in books["balances"].items():
            if value < 0:
                result.negative_balances[user] = min(value, result.negative_balances.get(user, 0))
    result.double_debits = sorted((pid, len(rs)) for pid, rs in receipts.items() if len(rs) > 1)
    result.lost_payments = [
        (pid, p["sender"], p["receiver"], p["amount"])
        for pid, p in promised["payments"].items()
        if pid not in receipts
    ]
    for user in lab.accounts:
        seen = {name: books["balances"].get(user) for name, books in stores.items()}
        if any(v != expected[user] for v in seen.values()):
            result.wrong_balances[user] = {"expected": expected[user], "seen": seen}
        if len(set(seen.values())) > 1:
            result.divergent_balances[user] = seen


def stale_reads(lab, requests):
    """``[(user, ₹ answered, ₹ the database held)]``: every ``balance`` answer the database
    never held during its request (see the module's docstring)."""
    offset = time.perf_counter() - lab.now()  # pod clocks (perf_counter) -> lab time
    replied = {
        r.value["payment"]: r.received
        for r in lab.history.requests
        if r.endpoint == "pay" and r.ok and not r.value.get("repeated")
    }
    changes = {}  # user -> [(written, committed at the latest, delta)]
    for row in lab.sql("SELECT id, sender, receiver, amount, at FROM payments"):
        written = row["at"] - offset
        latest = max(written, replied.get(row["id"], written))
        changes.setdefault(row["sender"], []).append((written, latest, -row["amount"]))
        changes.setdefault(row["receiver"], []).append((written, latest, row["amount"]))
    found = []
    for r in requests:
        if r.endpoint != "balance" or not r.ok or r.params.get("user") not in lab.accounts:
            continue
        user = r.params["user"]
        held = set()
        for moment in (0, 1):  # each commit placed as early, then as late, as it can be
            steps = sorted((c[moment], c[2]) for c in changes.get(user, ()))
            value = lab.accounts[user] + sum(d for t, d in steps if t <= r.sent)
            held.add(value)
            for t, d in steps:
                if r.sent < t <= r.received:
                    value += d
                    held.add(value)
        if r.value not in held:
            truth = lab.accounts[user] + sum(c[2] for c in changes.get(user, ()) if c[0] <= r.received)
            found.append((user, r.value, truth))
    return found


def _count_sms(sms, attempts, stores):
    """The SMS customers were told of (``sms``), against the gateway's ``attempts`` and
    what the books still hold queued."""
    delivered_ids = {a["id"] for a in attempts}
    queued = {i for books in stores.values() for i in books["queued"]}
    return Notifications(
        enqueued=len(sms),
        delivered=len(delivered_ids & set(sms)),
        lost=[sms[i] for i in sms if i not in delivered_ids and i not in queued],
        duplicates=len(attempts) - len(delivered_ids),
        pending=sum(1 for i in sms if i not in delivered_ids and i in queued),
    )


def _attempts(lab):
    """The SMS gateway's delivery attempts; none for a lab whose app has no gateway."""
    return lab.gateway.attempts() if lab.gateway is not None else []


def _may_be_sending(lab, missing, queued_by):
    """Could a live worker hold one of ``missing`` SMS right now? With Redis any pod's worker
    may have taken it; in memory only the pod that queued it, and a removed or killed pod
    took its SMS with it (waiting for those would only make the audit slow)."""
    if lab.state != "memory":
        return True
    serving = {p.name for p in lab.pods if p.status in SERVING}
    return any(queued_by.get(i) in serving or queued_by.get(i) is None for i in missing)


def _wait_for_sms(lab, sms, wait, queued_by):
    """Give the pods' workers time to send what they still hold, then read the books.
    ``queued_by``: SMS id -> the pod whose reply promised it (where memory state queued it)."""
    deadline = time.monotonic() + wait
    while True:
        stores = read_books(lab)
        delivered = {a["id"] for a in _attempts(lab)}
        queued = {i for books in stores.values() for i in books["queued"]}
        workers = any(p.status in SERVING for p in lab.pods)  # anyone left to send?
        if (
            not workers
            or not any(i not in delivered and i in queued for i in sms)
            or time.monotonic() > deadline
        ):
            missing = [i for i in sms if i not in delivered and i not in queued]
            if missing and workers and _may_be_sending(lab, missing, queued_by):
                # an SMS neither queued nor delivered may be mid-delivery: one more look
                time.sleep(2 * lab.sms_seconds + 0.05)
                return read_books(lab)
            return stores
        time.sleep(0.05)
