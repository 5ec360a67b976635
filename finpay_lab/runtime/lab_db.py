"""The lab's database and the points inside its handlers: the part of ``Lab`` that wave 2's
stores added (``Lab`` inherits it; ``lab.py`` stays the composition root).

    with fl.Lab(pods=3, state="redis", db="sqlite") as lab:
        lab.db_url                                  # sqlite:///tmp/finpay-lab-…/lab.db?…
        lab.sql("SELECT name, balance FROM accounts WHERE balance > :floor", floor=0)
        lab.crash_at("after_debit", endpoint="pay")  # the next pay to get there dies there

The database is made (its spec checked) before anything starts, started with the lab in its
work dir (``db="sqlite"``: a file; ``"postgres"``: a server of the lab's own), and stopped
with it, on every way a lab ends: ``close()``, a garbage-collected lab (the server's own
finalizer), the lab's process killed (the PostgreSQL helper watches it). Each pod connects
once, with the URL in its config; a handler that names ``db`` gets its request's
transaction (``runtime/app.py``). The points are ``points.py``.
"""

import weakref

from ..errors import LabError
from . import store_kinds


def make_database(db):
    """Check ``db=`` (``fl.BadInput`` if it is not a database the lab can have); start nothing."""
    return None if db is None else store_kinds.make_database(db)


class LabDatabase:
    """What a ``Lab`` does with its database and its points (a mixin: ``Lab`` sets
    ``_db``, ``points``, ``_lock``, ``_loop`` and ``_workdir``)."""

    _db = None

    @property
    def db_url(self):
        """Where the lab's database is (``sqlite:///…/lab.db`` or ``postgresql://…``), for
        ``sqlite3``/``psql``/psycopg; None with ``db=None``. It holds the password: show
        ``lab.db.safe_url`` instead."""
        return self._db.url if self._db is not None else None

    @property
    def db(self):
        """The lab's ``Database`` (``kind``, ``url``, ``safe_url``, ``path``), or None."""
        return self._db

    def sql(self, query, **params):
        """Run one statement in its own transaction, from the notebook: its rows, a list of
        dicts (``[]`` for a statement that returns none). ``:named`` parameters. A failing
        statement raises ``fl.DatabaseError`` with the database's message."""
        if self._db is None:
            raise LabError("this lab has no database: start it with fl.Lab(..., db='sqlite') (or 'postgres')")
        with self._lock:
            self._check_open()
            return self._db.sql(query, **params)

    def crash_at(self, point, endpoint=None, times=1):
        """Arm ``point`` (``fl.crash_point(point)`` in a handler): the next ``times``
        requests (of ``endpoint``, or of any endpoint) to reach it kill their pod there,
        with a real SIGKILL. A point never reached never fires."""
        with self._lock:
            self._check_open()
            arm = self.points.arm("crash", point, endpoint, times, self.app)
            self._loop.event(
                None, "armed", f"crash at {point!r}" + (f" in {endpoint}" if endpoint else "") + f", {times}×"
            )
            return arm

    def pause_at(self, point, endpoint=None, times=1):
        """Arm ``point`` to hold the next ``times`` requests that reach it, until
        ``lab.release()`` (a run's ``fl.chaos.pause_at`` releases them once nothing else
        can move). Returns the arm's id, for ``lab.points.disarm``."""
        with self._lock:
            self._check_open()
            return self.points.arm("pause", point, endpoint, times, self.app)

    def held(self):
        """``[(point, pid)]``: the requests holding at a point now."""
        return self.points.held()

    def release(self):
        """Let every request held at a point go on; returns how many there were."""
        return self.points.release()

    def _start_db(self):
        if self._db is None:
            return None
        self._db.start(self._workdir)
        # Garbage-collected without close(): its connection closed, its server stopped now.
        weakref.finalize(self, self._db.stop)
        pid = getattr(self._db.server, "pid", None)
        self._loop.event(None, "database", f"{self._db.kind} database at {self._db.safe_url}", pid=pid)
        return self._db.url

    def _stop_db(self):
        if self._db is not None:
            self._db.stop()
