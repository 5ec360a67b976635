"""The SQL database a lab's pods share: ``fl.Lab(db=None | "sqlite" | "postgres" | "postgresql://…")``.

``db="sqlite"`` (nothing to install): one SQLite file in the lab's work dir, opened by every
pod. SQLite is a library, not a server: each pod's process opens the file itself and the
processes agree through file locks. Three settings make that work for many writers:

- **WAL** (write-ahead log): readers never wait for the writer, and the writer never
  waits for readers; only writers take turns.
- **BEGIN IMMEDIATE**: a transaction that may write takes the write lock when it begins. A
  plain ``BEGIN`` (deferred) reads first and asks for the lock at its first write; if
  another pod wrote meanwhile, its snapshot is stale and SQLite can only answer
  ``SQLITE_BUSY`` ("database is locked"), at once, whatever the timeout.
- **busy timeout**: a pod that finds the write lock taken waits for it (up to
  ``defaults.SQLITE_BUSY_TIMEOUT``) instead of failing.

``synchronous`` is ``defaults.SQLITE_SYNCHRONOUS`` ("NORMAL", the reason is there).

``db="postgres"``: a real PostgreSQL server the lab starts and stops itself
(``postgres_server.py``); ``db="postgresql://…"``: a server you run (use a scratch
database: the lab writes tables into it). Driver: psycopg 3.

**A transaction per request.** A handler that names ``db`` gets a ``Transaction``::

    db.execute("UPDATE accounts SET balance = balance - :amount WHERE name = :user",
               amount=amount, user=user)                     # -> rows affected
    db.query("SELECT balance FROM accounts WHERE name = :user", user=user)  # -> [{...}]

committed when the handler returns, rolled back when it raises; and when its pod dies in
the middle, the database rolls it back itself (SQLite finds no commit record in its log;
PostgreSQL sees the connection drop). Parameters are ``:named``, and the same text runs
on both databases: for psycopg, ``:name`` becomes ``%(name)s`` (string literals,
comments, ``::casts`` and ``%`` are left meaning what they meant).

A failed statement spoils its transaction (PostgreSQL refuses anything more in it; the lab
makes SQLite behave the same): nothing of it is committed, and ``DatabaseError`` says so.

The pod loop's side::

    conn = connect(database.url)             # once per pod process
    with conn.transaction() as db:           # once per request whose handler names db
        result = handler(..., db=db)
"""

import contextlib
import functools
import os
import re
import sqlite3
import urllib.parse

from .. import defaults
from ..errors import BadInput, DatabaseError, DatabaseUnavailable
from .postgres_server import PostgresServer, safe_url

SQLITE_FILE = "lab.db"


def parse_spec(db, workdir=None):
    """Check a ``db=`` argument before anything starts: ``(kind, where)``, where kind is None,
    "sqlite" (where: a file name inside the work dir), "postgres" or "external" (the URL)."""
    hint = (
        "use db=None (the books stay in `state`), 'sqlite' (a file in the lab's work dir), "
        "'postgres' (a PostgreSQL server the lab starts) or a URL like "
        "'postgresql://user:password@host:5432/scratch'"
    )
    if db is None:
        return None, None
    if not isinstance(db, str):
        raise BadInput(f"db={db!r}: {hint}")
    if db == "sqlite":
        return "sqlite", SQLITE_FILE
    if db == "postgres":
        return "postgres", None
    if db.startswith(("postgresql://", "postgres://")):
        return "external", db
    if db.startswith("sqlite:"):
        rest = db[len("sqlite:") :]
        path = rest[2:] if rest.startswith("//") else rest  # sqlite:///abs/x.db or sqlite:x.db
        if os.path.isabs(path):
            real, home = os.path.realpath(path), os.path.realpath(workdir or "/nonexistent")
            name = os.path.relpath(real, home) if workdir and os.path.dirname(real) == home else None
        else:
            name = path if path not in ("", ".", "..") and "/" not in path else None
        if name is None:
            raise BadInput(
                f"db={db!r}: a SQLite database lives in the lab's work dir, so that it ends "
                "with the lab; pass db='sqlite' (or 'sqlite:NAME.db', a plain file name)"
            )
        return "sqlite", name
    raise BadInput(f"db={db!r}: {hint}")


class Database:
    """The lab's database: its URL, a way to query it from the notebook, and its end."""

    def __init__(self, spec="sqlite", fsync=False, synchronous=None):
        self.kind, self._where = parse_spec(spec)
        if self.kind is None:
            raise BadInput("Database(None): there is no database to start; the lab keeps db=None itself")
        self.spec = spec
        self.fsync = fsync
        self.synchronous = _check_synchronous(synchronous or defaults.SQLITE_SYNCHRONOUS)
        self.server = None
        self.url = self._where if self.kind == "external" else None
        self._conn = None

    def start(self, workdir):
        """Make the database ready for pods: the SQLite file (WAL), the lab's own server,
        or a check that the given server answers."""
        if self.kind == "sqlite":
            _, name = parse_spec(self.spec, workdir)  # again, now that the work dir is known
            path = os.path.join(workdir, name)
            self.url = f"sqlite://{path}?synchronous={self.synchronous}"  # sqlite:///tmp/.../lab.db
            try:
                connect(self.url).close()  # creates the file and switches it to WAL, once for all
            except DatabaseError as exc:
                raise DatabaseUnavailable(str(exc)) from None
        elif self.kind == "postgres":
            self.server = PostgresServer(fsync=self.fsync).start(workdir)
            self.url = self.server.url
        else:
            try:
                connect(self.url, timeout=defaults.DB_CONNECT_TIMEOUT).close()
            except DatabaseError as exc:
                raise DatabaseUnavailable(
                    f"the database at {self.safe_url} does not answer within "
                    f"{defaults.DB_CONNECT_TIMEOUT:g} s: {exc}"
                ) from None
        return self

    @property
    def safe_url(self):
        """The URL without its password, for messages and the dashboard."""
        return safe_url(self.url)

    @property
    def path(self):
        """The SQLite file (for ``sqlite3.connect`` or the ``sqlite3`` shell); None for PostgreSQL."""
        return urllib.parse.urlsplit(self.url).path if self.kind == "sqlite" and self.url else None

    def connection(self):
        """This process's own connection (the lab's, for ``sql``): made again after a fork."""
        if self._conn is None or self._conn.pid != os.getpid():
            self._conn = connect(self.url)
        return self._conn

    def transaction(self, write=True):
        """``with database.transaction() as db:`` in the lab's own process."""
        return self.connection().transaction(write=write)

    def sql(self, query, **params):
        """Run one statement in its own transaction: the rows, as dicts (``lab.sql``)."""
        with self.transaction() as db:
            return db.query(query, **params)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Close the lab's connection; stop the lab's server (its data goes with it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.server is not None:
            self.server.stop()
            self.server = None


def _check_synchronous(level):
    if str(level).upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise BadInput(f"synchronous={level!r}: use 'NORMAL' (the lab's default), 'FULL', 'EXTRA' or 'OFF'")
    return str(level).upper()


# ---------------------------------------------------------------- a pod's connection


def connect(url, timeout=None):
    """Open a connection to the database at ``url`` (one per pod process)."""
    return Connection(url, timeout)


class Connection:
    """One process's connection, and the transactions it runs one after the other."""

    def __init__(self, url, timeout=None):
        self.url = url
        self.pid = os.getpid()
        self.sqlite = url.startswith("sqlite:")
        self._timeout = timeout
        self._raw = None
        self._open()

    def _open(self):
        try:
            if self.sqlite:
                parsed = urllib.parse.urlsplit(self.url)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                raw = sqlite3.connect(
                    parsed.path,
                    timeout=defaults.SQLITE_BUSY_TIMEOUT,
                    isolation_level=None,
                    check_same_thread=False,
                )
                raw.row_factory = sqlite3.Row
                raw.execute("PRAGMA journal_mode=WAL")  # stored in the file: the first connection sets it
                raw.execute(f"PRAGMA synchronous={_check_synchronous(query.get('synchronous', 'NORMAL'))}")
                raw.execute("PRAGMA foreign_keys=ON")  # as PostgreSQL always does
            else:
                import psycopg
                from psycopg.rows import dict_row

                timeout = self._timeout or defaults.DB_CONNECT_TIMEOUT
                raw = psycopg.connect(
                    self.url, autocommit=False, row_factory=dict_row, connect_timeout=max(1, round(timeout))
                )
        except Exception as exc:
            raise DatabaseError(f"cannot connect to {safe_url(self.url)}: {_message(exc)}") from None
        self._raw = raw

    @contextlib.contextmanager
    def transaction(self, write=True):
        """One transaction: committed if the block ends normally, rolled back if it raises.
        ``write=False``: a read-only transaction (SQLite begins it deferred, which lets
        readers run beside a writer; a write inside it may fail with "database is locked")."""
        if self._raw is None or (not self.sqlite and self._raw.closed):
            self._open()  # the server went away and came back: a fresh connection
        tx = Transaction(self, write)
        try:
            yield tx
        except BaseException:
            tx._end(commit=False)
            raise
        else:
            tx._end(commit=True)

    def close(self):
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None


class Transaction:
    """What a handler that names ``db`` gets: ``execute`` and ``query`` inside the request's
    transaction, which begins at the first statement and ends with the request."""

    def __init__(self, connection, write):
        self._conn = connection
        self._write = write
        self._state = "new"  # -> "begun" -> "ended"; "failed" after a failed statement
        self._failure = None
        self._after_commit = []

    def after_commit(self, fn):
        """Call ``fn()`` once this transaction has committed (never if it rolls back): what
        must not happen before the data is safe, e.g. invalidating a cache of it (done
        before the commit, a reader could cache the old value again in between)."""
        self._after_commit.append(fn)

    def execute(self, sql, **params):
        """Run a statement; return how many rows it changed."""
        cursor = self._run(sql, params)
        return cursor.rowcount

    def query(self, sql, **params):
        """Run a statement; return its rows as a list of dicts (``[]`` when it returns none)."""
        cursor = self._run(sql, params)
        if cursor.description is None:
            return []
        return [dict(row) for row in cursor.fetchall()]

    def _run(self, sql, params):
        if self._state == "ended":
            raise DatabaseError(
                "this `db` belonged to a request that has ended, and so has its transaction: "
                "use `db` only inside the handler call that received it"
            )
        if self._state == "failed":
            raise DatabaseError(
                f"this transaction already failed ({self._failure}) and will be rolled back; "
                "nothing more can run in it"
            )
        if not isinstance(sql, str):
            raise DatabaseError(f"SQL must be a string, not {type(sql).__name__}")
        text, names = _translate(sql)
        missing = [name for name in names if name not in params]
        if missing:
            raise DatabaseError(f"the SQL names :{missing[0]} but no {missing[0]}= was passed")
        raw = self._conn._raw
        try:
            if self._state == "new":
                if self._conn.sqlite:
                    raw.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
                self._state = "begun"  # psycopg begins by itself at the first statement
            if self._conn.sqlite:
                return raw.execute(sql, params)
            return raw.execute(text, params)
        except Exception as exc:
            self._failure = _message(exc)
            if self._state == "begun":
                self._state = "failed"
            raise DatabaseError(self._failure, integrity=_integrity(exc)) from None

    def _end(self, commit):
        state, self._state = self._state, "ended"
        raw = self._conn._raw
        if state == "new" or raw is None:  # nothing began (the handler never used its db)
            for fn in self._after_commit if commit and state == "new" else ():
                fn()
            return
        if commit and state == "begun":
            try:
                raw.execute("COMMIT") if self._conn.sqlite else raw.commit()
            except Exception as exc:
                self._rollback()
                raise DatabaseError(
                    f"the transaction could not commit: {_message(exc)}", integrity=_integrity(exc)
                ) from None
            for fn in self._after_commit:
                fn()
            return
        self._rollback()
        if commit:  # a statement failed and the handler swallowed the error: say so, don't pretend
            raise DatabaseError(
                f"a statement of this transaction failed ({self._failure}), so none of it was committed"
            )

    def _rollback(self):
        """Roll back whatever is open; a connection already gone has nothing left to undo."""
        raw = self._conn._raw
        with contextlib.suppress(Exception):
            if not self._conn.sqlite:
                raw.rollback()
            elif raw.in_transaction:  # SQLite ends a transaction itself after some errors
                raw.execute("ROLLBACK")


def _message(exc):
    """The database's own words (psycopg's include a DETAIL line we keep)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _integrity(exc):
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.IntegrityError)


# ---------------------------------------------------------------- :name -> %(name)s

_TOKENS = re.compile(
    r"""
      (?P<literal> [eE]'(?:[^'\\]|\\.|'')*'? | '(?:[^']|'')*'? | "(?:[^"]|"")*"? )
    | (?P<comment> --[^\n]* | /\*.*?(?:\*/|\Z) )
    | (?P<dollar> (?<![\w$])\$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)\$|\Z) )
    | (?P<cast> ::+ )
    | (?P<param> (?<![\w:]):(?P<name>[A-Za-z_]\w*) )
    | (?P<percent> % )
""",
    re.VERBOSE | re.DOTALL,
)


@functools.lru_cache(maxsize=1024)
def _translate(sql):
    """``(psycopg's text, the :names in order)``: ``:name`` -> ``%(name)s``; every ``%`` doubled
    (psycopg reads ``%`` everywhere, even inside a literal); literals, quoted identifiers,
    comments, dollar-quoted bodies and ``::casts`` kept as they are."""
    names = []

    def replace(match):
        if match.group("param"):
            names.append(match.group("name"))
            return f"%({match.group('name')})s"
        return match.group(0).replace("%", "%%")

    text = _TOKENS.sub(replace, sql)
    return text, tuple(dict.fromkeys(names))
