"""FinPay's books: balances, receipts and each customer's recent payments, moved in one step.

A payment changes five things at once: the sender's balance, the receiver's, the receipt
kept under the payment's id (so a retry with the same key finds it and moves nothing),
and both customers' ledgers (their statements). If a crash or a race could stop it
half-way, money would be created or destroyed. So every store does it in one
indivisible step, in its own way:

* ``MemoryLedger``: the pod's ``MemoryState`` lock held for the whole step (the SMS worker
  shares that state), every check before the first write.
* ``RedisLedger``: a Lua script that runs inside Redis, where no other command can see
  a half-done payment.
* ``SqlLedger``: the request's SQL transaction (a lab with ``db=``): several statements,
  one after the other, that the database applies all together at the commit, or not at
  all, even if the pod dies between two of them. The rules are the tables' own: the
  ``CHECK (balance >= 0)`` refuses an overdraft, the payments' primary key (the
  idempotency key) refuses a second payment under one key.

``ledger_for(state, db)`` picks the one that fits the ``State`` a handler got, or the SQL
one when the handler got a ``db``. Each kind of store is one class here, with its own way
of being atomic, and one line in ``LEDGERS``; the ``State`` interface does not grow.

Keys, the same on every store: ``balance:<user>`` (an integer), ``payment:<id>`` (the
receipt), ``ledger:<user>`` (the newest ``keep`` receipts, newest first).
"""

import json
import time
import weakref

from ..errors import DatabaseError, Rejected
from ..numbers import is_whole
from ..runtime.points import crash_point
from ..stores.state import EXACT_MAX, short_repr

BALANCE, PAYMENT, LEDGER = "balance:", "payment:", "ledger:"
KEEP = 50  # receipts a customer's ledger keeps; a statement shows at most this many


class Ledger:
    """What FinPay asks of a store for its money. One subclass per kind of store."""

    kind = "?"  # the ``State.kind`` this ledger works on

    def __init__(self, state, keep=KEEP):
        self.state = state
        self.keep = keep

    def move(self, sender, receiver, amount, payment, receipt):
        """Move ``amount`` from ``sender`` to ``receiver`` *exactly once*.

        If payment ``payment`` already has a receipt, nothing moves and the stored receipt
        is returned (an idempotent retry). Otherwise, if the sender has at least
        ``amount``, both balances change, ``receipt`` (plus the sender's new ``balance``)
        is stored under the payment and added to both customers' ledgers, all in one
        indivisible step; returns ``(True, receipt)`` for a new payment, ``(False,
        receipt)`` for a repeat. Raises ``Rejected``, having changed nothing, if the money
        is not there, if either balance is not a whole number within ±(2**53 − 1) (what
        every store holds exactly), or if the receiver's would pass that.
        """
        _check_amount(amount)
        src, dst, ledgers = BALANCE + sender, BALANCE + receiver, [LEDGER + sender, LEDGER + receiver]
        return self._move(src, dst, amount, PAYMENT + payment, ledgers, receipt)

    def _move(self, src, dst, amount, receipt_key, ledgers, receipt):
        """``move`` on this store, with its keys; ``amount`` is already checked."""
        raise NotImplementedError

    def statement(self, user) -> list:
        """The receipts in ``user``'s ledger, newest first."""
        raise NotImplementedError


class MemoryLedger(Ledger):
    """The books in a pod's own memory: one locked step on its ``MemoryState``."""

    kind = "memory"

    def _move(self, src, dst, amount, receipt_key, ledgers, receipt):
        state = self.state
        with state.lock:
            done = state.get(receipt_key)
            if done is not None:
                return False, done
            # Every check before the first write, as in Redis's script (the request's
            # journal would undo a half payment here, but the rule is the same everywhere).
            balance, other = state.get(src), state.get(dst)
            if not is_whole(balance, -EXACT_MAX, EXACT_MAX):
                raise Rejected(_no_account(src))
            if not is_whole(other, -EXACT_MAX, EXACT_MAX):
                raise Rejected(_no_account(dst))
            if balance < amount:
                raise Rejected(f"insufficient funds: balance is ₹{balance:,}, payment is ₹{amount:,}")
            if other + amount > EXACT_MAX:
                raise Rejected(_too_much(dst, other, amount))
            if any(not isinstance(state.get(ledger, []), list) for ledger in ledgers):
                raise Rejected(f"a ledger ({' or '.join(ledgers)}) holds something other than a list")
            receipt = dict(receipt, balance=balance - amount)
            state.incr(src, -amount)
            state.incr(dst, amount)
            state.set(receipt_key, receipt)
            for ledger in ledgers:
                state.set(ledger, [receipt] + list(state.get(ledger, []))[: self.keep - 1])
            return True, receipt

    def statement(self, user):
        return list(self.state.get(LEDGER + user, []))


class RedisLedger(Ledger):
    """The books in Redis: one Lua script, so no other command sees a half-done payment."""

    kind = "redis"

    # KEYS: src dst receipt ledger_src ledger_dst; ARGV: amount receipt_json keep
    # Runs inside Redis as one step: no other command can see a half-done payment. But a
    # script that fails half-way keeps the writes it made (Redis has no rollback), so
    # every check comes before the first write. Lua numbers are doubles: a balance is
    # read only if it is a whole number within ±(2**53 − 1), where doubles are exact.
    MOVE = """
    local done = redis.call('GET', KEYS[3])
    if done then return {0, done} end
    local function whole(raw)
        if type(raw) ~= 'string' or not string.match(raw, '^%-?%d+$') then return nil end
        local n = tonumber(raw)
        if n > 9007199254740991 or n < -9007199254740991 then return nil end
        return n
    end
    local balance = whole(redis.call('GET', KEYS[1]))
    if balance == nil then return {-2, ''} end
    local other = whole(redis.call('GET', KEYS[2]))
    if other == nil then return {-3, ''} end
    local amount = whole(ARGV[1])
    if balance < amount then return {-1, string.format('%d', balance)} end
    if other + amount > 9007199254740991 then return {-4, string.format('%d', other)} end
    for _, ledger in ipairs({KEYS[4], KEYS[5]}) do
        local kind = redis.call('TYPE', ledger).ok
        if kind ~= 'list' and kind ~= 'none' then return {-5, ledger} end
    end
    redis.call('DECRBY', KEYS[1], amount)
    redis.call('INCRBY', KEYS[2], amount)
    local left = string.format('%d', balance - amount)
    local receipt = string.gsub(ARGV[2], '"balance": null', '"balance": ' .. left)
    redis.call('SET', KEYS[3], receipt)
    for _, ledger in ipairs({KEYS[4], KEYS[5]}) do
        redis.call('LPUSH', ledger, receipt)
        redis.call('LTRIM', ledger, 0, tonumber(ARGV[3]) - 1)
    end
    return {1, receipt}
    """

    def __init__(self, state, keep=KEEP):
        super().__init__(state, keep)
        # Sent once per connection as EVALSHA; loaded again by itself if Redis forgot it.
        self._script = state.redis.register_script(self.MOVE)

    def _move(self, src, dst, amount, receipt_key, ledgers, receipt):
        body = json.dumps(dict(receipt, balance=None))
        status, payload = self._script(keys=[src, dst, receipt_key, *ledgers], args=[amount, body, self.keep])
        if status in (-2, -3):
            raise Rejected(_no_account(src if status == -2 else dst))
        if status == -1:
            raise Rejected(f"insufficient funds: balance is ₹{int(payload):,}, payment is ₹{amount:,}")
        if status == -4:
            raise Rejected(_too_much(dst, int(payload), amount))
        if status == -5:
            raise Rejected(f"a ledger ({payload}) holds something other than a list")
        return status == 1, json.loads(payload)

    def statement(self, user):
        return [json.loads(x) for x in self.state.redis.lrange(LEDGER + user, 0, -1)]


# The tables, the same text on SQLite and PostgreSQL. A payment's id is its idempotency key
# (unique, as a primary key is); ``at`` is the pod's clock (time.perf_counter, one clock
# for every process of the machine) when it wrote the payment: the audit reads it to know
# what a balance was at any moment. The ledger holds one row per account a payment moved.
SCHEMA = [
    "DROP TABLE IF EXISTS ledger",
    "DROP TABLE IF EXISTS payments",
    "DROP TABLE IF EXISTS accounts",
    """CREATE TABLE accounts (
        name    TEXT PRIMARY KEY,
        balance BIGINT NOT NULL CHECK (balance >= 0)
    )""",
    """CREATE TABLE payments (
        id       TEXT PRIMARY KEY,
        sender   TEXT NOT NULL REFERENCES accounts (name),
        receiver TEXT NOT NULL REFERENCES accounts (name),
        amount   BIGINT NOT NULL CHECK (amount > 0),
        receipt  TEXT NOT NULL,
        at       DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE ledger (
        payment TEXT NOT NULL REFERENCES payments (id),
        account TEXT NOT NULL REFERENCES accounts (name),
        delta   BIGINT NOT NULL,
        PRIMARY KEY (payment, account)
    )""",
]


class SqlLedger(Ledger):
    """The books in SQL tables: one transaction per payment, the request's own (``db``).

    The statements run one after the other; between the debit and the credit the point
    ``after_debit`` is a real moment (``fl.crash_point``): a pod killed there leaves a
    transaction without a commit, which the database rolls back, so no money moves."""

    kind = "sql"

    def __init__(self, db, keep=KEEP):
        self.db = db
        self.keep = keep

    # One round trip asks both questions a payment starts with: are both customers known,
    # and has this key paid already? (Each statement is a round trip to a PostgreSQL server:
    # a payment's cost is mostly how many it makes.)
    KNOWN_AND_DONE = (
        "SELECT name, NULL AS receipt FROM accounts WHERE name IN (:sender, :receiver) "
        "UNION ALL SELECT NULL, receipt FROM payments WHERE id = :id"
    )

    def move(self, sender, receiver, amount, payment, receipt):
        """As ``Ledger.move``; and first, ``Rejected("unknown customer ...")`` (the sender's,
        then the receiver's) when the accounts table lacks either, as ``pay`` says it."""
        _check_amount(amount)
        db = self.db
        rows = db.query(self.KNOWN_AND_DONE, sender=sender, receiver=receiver, id=payment)
        known = {row["name"] for row in rows if row["name"] is not None}
        for user in (sender, receiver):
            if user not in known:
                raise Rejected(f"unknown customer {user!r}")
        done = [row["receipt"] for row in rows if row["name"] is None]
        if done:
            return False, json.loads(done[0])
        try:
            debited = db.query(
                "UPDATE accounts SET balance = balance - :amount WHERE name = :user RETURNING balance",
                amount=amount,
                user=sender,
            )
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise Rejected(
                f"insufficient funds: the books refused to take ₹{amount:,} from {sender} "
                f"(CHECK balance >= 0)"
            ) from None
        if not debited:
            raise Rejected(_no_account(BALANCE + sender))
        crash_point("after_debit")  # the sender is debited, the receiver not yet credited
        if not db.execute(
            "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver
        ):
            raise Rejected(_no_account(BALANCE + receiver))
        receipt = dict(receipt, balance=debited[0]["balance"])
        try:
            db.execute(
                "INSERT INTO payments (id, sender, receiver, amount, receipt, at) "
                "VALUES (:id, :sender, :receiver, :amount, :receipt, :at)",
                id=payment,
                sender=sender,
                receiver=receiver,
                amount=amount,
                receipt=json.dumps(receipt),
                at=time.perf_counter(),
            )
        except DatabaseError as exc:
            if not exc.integrity:
                raise
            raise Rejected(
                f"payment {payment!r} is being made by another request right now: retry with the "
                "same key to get its receipt"
            ) from None
        db.execute(
            "INSERT INTO ledger (payment, account, delta) VALUES (:payment, :sender, :debit), "
            "(:payment, :receiver, :amount)",
            payment=payment,
            sender=sender,
            receiver=receiver,
            debit=-amount,
            amount=amount,
        )
        return True, receipt

    def statement(self, user):
        rows = self.db.query(
            "SELECT p.receipt FROM ledger l JOIN payments p ON p.id = l.payment "
            "WHERE l.account = :user ORDER BY p.at DESC LIMIT :keep",
            user=user,
            keep=self.keep,
        )
        return [json.loads(row["receipt"]) for row in rows]


# State.kind -> the ledger for that store. A handler with a ``db`` gets the SqlLedger
# instead, whatever its state: the database is not a kind of ``State``.
LEDGERS = {"memory": MemoryLedger, "redis": RedisLedger}
_BOUND = weakref.WeakKeyDictionary()  # state -> its ledger, built once per pod's state


def ledger_for(state, db=None) -> Ledger:
    """The ledger that keeps FinPay's books: in the database when the handler got a ``db``
    (a new one per request: it lives as long as the transaction), else on ``state``."""
    if db is not None:
        return SqlLedger(db)
    ledger = _BOUND.get(state)
    if ledger is None:
        cls = LEDGERS.get(getattr(state, "kind", None))
        if cls is None:
            raise TypeError(
                f"FinPay keeps no books on a {type(state).__name__}: "
                f"its ledger runs on a state of kind {', '.join(map(repr, LEDGERS))}"
            )
        ledger = _BOUND[state] = cls(state)
    return ledger


def _check_amount(amount):
    if not is_whole(amount, 1, EXACT_MAX):
        raise Rejected(
            f"a payment moves a whole number of rupees from 1 to {EXACT_MAX:,}, not {short_repr(amount)}"
        )


def _no_account(key):
    return f"no usable account at {key}: a balance is a whole number of rupees within ±₹{EXACT_MAX:,}"


def _too_much(key, balance, amount):
    return (
        f"{key} holds ₹{balance:,}: ₹{amount:,} more would pass ₹{EXACT_MAX:,}, the most "
        "every store holds exactly"
    )
