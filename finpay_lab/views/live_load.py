"""The dashboard's background load: FinPay traffic from a dozen customers, while you watch.

Logins, ``whoami`` with the session a login gave, ``update_balance`` and ``add_balance``.
A customer whose session a pod does not know logs in again, as the app asks; with state
in each pod's memory that is most ``whoami`` calls, and the chart turns red.

The load is a daemon thread that sends the chosen rate as short open-loop runs
(``lab.run``), one every ``LOAD_BATCH`` seconds, so a click waits at most one short batch
for the lab. It runs only while it is on, and ends when the dashboard stops or the lab
closes.
"""

import html
import random
import threading
import time

from .live_tiles import COLOURS

LOAD_BATCH = 0.25  # each lab.run covers this much time: short, so clicks never wait long
MIX = {"login": 1, "whoami": 4, "update_balance": 3, "add_balance": 2}  # relative weights
CUSTOMERS = 12  # the load's population: the first customers of lab.accounts (the cast first)


class Load:
    """The load of one dashboard: ``start()``, ``pause()``; ``thread`` is None when it is idle.

    ``stop`` is the dashboard's own stop event; ``rate()`` says the requests per second
    wanted now (the slider); ``failed(message)`` is called with an HTML message when the
    load cannot go on (the dashboard shows it and turns its toggle off).
    """

    def __init__(self, lab, stop, rate, failed):
        self.lab = lab
        self.stop = stop
        self.rate = rate
        self.failed = failed
        self.on = threading.Event()  # cleared: the thread ends after its current short batch
        self.guard = threading.Lock()  # start/stop of the load thread never race
        self.thread = None
        self._rng = random.Random(lab.seed)  # the load's request mix is the same every time
        self._sessions = {}  # user -> session id the load logged in with

    def start(self):
        with self.guard:
            self.on.set()
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, daemon=True, name="finpay-dashboard-load")
                self.thread.start()

    def pause(self):
        with self.guard:
            self.on.clear()

    def _loop(self):
        """Send the chosen rate as short open-loop runs, one every LOAD_BATCH seconds."""
        # Only endpoints the lab's app has, for customers it knows: an own fl.App gets a
        # load of the ones it shares with FinPay (say update_balance), or a plain message.
        self._mix = {e: w for e, w in MIX.items() if e in self.lab.app}
        if "login" not in self._mix:
            self._mix.pop("whoami", None)  # whoami needs a session from login
        self._users = list(self.lab.accounts or {})[:CUSTOMERS] or ["Ravi"]
        if not self._mix:
            self.on.clear()
            self.failed(
                html.escape(
                    f"the load sends {', '.join(MIX)}; the app {self.lab.app.name!r} has none of them"
                )
            )
        due, owed = time.monotonic(), 0.0
        while True:
            with self.guard:
                if not self.on.is_set() or self.stop.is_set() or self.lab.closed:
                    self.thread = None
                    break
            wait = due - time.monotonic()
            if wait > 0:
                self.stop.wait(wait)
                continue
            owed += self.rate() * LOAD_BATCH  # fractions carry over, so 10 req/s stays 10
            n, owed = int(owed), owed - int(owed)
            try:
                run = self.lab.run([(i * LOAD_BATCH / n, *self._next_request()) for i in range(n)])
                self._learn(run.requests)
            except Exception as exc:
                if not self.lab.closed:
                    self.failed(
                        f"<span style='color:{COLOURS['dead']}'>⚠ load stopped: "
                        f"{html.escape(f'{type(exc).__name__}: {exc}')}</span>"
                    )
                self.on.clear()
                continue
            # Never catch up in a burst after falling behind; and pause a moment so a
            # click or the refresher gets the lab's lock between two batches.
            due = max(due + LOAD_BATCH, time.monotonic() - LOAD_BATCH)
            self.stop.wait(0.005)

    def _next_request(self):
        """One FinPay request from a small population; whoami uses the session of a login."""
        user = self._rng.choice(self._users)
        endpoint = self._rng.choices(list(self._mix), weights=list(self._mix.values()))[0]
        if endpoint == "whoami" and user not in self._sessions:
            endpoint = "login"  # a user with no session logs in first, as the app would make them
        if endpoint == "login":
            return "login", {"user": user}
        if endpoint == "whoami":
            return "whoami", {"user": user, "session": self._sessions[user]}
        return endpoint, {"user": user, "amount": self._rng.randint(1, 50) * 10}

    def _learn(self, responses):
        """Remember new sessions; forget one a pod did not know (the user must log in again)."""
        for r in responses:
            if r.endpoint == "login" and r.ok and isinstance(r.value, dict):
                self._sessions[r.params["user"]] = r.value.get("session")
            elif (
                r.endpoint == "whoami"
                and not r.ok
                and self._sessions.get(r.params["user"]) == r.params["session"]
            ):
                del self._sessions[r.params["user"]]
