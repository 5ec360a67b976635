"""What happened: every request's response and every pod event, with times.

* ``Response``: one request's outcome (what ``lab.call`` returns, and one row of a run).
  Its ``user`` is whom the request was for, read from the parameter its app names
  (``App.user_params``: FinPay's ``user``, a payment's ``sender``).
* ``PodEvent``: something that happened to a pod: started, ready, killed, exited,
  restarted, scaled, paused... with the lab-relative time it happened.
* ``History``: the lab's record (``lab.history``): every pod event, and the latest
  ``defaults.HISTORY_KEEP`` requests. Older requests are dropped, with a ``trimmed`` event
  that says so, once the audit has counted what they promised (so it stays exact).
* ``Run``: the slice of history one ``lab.run(...)`` produced, with its metrics.

Times are seconds since the lab started (``time.perf_counter`` based), so plots of a run
start near zero and two runs of one lab share a clock.
"""

import dataclasses
import enum
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from .. import defaults
from ..errors import BadInput
from .names import pod_number


class Cause(enum.StrEnum):
    """Why a request failed: a value set where the failure is made, which the audit reads
    (never the error's text). Shown as its bare word, like ``PodStatus``."""

    CRASHED = "crashed"  # its pod died while handling it: it may have acted first (in doubt)
    TIMEOUT = "timeout"  # its pod did not answer in time: it may yet act, or have acted (in doubt)
    STORE_UNAVAILABLE = "store_unavailable"  # the store (Redis) broke off mid-request (in doubt)
    REJECTED = "rejected"  # the app refused it (``Rejected``: insufficient funds...): nothing changed
    BAD_REQUEST = "bad_request"  # unknown endpoint, wrong or unreadable parameters: nothing ran
    APP_ERROR = "app_error"  # the handler raised (a bug): its changes were rolled back
    NO_POD = "no_pod"  # no pod could take it: none ready, or the pod named is not running
    INTERRUPTED = "interrupted"  # the caller gave up (Ctrl-C) before its pod answered
    BAD_REPLY = "bad_reply"  # the handler's answer could not cross the pipe
    SHUTTING_DOWN = "shutting_down"  # its pod had SIGTERM and refused it (connection refused): nothing ran
    DATABASE = "database_error"  # a SQL statement failed: its transaction was rolled back, nothing changed

    def __repr__(self):
        return repr(self.value)


@dataclass(frozen=True, slots=True)
class Response:
    """The outcome of one request.

    ``ok`` and ``value`` (or ``error``); ``pod``: who served it (None if nobody could);
    ``latency``: seconds from send to reply as the lab saw them; ``service``: seconds the
    handler itself took inside the pod; ``sent``/``received``: lab-relative times;
    ``cause``: why it failed (a ``Cause``; None when ``ok``).

    ``due``: when the request was *due* (lab time), for a request of an open-loop load (a
    ``fl.load`` shape, or timed items) as a ``Run`` hands it out; None otherwise. The lab
    sends such a request at its second, unless every pod already holds as many requests as
    it may: then it waits in the lab's queue first, and ``sent`` comes later. ``latency``
    starts at ``sent`` and misses that wait; ``response_time`` starts at ``due`` and counts
    it, as the customer who tapped "pay" at ``due`` lived it. (Measuring from send is
    *coordinated omission*: the slower the pods, the later the lab sends, and the wait that
    grows is the one left out.)
    """

    ok: bool
    value: object = None
    error: str | None = None
    pod: str | None = None
    latency: float = 0.0
    endpoint: str = ""
    params: dict = field(default_factory=dict, repr=False)
    sent: float = field(default=0.0, repr=False)
    received: float = field(default=0.0, repr=False)
    service: float = field(default=0.0, repr=False)
    id: int = field(default=0, repr=False)
    cause: Cause | None = field(default=None, repr=False)
    user: str | None = field(default=None, repr=False)  # whom it was for, as its app names them
    due: float | None = field(default=None, repr=False)

    @property
    def response_time(self):
        """Seconds from when the request was due to its reply: what the customer waited,
        the lab's queue included (``received − due``); ``latency`` when it had no due time."""
        return self.latency if self.due is None else self.received - self.due

    def __repr__(self):
        if self.ok:
            return f"Response(ok=True, value={self.value!r}, pod={self.pod!r}, latency={self.latency:.2e})"
        return f"Response(ok=False, error={self.error!r}, pod={self.pod!r})"


def request_user(params, names) -> str | None:
    """Whom a request is for: the value of the first of ``names`` among its parameters (the
    app's ``App.user_params``), if it is a string; else None."""
    if not isinstance(params, dict):
        return None
    for name in names:
        if name in params:
            user = params[name]
            return user if isinstance(user, str) else None
    return None


@dataclass(frozen=True, slots=True)
class PodEvent:
    """Something that happened to a pod (or, for faults, to the system) at time ``t``."""

    t: float
    pod: str | None
    kind: str  # started, ready, killed, exited, restarted, stopping, stopped, paused, ...
    detail: str = ""
    pid: int | None = None
    end: float | None = None  # for faults with a duration (pause, redis_down)

    def __str__(self):
        return self.line()

    def line(self, since=0.0):
        """The event as one line, its time counted from ``since`` (a run's summary: the run's
        start, as its figures count; the lab's own log: the lab's start)."""
        who = f"{self.pod} " if self.pod else ""
        return f"{self.t - since:8.3f}s  {who}{self.kind}{': ' + self.detail if self.detail else ''}"


class Requests(list):
    """``history.requests``: a list of Responses, oldest first. Once records were dropped,
    ``promised`` holds what the app's ``fold_history`` kept of them (FinPay: what they had
    told customers, so its audit still counts every payment, SMS and session of the lab's
    whole life)."""

    promised = None


class History:
    """Everything a lab did, in order: ``requests`` (Responses) and ``events``.

    It keeps the newest ``keep`` requests (``defaults.HISTORY_KEEP``): a dashboard load left
    running for hours must not fill the machine's memory. ``dropped`` counts the older ones,
    and ``total`` every request ever recorded."""

    def __init__(self, keep=None, fold=None):
        keep = defaults.HISTORY_KEEP if keep is None else keep
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise BadInput(f"keep must be a whole number of requests, at least 1, not {keep!r}")
        self.keep = keep
        self._fold = (
            fold  # fold(kept, dropped) -> kept: what the app keeps of dropped requests (the audit's counts)
        )
        self.requests: Requests = Requests()
        self.events: list[PodEvent] = []
        self.dropped = 0
        self._held = None  # requests from this number on are never dropped (a run in progress)

    @property
    def total(self):
        """How many requests were ever recorded, dropped ones included."""
        return self.dropped + len(self.requests)

    def __len__(self):
        return self.total

    def __repr__(self):
        failed = sum(not r.ok for r in self.requests)
        if not self.dropped:
            return (
                f"<History: {len(self.requests)} requests ({failed} failed), {len(self.events)} pod events>"
            )
        return (
            f"<History: {self.total} requests, the oldest {self.dropped} dropped (it keeps the last "
            f"{self.keep}); {failed} of those kept failed; {len(self.events)} pod events>"
        )

    def add(self, response):
        """Record one response; past ``keep`` (and 10% more, so trimming is rare), drop the oldest."""
        self.requests.append(response)
        if len(self.requests) > self.keep + max(1, self.keep // 10):
            self._trim(response.received)

    def since(self, start, stop=None) -> list:
        """The requests recorded from number ``start`` (counted as ``total`` counts) to ``stop``."""
        first = max(0, start - self.dropped)
        return (
            self.requests[first:] if stop is None else self.requests[first : max(first, stop - self.dropped)]
        )

    @contextmanager
    def held(self):
        """Within the block, nothing recorded from now on is dropped: a run keeps all its own."""
        outer = self._held
        self._held = self.total if outer is None else outer
        try:
            yield self.total
        finally:
            self._held = outer

    def _trim(self, now):
        n = len(self.requests) - self.keep
        if self._held is not None:
            n = min(n, self._held - self.dropped)
        if n <= 0:
            return
        if self._fold is not None:  # the app's own counting (FinPay: the audit's), before they go
            self.requests.promised = self._fold(self.requests.promised, self.requests[:n])
        del self.requests[:n]
        self.dropped += n
        still = "; the audit still counts what they promised" if self._fold is not None else ""
        self.events.append(
            PodEvent(
                now,
                None,
                "trimmed",
                (
                    f"the oldest {n:,} requests left the history ({self.dropped:,} so far): it keeps the last "
                    f"{self.keep:,}{still}"
                ),
            )
        )

    def end_event(self, index, end):
        """Give ``events[index]`` its end time (a fault with a duration, once it ended)."""
        self.events[index] = dataclasses.replace(self.events[index], end=end)

    def event_log(self, kinds=None) -> str:
        """The pod events as readable lines (optionally only some kinds)."""
        return "\n".join(str(e) for e in self.events if kinds is None or e.kind in kinds)

    def to_frame(self):
        return _frame(self.requests)


def _frame(requests):
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional for the runtime
        raise ImportError("to_frame() needs pandas: pip install pandas") from exc
    rows = []
    for r in requests:
        rows.append(asdict(r))
    columns = [
        "id",
        "endpoint",
        "user",
        "pod",
        "ok",
        "value",
        "error",
        "due",
        "sent",
        "received",
        "latency",
        "service",
        "params",
    ]
    return pd.DataFrame(rows, columns=columns)


class Run:
    """The requests and pod events of one ``lab.run``, with its headline numbers.

    Latency here is **honest**: in a run of an open-loop load every request carries its due
    time (``Response.due``), and ``latency_quantiles`` (so the summary, and the figures)
    count from it, the lab's own queue included (``Response.response_time``).
    ``since="sent"`` gives the measure from send, which leaves out the wait of every request
    the lab sent late. A run of untimed requests ("as fast as the pods take them") has no
    due times: there both measures are the same."""

    def __init__(self, lab, requests, events, started, ended, late=0, setup=(), due=()):
        self.lab = lab
        # When each timed request was due (lab time): the demand, even when the lab sent late.
        self.due: list[float] = list(due)
        self.setup: list[Response] = list(setup)  # a load shape's logins, before the clock starts
        self.requests: list[Response] = _with_due(requests, self.due)
        self.events: list[PodEvent] = events
        self.started = started
        self.ended = ended
        self.late = late  # open-loop requests the lab could not send on time

    @property
    def duration(self):
        return max(self.ended - self.started, 1e-9)

    @property
    def ok(self):
        return sum(r.ok for r in self.requests)

    @property
    def failed(self):
        return len(self.requests) - self.ok

    @property
    def throughput(self):
        """Successful requests per second over the run."""
        return self.ok / self.duration

    def by_pod(self) -> Counter:
        return Counter(r.pod for r in self.requests if r.ok)

    def errors(self) -> Counter:
        """Failed requests grouped by error message (pod numbers kept: they matter)."""
        return Counter(r.error for r in self.requests if not r.ok)

    def latencies(self, since="due") -> list:
        """Seconds each successful request took, in the run's order: ``since="due"`` from when
        it was due (``response_time``: what the customer waited), ``since="sent"`` from when
        the lab sent it (``latency``: the pod and the pipe, the lab's queue left out)."""
        if since not in ("due", "sent"):
            raise BadInput(f'since must be "due" (from when each request was due) or "sent", not {since!r}')
        return [r.response_time if since == "due" else r.latency for r in self.requests if r.ok]

    def latency_quantiles(self, qs=(0.5, 0.95, 0.99), since="due") -> dict:
        """``{q: seconds}`` over the successful requests, counted from when each was due
        (``since="due"``, the default: coordinated omission corrected) or sent (``"sent"``).
        The two agree for a run of untimed requests, which have no due time."""
        lat = sorted(self.latencies(since))
        if not lat:
            return {q: float("nan") for q in qs}
        return {q: lat[min(len(lat) - 1, int(q * len(lat)))] for q in qs}

    def to_frame(self):
        return _frame(self.requests)

    def audit(self, wait=None):
        """The lab's audit, with sessions and notifications counted from this run's requests."""
        kwargs = {} if wait is None else {"wait": wait}
        return self.lab.audit(requests=self.setup + self.requests, **kwargs)

    def plot(self):
        """The run at a glance: timeline, throughput and latency (a matplotlib Figure)."""
        from .. import plots  # through the package's lazy door: the runtime imports no view

        return plots.overview(self)

    def summary(self) -> str:
        q = self.latency_quantiles()
        lines = [
            f"{len(self.requests)} requests in {self.duration:.2f} s: {self.ok} ok, "
            f"{self.failed} failed; {self.throughput:,.0f} ok/s",
            f"latency p50 {q[0.5] * 1e3:.2f} ms, p95 {q[0.95] * 1e3:.2f} ms, p99 {q[0.99] * 1e3:.2f} ms"
            + self._from_send(q),
            "served by: " + ", ".join(f"{p} {n}" for p, n in sorted(self.by_pod().items(), key=_pod_order)),
        ]
        if self.late:
            lines.append(f"the lab fell behind: {self.late} requests were sent late")
        for error, n in self.errors().most_common(5):
            lines.append(f"  {n} × {error}")
        if self.events:
            lines.append("events (seconds since the run started, as in its figures):")
        for e in self.events:
            lines.append(f"  {e.line(since=self.started)}")
        return "\n".join(lines)

    def _from_send(self, q):
        """The summary's words on where latency is counted from, for a run with due times."""
        if not any(r.due is not None for r in self.requests):
            return ""
        sent = self.latency_quantiles(since="sent")
        if sent[0.99] >= 0.9 * q[0.99]:  # the lab's queue added little: one measure says it
            return ", from when each was due"
        return (
            f", from when each was due (from send, leaving out the wait in the lab's queue: "
            f"p50 {sent[0.5] * 1e3:.2f} ms, p99 {sent[0.99] * 1e3:.2f} ms)"
        )

    def __repr__(self):
        return (
            f"<Run: {len(self.requests)} requests, {self.ok} ok, {self.failed} failed, {self.duration:.2f} s>"
        )

    def __str__(self):
        return self.summary()


def _with_due(requests, due):
    """``requests`` with each one's due time, when the run sent only timed items: the runner
    sends them one by one in the workload's order and notes each one's due time as it goes
    (``run.due``), and each makes exactly one Response, so the n-th sent (by ``sent``; they
    are answered in another order) was due at ``due[n]``. Otherwise (untimed items, or a
    mix) the requests are returned as given, without due times."""
    if not due or len(due) != len(requests):
        return list(requests)
    by_send = sorted(range(len(requests)), key=lambda i: requests[i].sent)
    out = list(requests)
    for i, at in zip(by_send, due, strict=True):
        out[i] = dataclasses.replace(requests[i], due=at)
    return out


def _pod_order(item):
    name = item[0] or ""
    number = pod_number(name)
    return (0, number) if number is not None else (1, name)
