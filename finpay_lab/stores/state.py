"""Where a pod keeps what it remembers: the ``State`` a handler receives.

Every handler gets a ``state`` as its first argument and never knows which kind it is:

* ``MemoryState``: a dict inside the pod's own process. Fast, and **gone when the pod
  dies**; every pod has its own, so two pods can disagree about Ravi's balance.
* ``RedisState``: one Redis server shared by every pod. A pod can die and its
  replacement, or any other pod, picks up exactly where it left off.

This one interface is the seam of the whole course: the same handler code, flipped from
``state="memory"`` to ``state="redis"``, turns a stateful service into a stateless one.

Values are anything JSON can hold (numbers, strings, lists, dicts), the same on both
kinds, so what you store in memory is exactly what you would store in Redis.

The interface stays narrow: keys and values, an atomic counter, a work queue, and the
request's begin/commit/rollback. What one service needs beyond that lives with the
service, one implementation per kind of store: FinPay's payment, which moves money in one
indivisible step, is ``finpay_lab/services/ledger.py`` (a locked step in memory, a Lua
script in Redis).
"""

import json
import subprocess
import threading
import time
from contextlib import contextmanager

import redis as redis_py
from redis.backoff import NoBackoff
from redis.retry import Retry

from .. import defaults
from ..errors import RedisUnavailable, Rejected
from ..numbers import is_whole

_MISSING = object()
GROUP = "workers"  # the Redis consumer group of a queue's readers (lesson 04 names it)

# Redis keeps integers in 64 bits: INCRBY refuses to go past them ("would overflow").
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Lua, which runs FinPay's payment inside Redis (``services/ledger.py``), counts in
# doubles: integers beyond 2**53 lose their last digits there. So money (balances and
# amounts) stays within ±(2**53 − 1), on every store.
EXACT_MAX = 2**53 - 1


def _check_incr(key, amount, initial):
    """Before ``incr`` writes anything: the numbers fit in what Redis holds, and so does
    ``initial + amount`` (so a key ``incr`` creates never overflows on its first step)."""
    for name, value in (("amount", amount), ("initial", initial)):
        if not is_whole(value, INT64_MIN, INT64_MAX):
            raise Rejected(
                f"cannot add to {key}: {name} must be a whole number from −2⁶³ to 2⁶³−1 "
                f"(what Redis holds), not {short_repr(value)}"
            )
    if not INT64_MIN <= initial + amount <= INT64_MAX:
        raise _overflow(key, amount)


def _overflow(key, amount):
    return Rejected(
        f"cannot add {amount:,} to {key}: the result would overflow (Redis holds "
        "whole numbers from −2⁶³ to 2⁶³−1)"
    )


def short_repr(value, limit=40):
    """``repr(value)``, cut to ``limit`` characters: what an error message quotes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class State:
    """What a handler sees. Subclasses implement each method; the semantics are Redis's."""

    kind = "?"

    def get(self, key, default=None):
        """The value at ``key``, or ``default`` if there is none (or it expired)."""
        raise NotImplementedError

    def set(self, key, value, ttl=None):
        """Store ``value`` at ``key``; with ``ttl`` (seconds) it expires after that long."""
        raise NotImplementedError

    def incr(self, key, amount=1, initial=0) -> int:
        """Add ``amount`` to the integer at ``key`` (``initial`` if absent) and return it.

        Atomic on both kinds: two pods incrementing at once never lose an update.
        """
        raise NotImplementedError

    def delete(self, key) -> bool:
        """Remove ``key``; True if it existed."""
        raise NotImplementedError

    def keys(self, prefix="") -> list:
        """The keys that start with ``prefix``, sorted."""
        raise NotImplementedError

    # A work queue with acknowledgements: what the notification service keeps SMS in.
    # In memory, an item taken is simply gone from the queue (and dies with the pod);
    # in Redis it is a Stream with a consumer group: an item stays *pending* until its
    # consumer acknowledges it, and survivors can reclaim items a dead consumer held.
    def enqueue(self, queue, item) -> str:
        raise NotImplementedError

    def take(self, queue, consumer):
        """The next ``(id, item)`` for ``consumer``, or None."""
        raise NotImplementedError

    def ack(self, queue, item_id):
        pass

    def reclaim(self, queue, consumer, min_idle) -> list:
        """Items other consumers took ``min_idle`` seconds ago and never acknowledged."""
        return []

    def backlog(self, queue) -> int:
        """Items not yet acknowledged: waiting, or taken and in progress."""
        raise NotImplementedError

    # A request that fails half-way must change nothing. The app brackets every request
    # with these; MemoryState undoes partial writes, RedisState applies each command as it
    # is made (so handlers validate before they write, as real services do).
    def begin(self):
        pass

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        pass


def _check_value(value):
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise Rejected(f"cannot store {type(value).__name__}: state holds JSON values") from exc


class MemoryState(State):
    """A dict in this process: each pod has its own, and it dies with the pod."""

    kind = "memory"

    def __init__(self):
        self._data = {}  # key -> (value, expires_at or None)
        self._journal = None  # key -> previous entry, while a request is running
        # The pod's background workers (e.g. the SMS sender) share this state with the
        # request handler, so compound operations take this lock (FinPay's ledger too).
        self.lock = threading.RLock()

    def _entry(self, key):
        entry = self._data.get(key, _MISSING)
        if entry is not _MISSING and entry[1] is not None and entry[1] <= time.monotonic():
            self._write(key, _MISSING)  # expired: gone, like a Redis key with a TTL
            return _MISSING
        return entry

    def _write(self, key, entry):
        if self._journal is not None and key not in self._journal:
            self._journal[key] = self._data.get(key, _MISSING)
        if entry is _MISSING:
            self._data.pop(key, None)
        else:
            self._data[key] = entry

    def get(self, key, default=None):
        with self.lock:
            entry = self._entry(key)
            return default if entry is _MISSING else entry[0]

    def set(self, key, value, ttl=None):
        _check_value(value)
        with self.lock:
            expires = None if ttl is None else time.monotonic() + ttl
            self._write(key, (value, expires))

    def incr(self, key, amount=1, initial=0):
        _check_incr(key, amount, initial)
        with self.lock:
            entry = self._entry(key)
            current = initial if entry is _MISSING else entry[0]
            if not is_whole(current, INT64_MIN, INT64_MAX):
                raise Rejected(f"{key} does not hold an integer")
            value = current + amount
            if not INT64_MIN <= value <= INT64_MAX:  # as Redis: refuse, change nothing
                raise _overflow(key, amount)
            self._write(key, (value, None if entry is _MISSING else entry[1]))
            return value

    def delete(self, key):
        with self.lock:
            existed = self._entry(key) is not _MISSING
            self._write(key, _MISSING)
            return existed

    def keys(self, prefix=""):
        with self.lock:
            return sorted(
                k for k in list(self._data) if k.startswith(prefix) and self._entry(k) is not _MISSING
            )

    # The queue is a list of [id, item] at key ``queue``, its last id at ``queue:seq``;
    # every change writes a new list, so a rollback restores the old one.
    def enqueue(self, queue, item):
        with self.lock:
            item_id = f"{self.incr(queue + ':seq')}"
            _check_value(item)
            self._write(queue, ([*self.get(queue, []), [item_id, item]], None))
            return item_id

    def take(self, queue, consumer):
        with self.lock:
            items = list(self.get(queue, []))
            if not items:
                return None
            self._write(queue, (items[1:], None))
            return tuple(items[0])

    def backlog(self, queue):
        return len(self.get(queue, []))

    def begin(self):
        self.lock.acquire()
        self._journal = {}

    def commit(self):
        self._journal = None
        self.lock.release()

    def rollback(self):
        journal, self._journal = self._journal or {}, None
        for key, entry in journal.items():
            self._write(key, entry)
        self.lock.release()


def redis_client(url: str) -> redis_py.Redis:
    """A client that fails fast when Redis is down (no silent retries for seconds)."""
    return redis_py.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=defaults.REDIS_CONNECT_TIMEOUT,
        socket_timeout=defaults.REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


def _has_exited(helper, within=0.2) -> bool:
    """True if the Redis helper process has exited. Waits a moment rather than polling once:
    a helper killed a moment ago can still be on its way out when its socket already
    refuses connections (one run in three on a loaded machine said "down" for a dead one)."""
    if helper is None:
        return False
    try:
        helper.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return False
    return True


@contextmanager
def lab_redis(lab):
    """A client for what the lab itself reads from or writes to its Redis (the audit,
    ``balances``, opening the books). A server that does not answer becomes
    ``RedisUnavailable`` and a ``redis unreachable`` event in the lab's history."""
    client = redis_client(lab.redis_url)
    try:
        yield client
    except (redis_py.ConnectionError, redis_py.TimeoutError) as exc:
        gone = _has_exited(lab.redis.process)
        why = "its helper process has exited" if gone else "its server is down, paused or was killed"
        lab.record_event(None, "redis", "unreachable", pid=lab.redis.pid)
        raise RedisUnavailable(
            f"the lab's Redis at {lab.redis.safe_url} does not answer ({exc}): {why}. If a chaos "
            "fault took it down, try again once it is back; otherwise close this lab and start a new one"
        ) from exc
    finally:
        client.close()


def _load(raw):
    return None if raw is None else json.loads(raw)


class RedisState(State):
    """One Redis shared by every pod: what one pod writes, every pod reads."""

    kind = "redis"

    def __init__(self, url: str, group: str = GROUP):
        self.url = url
        self.redis = redis_client(url)
        self.group = group  # the consumer group every pod's worker reads the queues in

    def get(self, key, default=None):
        raw = self.redis.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key, value, ttl=None):
        _check_value(value)
        self.redis.set(key, json.dumps(value), ex=None if ttl is None else max(1, round(ttl)))

    def incr(self, key, amount=1, initial=0):
        # SET NX then INCRBY, sent together: both are atomic in Redis, so concurrent pods
        # never lose an increment and the first one seeds the initial value. The checks
        # come first: INCRBY can then fail only on a key that already existed (not an
        # integer, or an overflow), and then neither command changed anything.
        _check_incr(key, amount, initial)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(key, initial, nx=True)
        pipe.incrby(key, amount)
        try:
            return pipe.execute()[1]
        except redis_py.ResponseError as exc:
            if "overflow" in str(exc):
                raise _overflow(key, amount) from exc
            raise Rejected(f"{key} does not hold an integer") from exc

    def delete(self, key):
        return bool(self.redis.delete(key))

    def keys(self, prefix=""):
        return sorted(self.redis.scan_iter(match=_glob_escape(prefix) + "*", count=1000))

    def enqueue(self, queue, item):
        return self.redis.xadd(queue, {"item": json.dumps(item)})

    def _group(self, queue):
        try:
            self.redis.xgroup_create(queue, self.group, id="0", mkstream=True)
        except redis_py.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def take(self, queue, consumer):
        # No BLOCK: fakeredis answers XREADGROUP with COUNT and BLOCK at once anyway,
        # and the worker sleeps between polls itself.
        try:
            reply = self.redis.xreadgroup(self.group, consumer, {queue: ">"}, count=1)
        except redis_py.ResponseError:  # no stream or no group yet: create both
            self._group(queue)
            return None
        for _stream, entries in reply or ():
            for item_id, fields in entries:
                return item_id, json.loads(fields["item"])
        return None

    def ack(self, queue, item_id):
        self.redis.xack(queue, self.group, item_id)

    def reclaim(self, queue, consumer, min_idle):
        try:
            reply = self.redis.xautoclaim(queue, self.group, consumer, int(min_idle * 1000), "0-0", count=10)
        except redis_py.ResponseError:
            return []
        return [(item_id, json.loads(fields["item"])) for item_id, fields in reply[1] if fields]

    def backlog(self, queue):
        try:
            groups = self.redis.xinfo_groups(queue)
        except redis_py.ResponseError:
            return 0
        for group in groups:
            if group["name"] == self.group:
                return int(group.get("pending") or 0) + int(group.get("lag") or 0)
        return self.redis.xlen(queue)

    def close(self):
        self.redis.close()


def _glob_escape(text):
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def make_state(kind: str, redis_url: str | None = None, group: str = GROUP) -> State:
    """Build the state a pod uses: called inside the pod, after it starts."""
    if kind == "memory":
        return MemoryState()
    if kind == "redis":
        return RedisState(redis_url, group)
    raise ValueError(f"unknown state kind {kind!r}")
