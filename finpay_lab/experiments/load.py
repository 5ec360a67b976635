"""Load shapes: who sends what, and when. ``lab.run(shape)`` sends it on time.

A shape is a *plan* of timed requests, ``(at_seconds, endpoint, params)``, drawn from a
seeded random generator: the same seed gives the same customers, amounts and arrival
times, so a lesson's numbers repeat. Arrivals are a Poisson process (customers don't
coordinate), and the run is **open loop**: requests go out on schedule whether or not the
pods keep up, as real users don't wait for each other. If the lab itself cannot send
them on time, the run says so (``run.late``), and each request of the run keeps the second
it was due (``Response.due``): its latency counts from then, not from when the lab got
round to sending it, so the wait of a customer the lab kept queued is not left out.

    fl.load.constant(rps=200, seconds=3)
    fl.load.step(levels=(50, 400, 50), seconds=1)
    fl.load.salary_day(base=50, peak=10, seconds=5)      # quiet, midnight surge, decay

Every shape takes ``mix``: how often each kind of request happens (weights). Payments
need a token: before the run the plan logs each customer in once, like an app that
keeps its token, and reuses that token (and session) for the customer's requests.
"""

import math
import random
from dataclasses import dataclass, field

from .. import defaults
from ..errors import BadInput

# Mostly payments and balance checks, as on a real wallet's busiest day.
DEFAULT_MIX = {"pay": 0.5, "balance": 0.35, "whoami": 0.1, "notify": 0.05}
KNOWN = {"pay", "balance", "whoami", "notify", "statement", "add_balance", "fraud_check"}


def users(accounts, n=None, seed=0):
    """Up to ``n`` customers from ``accounts`` (the cast first, then the rest, seeded)."""
    names = list(accounts)
    if n is None or n >= len(names):
        return names
    cast, rest = names[:8], names[8:]
    random.Random(seed).shuffle(rest)
    return (cast + rest)[:n]


@dataclass
class Shape:
    """A load shape: ``rate(t)`` requests per second for ``seconds``, with a request ``mix``."""

    seconds: float
    mix: dict = field(default_factory=lambda: dict(DEFAULT_MIX))
    users: int | None = 50
    seed: int = 0
    amounts: tuple = (10, 500)  # ₹ per payment: small, so nobody runs dry in a lesson
    name: str = "load"

    def __post_init__(self):
        if (
            isinstance(self.seconds, bool)
            or not isinstance(self.seconds, int | float)
            or not 0 < self.seconds <= 600
        ):
            raise BadInput(f"seconds must be between 0 and 600, not {self.seconds!r}")
        if not isinstance(self.mix, dict) or any(
            isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w)
            for w in self.mix.values()
        ):
            raise BadInput(f"mix must be a dict of weights like {DEFAULT_MIX}, got {self.mix!r}")
        unknown = set(self.mix) - KNOWN
        if unknown or not self.mix or any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise BadInput(f"mix must weight some of {sorted(KNOWN)}, got {self.mix!r}")
        if self.users is not None and (
            isinstance(self.users, bool) or not isinstance(self.users, int) or self.users < 1
        ):
            raise BadInput(f"users must be a number of customers ≥ 1 (or None for all), not {self.users!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | str):
            raise BadInput(f"seed must be a whole number or a string, not {type(self.seed).__name__}")
        planned = self.peak_rate() * self.seconds
        if planned > defaults.MAX_PLANNED_REQUESTS:
            raise BadInput(
                f"this shape would plan up to {planned:,.0f} requests; the lab plans at most "
                f"{defaults.MAX_PLANNED_REQUESTS:,}: lower the rate or the seconds"
            )

    def rate(self, t: float) -> float:
        raise NotImplementedError

    def peak_rate(self) -> float:
        return max(self.rate(self.seconds * i / 200) for i in range(201))

    def arrivals(self):
        """Seeded Poisson arrival times with rate ``rate(t)`` (thinning)."""
        rng = random.Random(f"{self.seed}:arrivals")
        peak = self.peak_rate()
        t = 0.0
        while peak > 0:
            t += rng.expovariate(peak)
            if t >= self.seconds:
                return
            if rng.random() * peak <= self.rate(t):
                yield t

    def plan(self, lab):
        """The timed requests for ``lab``: logs the customers in first (tokens, sessions)."""
        who = users(lab.accounts, self.users, self.seed) or ["Ravi"]
        logins = {}
        if {"pay", "whoami", "fraud_check"} & {k for k, w in self.mix.items() if w > 0}:
            for user in who:
                r = lab.call("login", user=user)
                if r.ok:
                    logins[user] = r.value
        rng = random.Random(f"{self.seed}:requests")
        # Payment keys must differ between two runs of one shape on one lab, and repeat
        # exactly when the lesson is re-run: the lab's request count so far does both.
        nonce = lab.history.total  # every request ever recorded: it never repeats
        kinds, weights = zip(*[(k, w) for k, w in self.mix.items() if w > 0])
        for n, at in enumerate(self.arrivals()):
            kind = rng.choices(kinds, weights)[0]
            user = rng.choice(who)
            endpoint, params = self._request(kind, user, who, logins, rng)
            if endpoint == "pay":  # a client-made idempotency key: a retry can't pay twice
                params["key"] = f"{self.name.replace(' ', '-')}-{self.seed}-{nonce}-{n}"
            yield at, endpoint, params

    def _request(self, kind, user, who, logins, rng):
        if kind == "pay":
            receiver = rng.choice([u for u in who if u != user] or who)
            token = logins.get(user, {}).get("token", "")
            return "pay", {
                "sender": user,
                "receiver": receiver,
                "amount": rng.randint(*self.amounts),
                "token": token,
            }
        if kind == "whoami":
            return "whoami", {"user": user, "session": logins.get(user, {}).get("session", "")}
        if kind == "notify":
            return "notify", {"user": user, "message": "Your FinPay statement is ready"}
        if kind == "add_balance":
            return "add_balance", {"user": user, "amount": rng.randint(*self.amounts)}
        if kind == "fraud_check":
            return "fraud_check", {"user_a": user, "user_b": rng.choice(who)}
        return kind, {"user": user}

    def expected_requests(self) -> float:
        steps = 400
        return sum(self.rate(self.seconds * (i + 0.5) / steps) for i in range(steps)) * self.seconds / steps

    def __repr__(self):
        return f"<{self.name}: {self.seconds:g} s, ~{self.expected_requests():,.0f} requests, peak {self.peak_rate():,.0f}/s>"


@dataclass(repr=False)
class Constant(Shape):
    rps: float = 100.0
    name: str = "constant"

    def rate(self, t):
        return self.rps


@dataclass(repr=False)
class Step(Shape):
    levels: tuple = (50, 200, 50)
    name: str = "step"

    def rate(self, t):
        i = min(int(t / (self.seconds / len(self.levels))), len(self.levels) - 1)
        return self.levels[i]


@dataclass(repr=False)
class SalaryDay(Shape):
    """Quiet evening, then at "midnight" salaries land and everyone pays rent at once:
    the rate jumps to ``peak`` × ``base`` and decays back over ``decay`` seconds."""

    base: float = 50.0
    peak: float = 10.0
    midnight: float = 0.3  # when the surge starts, as a fraction of the run
    decay: float = 0.35  # the surge's time constant, as a fraction of the run
    name: str = "salary day"

    def rate(self, t):
        start = self.midnight * self.seconds
        if t < start:
            return self.base
        return self.base * (1 + (self.peak - 1) * math.exp(-(t - start) / (self.decay * self.seconds)))


def constant(rps=100, seconds=3, **kw) -> Shape:
    """``rps`` requests per second, steady, for ``seconds``."""
    _positive(rps, "rps")
    return Constant(seconds=seconds, rps=rps, **kw)


def step(levels=(50, 200, 50), seconds=3, **kw) -> Shape:
    """Each rate in ``levels`` for an equal share of ``seconds``."""
    if not levels:
        raise BadInput("levels must list at least one rate")
    for level in levels:
        _positive(level, "each level", zero_ok=True)
    return Step(seconds=seconds, levels=tuple(levels), **kw)


def salary_day(base=50, peak=10, seconds=5, **kw) -> Shape:
    """Quiet at ``base`` req/s, a surge to ``peak`` × base at midnight, then decay."""
    _positive(base, "base")
    _positive(peak, "peak")
    return SalaryDay(seconds=seconds, base=base, peak=peak, **kw)


def _positive(x, what, zero_ok=False):
    if (
        isinstance(x, bool)
        or not isinstance(x, int | float)
        or not math.isfinite(x)
        or x < 0
        or (x == 0 and not zero_ok)
        or x > 100_000
    ):
        raise BadInput(f"{what} must be a rate between 0 and 100,000 requests/s, not {x!r}")
