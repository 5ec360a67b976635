"""A lab with a database (issue 10): ``fl.Lab(db=...)``, ``lab.db_url``, ``lab.sql``, and the
``db`` a handler names. Real SQLite files and a real PostgreSQL server, started and stopped
by the lab, on every way a lab ends."""

import gc
import json
import os
import signal
import tempfile
import time

import psutil
import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause
from finpay_lab.stores.postgres_server import have_postgres

from .conftest import gone
from .test_lifecycle import run_script

needs_postgres = pytest.mark.skipif(
    not have_postgres(), reason="no PostgreSQL server binaries on this machine"
)
DATABASES = ["sqlite", pytest.param("postgres", marks=needs_postgres)]

shop = fl.App("shop")


@shop.endpoint
def make_table(state, db):
    db.execute("DROP TABLE IF EXISTS items")
    db.execute("CREATE TABLE items (name TEXT PRIMARY KEY, qty BIGINT NOT NULL CHECK (qty >= 0))")
    return True


@shop.endpoint
def add(state, db, name: str, qty: int):
    return db.execute("INSERT INTO items (name, qty) VALUES (:name, :qty)", name=name, qty=qty)


@shop.endpoint
def add_then_refuse(state, db, name: str):
    db.execute("INSERT INTO items (name, qty) VALUES (:name, 1)", name=name)
    raise fl.Rejected("changed my mind")


@shop.endpoint
def add_then_die(state, db, name: str):
    db.execute("INSERT INTO items (name, qty) VALUES (:name, 1)", name=name)
    fl.crash_point("inserted")


@shop.endpoint
def broken_sql(state, db):
    return db.query("SELEKT 1")


@shop.endpoint
def keep_db(state, db):
    fl.this_pod().kept = db
    return True


@shop.endpoint
def use_kept_db(state):
    return fl.this_pod().kept.query("SELECT 1 AS one")


@shop.endpoint
def maybe_db(state, db=None):
    return db is None


def children():
    return {p.pid for p in psutil.Process().children(recursive=True)}


# ---------------------------------------------------------------- bad input, before anything starts
@pytest.mark.parametrize("db", ["mysql", 3, "sqlite:/etc/passwd", "sqlite:../x.db", ""])
def test_an_unknown_db_spec_is_refused_before_anything_starts(db, tmp_path, monkeypatch):
    # The lab makes its work dir with tempfile: give it a temp dir of its own, which no other
    # lab on the machine (another test run, a notebook) writes to.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = children()
    with pytest.raises(fl.BadInput, match="db="):
        fl.Lab(pods=1, db=db)
    assert children() <= before
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs", [{"redis_persistence": "sometimes"}, {"redis_persistence": "aof", "redis": "fake"}]
)
def test_a_bad_redis_persistence_is_refused_before_anything_starts(kwargs):
    before = children()
    with pytest.raises(fl.BadInput, match="redis_persistence"):
        fl.Lab(pods=1, state="redis", **kwargs)
    assert children() <= before


def test_a_postgres_url_that_does_not_answer_is_a_clear_error_and_leaves_nothing():
    before = children()
    with pytest.raises(fl.DatabaseUnavailable, match="does not answer"):
        fl.Lab(pods=2, db="postgresql://finpay:secret@127.0.0.1:1/scratch")
    assert all(gone(pid) for pid in children() - before)


def test_the_database_errors_are_exported():
    assert "DatabaseError" in fl.__all__ and "DatabaseUnavailable" in fl.__all__
    assert issubclass(fl.DatabaseError, fl.LabError) and issubclass(fl.DatabaseUnavailable, fl.LabError)


def test_lab_sql_without_a_database_says_how_to_get_one():
    with fl.Lab(pods=1, app=shop) as lab:
        assert lab.db_url is None and lab.db is None
        with pytest.raises(fl.LabError, match="db='sqlite'"):
            lab.sql("SELECT 1")
        assert lab.call("maybe_db").value is True  # db=None as a default: the handler runs without one
        r = lab.call("add", name="x", qty=1)
        assert not r.ok and "the lab has no database" in r.error and lab.pods[0].status == "ready"


# ---------------------------------------------------------------- the database, in the lab
@pytest.mark.parametrize("kind", DATABASES)
def test_a_handler_naming_db_gets_its_requests_transaction(kind):
    with fl.Lab(pods=2, app=shop, db=kind) as lab:
        assert lab.db.kind == kind and lab.db_url.startswith(
            "sqlite://" if kind == "sqlite" else "postgresql://"
        )
        assert lab.call("make_table").ok
        assert lab.call("add", name="tea", qty=3).value == 1  # rows affected
        assert lab.sql("SELECT name, qty FROM items") == [{"name": "tea", "qty": 3}]  # committed
        # Rejected: rolled back, nothing of it stays
        r = lab.call("add_then_refuse", name="coffee")
        assert not r.ok and r.cause == Cause.REJECTED and r.error == "changed my mind"
        # a constraint says no: Rejected, with the database's words
        r = lab.call("add", name="milk", qty=-1)
        assert not r.ok and r.cause == Cause.REJECTED and "refused" in r.error and "check" in r.error.lower()
        r = lab.call("add", name="tea", qty=1)  # the primary key
        assert not r.ok and r.cause == Cause.REJECTED and "unique" in r.error.lower()
        # another failed statement: the database's message, not a pod's death
        r = lab.call("broken_sql")
        assert not r.ok and r.cause == Cause.DATABASE and "SELEKT" in r.error
        # `db` used after its request ended
        assert lab.call("keep_db", pod="pod-1").ok
        r = lab.call("use_kept_db", pod="pod-1")
        assert not r.ok and "request that has ended" in r.error
        r = lab.call("add", name="x", qty=1, db="mine")
        assert not r.ok and r.cause == Cause.BAD_REQUEST and "not a request parameter" in r.error
        assert all(p.status == "ready" for p in lab.pods)  # no request killed a pod
        assert lab.sql("SELECT name FROM items ORDER BY name") == [{"name": "tea"}]
        with pytest.raises(fl.DatabaseError, match="SELEKT"):
            lab.sql("SELEKT 1")


@pytest.mark.parametrize("kind", DATABASES)
def test_a_pod_killed_mid_transaction_commits_nothing(kind):
    with fl.Lab(pods=2, app=shop, db=kind) as lab:
        lab.call("make_table")
        lab.crash_at("inserted", endpoint="add_then_die")
        r = lab.call("add_then_die", name="ghost")
        assert not r.ok and r.cause == Cause.CRASHED and "SIGKILL" in r.error
        assert lab.sql("SELECT name FROM items") == []  # the database rolled it back itself
        assert lab.call("add", name="tea", qty=1).ok  # and is not left locked


def test_sqlite_lives_in_the_labs_work_dir_and_goes_with_it():
    with fl.Lab(pods=1, db="sqlite") as lab:
        path = lab.db.path
        assert path.startswith(lab._workdir) and os.path.exists(path)
        assert lab.sql("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert not os.path.exists(path)


# ---------------------------------------------------------------- PostgreSQL ends with the lab
def postgres_pids(lab):
    helper = lab.db.server.pid
    return [helper] + [p.pid for p in psutil.Process(helper).children(recursive=True)]


@needs_postgres
def test_a_postgres_lab_starts_and_close_stops_its_server():
    t0 = time.perf_counter()
    lab = fl.Lab(pods=2, db="postgres")
    started = time.perf_counter() - t0
    print(f"\na db='postgres' lab (2 pods) started in {started:.2f} s")
    pids = postgres_pids(lab)
    assert len(pids) >= 2  # the helper and the postmaster (and its backends)
    assert lab.sql("SELECT count(*) AS n FROM accounts")[0]["n"] == len(lab.accounts)
    lab.close()
    assert all(gone(pid) for pid in pids)


@needs_postgres
def test_a_garbage_collected_postgres_lab_stops_its_server():
    lab = fl.Lab(pods=1, db="postgres")
    pids = postgres_pids(lab)
    del lab
    gc.collect()
    assert all(gone(pid, within=10) for pid in pids)


@needs_postgres
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_lab_process_takes_its_postgres_with_it(tmp_path, sig):
    proc = run_script(
        tmp_path,
        """
        import psutil
        lab = fl.Lab(pods=2, db="postgres", app=app)
        helper = lab.db.server.pid
        print(json.dumps([helper] + [p.pid for p in psutil.Process(helper).children(recursive=True)]
                         + [p.pid for p in lab.pods]), flush=True)
        time.sleep(60)
    """,
        guard=False,
    )
    with proc.stdout:
        pids = json.loads(proc.stdout.readline())
    assert len(pids) >= 4
    os.kill(proc.pid, sig)
    proc.wait()
    assert all(gone(pid, within=10) for pid in pids)


def test_switching_state_rebuilds_the_pods_but_keeps_the_books():
    with fl.Lab(pods=2, db="sqlite", sms_seconds=0.0005) as lab:
        tok = lab.call("login", user="Ravi").value["token"]
        assert lab.call("pay", sender="Ravi", receiver="Landlord", amount=500, token=tok).ok
        lab.switch_state("redis")
        assert lab.call("balance", user="Ravi").value == 19_500  # from the database, through the new cache
        assert lab.sql("SELECT count(*) AS n FROM payments")[0]["n"] == 1
