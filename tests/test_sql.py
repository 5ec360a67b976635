"""The SQL database a lab's pods share (finpay_lab/stores/sql.py), on its own, no pods: one
test body for SQLite and for a real PostgreSQL server; the processes that race or die
mid-transaction are real processes, paused and killed at chosen points."""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from finpay_lab import defaults
from finpay_lab.errors import BadInput, DatabaseError, DatabaseUnavailable, LabError
from finpay_lab.stores.postgres_server import have_postgres
from finpay_lab.stores.sql import Database, _translate, connect, parse_spec

needs_postgres = pytest.mark.skipif(
    not have_postgres(),
    reason="no PostgreSQL server binaries (initdb, postgres) on PATH or in "
    "/usr/lib/postgresql/*/bin: apt-get install postgresql",
)
KINDS = ["sqlite", pytest.param("postgres", marks=needs_postgres)]

SCHEMA = """CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    balance BIGINT NOT NULL CHECK (balance >= 0))"""


@pytest.fixture(scope="module", params=KINDS)
def server(request):
    """One database of each kind for the module (a PostgreSQL server takes ~1 s to start).
    Its work dir is in /tmp itself: pytest resets /tmp/pytest-of-USER to 0700 whenever a
    pytest starts, which would lock out a server run as 'postgres'."""
    workdir = tempfile.mkdtemp(prefix="finpay-test-")
    database = Database(request.param).start(workdir)
    yield database
    database.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def database(server):
    """A fresh table of accounts: ravi has 1000, asha 0."""
    with server.transaction() as db:
        db.execute("DROP TABLE IF EXISTS accounts")
        db.execute(SCHEMA)
        db.execute("INSERT INTO accounts (name, balance) VALUES ('ravi', 1000), ('asha', 0)")
    return server


def balances(database):
    return {row["name"]: row["balance"] for row in database.sql("SELECT name, balance FROM accounts")}


# ---------------------------------------------------------------- the db= argument


@pytest.mark.parametrize(
    "spec",
    [
        42,
        "mysql",
        "sqlite3",
        "SQLITE",
        "redis://localhost",
        "sqlite:",
        "sqlite:../escape.db",
        "sqlite:sub/dir.db",
        "sqlite:///etc/books.db",
        "sqlite:/tmp/books.db",
        "sqlite:..",
    ],
)
def test_an_unknown_db_spec_or_a_sqlite_path_outside_the_work_dir_is_bad_input(spec, tmp_path):
    with pytest.raises(BadInput, match="db=") as caught:
        parse_spec(spec, str(tmp_path))
    assert "pass" in str(caught.value) or "use" in str(caught.value)  # it says what to pass
    with pytest.raises(BadInput):
        Database(spec)  # before anything starts
    assert os.listdir(tmp_path) == []


def test_the_db_specs_the_lab_accepts(tmp_path):
    assert parse_spec(None) == (None, None)
    assert parse_spec("sqlite") == ("sqlite", "lab.db")
    assert parse_spec("sqlite:books.db") == ("sqlite", "books.db")
    assert parse_spec(f"sqlite:///{tmp_path}/books.db", str(tmp_path)) == ("sqlite", "books.db")
    assert parse_spec("postgres") == ("postgres", None)
    assert parse_spec("postgresql://u:p@h:5432/scratch") == ("external", "postgresql://u:p@h:5432/scratch")


def test_a_sqlite_database_is_a_wal_file_in_the_work_dir(tmp_path):
    database = Database("sqlite:books.db").start(str(tmp_path))
    try:
        assert os.path.exists(tmp_path / "books.db") and database.path == str(tmp_path / "books.db")
        assert database.sql("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
        assert database.sql("PRAGMA synchronous") == [{"synchronous": 1}]  # NORMAL, the documented choice
        assert defaults.SQLITE_SYNCHRONOUS == "NORMAL"
    finally:
        database.stop()
    full = Database("sqlite", synchronous="FULL").start(str(tmp_path))
    assert full.sql("PRAGMA synchronous") == [{"synchronous": 2}]
    full.stop()
    with pytest.raises(BadInput, match="synchronous"):
        Database("sqlite", synchronous="fast")


# ---------------------------------------------------------------- :named parameters


def test_named_parameters_become_psycopgs_without_touching_literals_casts_or_percent():
    sql = (
        "SELECT a::int, ':x', 'it''s :y %', \"c:d\", E'\\':z' FROM t WHERE b = :b AND c LIKE 'a%' "
        "AND d = :d -- :comment\n AND e = :b /* :also */ AND f = $tag$ :w % $tag$ AND g = 5 % 2"
    )
    text, names = _translate(sql)
    assert names == ("b", "d")
    assert text == (
        "SELECT a::int, ':x', 'it''s :y %%', \"c:d\", E'\\':z' FROM t WHERE b = %(b)s AND c LIKE "
        "'a%%' AND d = %(d)s -- :comment\n AND e = %(b)s /* :also */ AND f = $tag$ :w %% $tag$ "
        "AND g = 5 %% 2"
    )


@pytest.mark.parametrize("server", [pytest.param("postgres", marks=needs_postgres)], indirect=True)
def test_postgres_casts_and_percent_run_as_written(database):
    rows = database.sql("SELECT :n::bigint + 1 AS m, 'a%b' LIKE 'a%' AS hit, ':no' AS colon", n=41)
    assert rows == [{"m": 42, "hit": True, "colon": ":no"}]


# ---------------------------------------------------------------- a transaction per request


def test_execute_counts_rows_and_query_returns_dict_rows_with_the_same_sql_on_both(database):
    with database.transaction() as db:
        assert (
            db.execute(
                "UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
                amount=300,
                user="ravi",
            )
            == 1
        )
        assert (
            db.execute(
                "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=300, user="asha"
            )
            == 1
        )
        assert db.execute("UPDATE accounts SET balance = 0 WHERE name = :user", user="nobody") == 0
        assert db.query("SELECT name, balance FROM accounts WHERE name LIKE 'a%' AND ':x' <> :x", x="y") == [
            {"name": "asha", "balance": 300}
        ]
        assert db.query("UPDATE accounts SET balance = balance WHERE name = :u", u="asha") == []
    assert balances(database) == {"ravi": 700, "asha": 300}
    assert database.sql("SELECT name FROM accounts WHERE balance > :floor ORDER BY name", floor=0) == [
        {"name": "asha"},
        {"name": "ravi"},
    ]


def test_committed_when_the_handler_returns_rolled_back_when_it_raises(database):
    with pytest.raises(ZeroDivisionError), database.transaction() as db:
        db.execute("UPDATE accounts SET balance = balance - 500 WHERE name = 'ravi'")
        raise ZeroDivisionError("the handler fails after the debit")
    assert balances(database) == {"ravi": 1000, "asha": 0}
    with database.transaction() as db:
        db.execute("UPDATE accounts SET balance = balance - 500 WHERE name = 'ravi'")
    assert balances(database) == {"ravi": 500, "asha": 0}


def test_a_db_used_after_its_request_ended_is_a_clear_error(database):
    with database.transaction() as db:
        db.execute("UPDATE accounts SET balance = 1 WHERE name = 'asha'")
    for call in (db.execute, db.query):
        with pytest.raises(DatabaseError, match="request that has ended"):
            call("UPDATE accounts SET balance = 2 WHERE name = 'asha'")
    assert balances(database)["asha"] == 1


def test_sql_errors_carry_the_databases_message_and_spoil_the_transaction(database):
    with pytest.raises(DatabaseError) as caught, database.transaction() as db:
        db.execute("UPDATE accounts SET balance = balance + 1 WHERE name = 'asha'")
        db.execute("UPDATE accounts SET balance = balance - 5000 WHERE name = 'ravi'")
    assert isinstance(caught.value, LabError) and caught.value.integrity
    assert "CHECK constraint failed" in str(caught.value) or "violates check constraint" in str(caught.value)
    with pytest.raises(DatabaseError, match="(?i)syntax"), database.transaction() as db:
        db.query("SELEKT 1")
    with pytest.raises(DatabaseError, match=":amount but no amount="), database.transaction() as db:
        db.execute("UPDATE accounts SET balance = :amount")
    # A handler that swallows the error cannot commit the rest: on both databases, nothing of it.
    with pytest.raises(DatabaseError, match="none of it was committed"), database.transaction() as db:
        db.execute("UPDATE accounts SET balance = balance + 1 WHERE name = 'asha'")
        with pytest.raises(DatabaseError, match="UNIQUE|duplicate key") as dup:
            db.execute("INSERT INTO accounts (name, balance) VALUES ('ravi', 1)")
        assert dup.value.integrity
        with pytest.raises(DatabaseError, match="already failed"):
            db.query("SELECT 1 AS one")
    assert balances(database) == {"ravi": 1000, "asha": 0}
    assert database.sql("SELECT 1 AS one") == [{"one": 1}]  # the connection is fine


# ---------------------------------------------------------------- real processes

CHILD = """
import sys
from finpay_lab.stores.sql import connect
conn = connect(sys.argv[1])
def say(word):
    print(word, flush=True)
"""

KILLED_MID_TRANSACTION = (
    CHILD
    + """
with conn.transaction() as db:
    db.execute("UPDATE accounts SET balance = balance - 300 WHERE name = 'ravi'")
    say("debited")
    sys.stdin.readline()  # the test SIGKILLs us here, between the two UPDATEs
    db.execute("UPDATE accounts SET balance = balance + 300 WHERE name = 'asha'")
"""
)


def child(script, url):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_process_killed_between_two_updates_commits_nothing(database):
    proc = child(KILLED_MID_TRANSACTION, database.url)
    assert proc.stdout.readline().strip() == "debited", proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    proc.stdin.close(), proc.stdout.close(), proc.stderr.close()
    assert balances(database) == {"ravi": 1000, "asha": 0}  # the debit is gone with its process
    with database.transaction() as db:  # and its lock: the same row can be written at once
        assert db.execute("UPDATE accounts SET balance = balance - 1 WHERE name = 'ravi'") == 1
    assert balances(database) == {"ravi": 999, "asha": 0}


READ_THEN_WRITE = (
    CHILD
    + """
write = sys.argv[2] == "immediate"
say("begin")
try:
    with conn.transaction(write=write) as db:
        n = db.query("SELECT balance FROM accounts WHERE name = 'asha'")[0]["balance"]
        say("read")
        sys.stdin.readline()  # "go": the test decides when we write
        db.execute("UPDATE accounts SET balance = :n WHERE name = 'asha'", n=n + 1)
    say("ok")
except Exception as exc:
    say(f"{type(exc).__name__}: {exc}")
"""
)


def go(proc):
    proc.stdin.write("go\n")
    proc.stdin.flush()


def finish(proc):
    out = proc.stdout.readline().strip()
    proc.wait(timeout=30)
    proc.stdin.close(), proc.stdout.close(), proc.stderr.close()
    return out


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_sqlite_deferred_read_then_write_fails_busy_immediate_does_not(database):
    """Four processes read a balance, then write balance + 1. Deferred (plain BEGIN): all four
    read before anyone writes (the test holds them there), so three snapshots are stale or
    the lock is taken when they write: SQLITE_BUSY, at once, whatever the busy timeout.
    IMMEDIATE: a transaction takes the write lock when it begins, so the others wait in
    BEGIN (the busy timeout) and read after the commit before them: no error, no lost update."""

    def start(mode):
        return [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(READ_THEN_WRITE), database.url, mode],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]

    deferred = start("deferred")
    for p in deferred:
        assert [p.stdout.readline().strip() for _ in range(2)] == ["begin", "read"], p.stderr.read()
    for p in deferred:  # everyone has read; now everyone writes
        go(p)
    results = [finish(p) for p in deferred]
    assert sorted(results)[-1] == "ok" and results.count("ok") == 1, results
    assert all("database is locked" in r for r in results if r != "ok"), results
    assert balances(database)["asha"] == 1  # one write of four

    immediate = start("immediate")
    said = queue.Queue()  # (process, line), in the order they were said

    def read(proc):
        with proc.stdout:
            for line in proc.stdout:
                said.put((proc, line.strip()))

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in immediate]
    for reader in readers:
        reader.start()
    results = []
    while len(results) < len(immediate):  # each, once it holds the lock and has read, writes
        proc, line = said.get(timeout=60)
        if line == "read":
            go(proc)
        elif line != "begin":
            results.append(line)
    assert results == ["ok"] * 4, results
    for p, reader in zip(immediate, readers):
        p.wait(timeout=30)
        reader.join(timeout=30)
        p.stdin.close(), p.stderr.close()
    assert balances(database)["asha"] == 1 + 4  # no update lost


# ---------------------------------------------------------------- PostgreSQL's URL


@needs_postgres
def test_a_postgres_url_given_by_the_learner_is_only_connected_to(tmp_path):
    workdir = tempfile.mkdtemp(prefix="finpay-test-")  # in /tmp itself: see `server`
    own = Database("postgres").start(workdir)
    try:
        assert own.safe_url.startswith("postgresql://finpay:***@127.0.0.1:")
        assert own.url.split(":")[2].split("@")[0] not in own.safe_url  # the password
        theirs = Database(own.url).start(str(tmp_path))
        assert theirs.server is None and theirs.sql("SELECT current_user AS u") == [{"u": "finpay"}]
        theirs.stop()
        wrong = own.url.replace(own.url.split(":")[2].split("@")[0], "not-the-password")
        with pytest.raises(DatabaseUnavailable, match="password authentication failed"):
            Database(wrong).start(str(tmp_path))
    finally:
        own.stop()
        shutil.rmtree(workdir)


def test_a_postgres_url_that_does_not_answer_is_a_clear_error_within_seconds(tmp_path):
    with socket.socket() as silent:  # accepts TCP connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match=f"127.0.0.1:{port}/scratch does not answer"):
            Database(f"postgresql://me:secret@127.0.0.1:{port}/scratch").start(str(tmp_path))
        assert time.monotonic() - started < defaults.DB_CONNECT_TIMEOUT + 5
    with pytest.raises(DatabaseUnavailable) as caught:  # nobody listening: refused at once
        Database(f"postgresql://me:secret@127.0.0.1:{port}/scratch").start(str(tmp_path))
    assert "secret" not in str(caught.value) and "me:***@" in str(caught.value)


def test_connect_to_a_missing_sqlite_directory_is_a_database_error(tmp_path):
    with pytest.raises(DatabaseError, match="cannot connect"):
        connect(f"sqlite://{tmp_path}/no/such/dir/lab.db")


def test_a_db_that_is_never_used_begins_nothing_and_locks_nothing(database):
    """The pod loop may open a transaction for every request whose handler names db; one
    that runs no statement must not hold SQLite's write lock (or a Postgres snapshot)."""
    other = connect(database.url)
    try:
        # the second would wait out the busy timeout if the first held the lock
        with database.transaction(), other.transaction() as db:
            assert db.execute("UPDATE accounts SET balance = 7 WHERE name = 'asha'") == 1
    finally:
        other.close()
    assert balances(database)["asha"] == 7


def test_a_sqlite_database_that_cannot_be_made_is_database_unavailable(tmp_path):
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        Database("sqlite").start(str(tmp_path / "gone"))
