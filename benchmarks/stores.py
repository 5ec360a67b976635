"""What does a transfer cost in each store? One transaction, four clients, one table.

    python benchmarks/stores.py              # ~1 min on a 2-core machine
    python benchmarks/stores.py --seconds 3  # quicker, noisier

The transaction is a bank transfer: debit one account, credit another, append a ledger
row, commit; two UPDATEs and an INSERT. It runs

- in ``pgbench`` (PostgreSQL's own benchmark client, in C) with 4 clients, against a
  server started by ``finpay_lab.stores.postgres_server`` (fsync off as the lab runs it,
  and on);
- in raw ``sqlite3`` from 4 processes on one WAL file, ``BEGIN IMMEDIATE``, with
  ``synchronous=NORMAL`` (the lab's choice) and ``FULL``;
- through the lab's own database layer (``finpay_lab.stores.sql``: ``:named`` SQL, dict
  rows, one transaction per request) from 4 processes, on both, to show what the layer
  costs on top of the driver.

The lab's ``pay`` through pods (with ``db="sqlite"``, ``db="postgres"``, and
``state="redis"`` without a database) joins this table once the pods get a ``db``.

The debit goes to accounts 1-500 and the credit to 501-1000, so every transaction locks
its two rows in the same order: no deadlocks, which pgbench would count as failures.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

from finpay_lab.stores.postgres_server import PostgresServer, find_binary
from finpay_lab.stores.sql import connect

CLIENTS = 4
ACCOUNTS = 1000

PGBENCH_SCRIPT = """\\set a random(1, 500)
\\set b random(501, 1000)
\\set amount random(1, 100)
BEGIN;
UPDATE accounts SET balance = balance - :amount WHERE id = :a;
UPDATE accounts SET balance = balance + :amount WHERE id = :b;
INSERT INTO ledger (src, dst, amount) VALUES (:a, :b, :amount);
END;
"""

TRANSFER = [
    "UPDATE accounts SET balance = balance - :amount WHERE id = :a",
    "UPDATE accounts SET balance = balance + :amount WHERE id = :b",
    "INSERT INTO ledger (src, dst, amount) VALUES (:a, :b, :amount)",
]


def schema(serial):
    return [
        "DROP TABLE IF EXISTS accounts",
        "DROP TABLE IF EXISTS ledger",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)",
        f"CREATE TABLE ledger (id {serial}, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount BIGINT NOT NULL)",
    ]


def setup(url):
    serial = "INTEGER PRIMARY KEY" if url.startswith("sqlite:") else "BIGSERIAL PRIMARY KEY"
    conn = connect(url)
    with conn.transaction() as db:
        for statement in schema(serial):
            db.execute(statement)
        for i in range(1, ACCOUNTS + 1):
            db.execute("INSERT INTO accounts (id, balance) VALUES (:id, 1000000)", id=i)
    conn.close()


def check_books(url, transfers):
    """Money only moved, and every transfer left one ledger row."""
    conn = connect(url)
    with conn.transaction() as db:
        total = db.query("SELECT SUM(balance) AS s FROM accounts")[0]["s"]
        rows = db.query("SELECT COUNT(*) AS n FROM ledger")[0]["n"]
    conn.close()
    assert total == ACCOUNTS * 1000000, total
    assert transfers is None or rows == transfers, (rows, transfers)
    return rows


# ---------------------------------------------------------------- clients


def _raw_sqlite_client(path, synchronous, seconds, start, counts, index):
    import random

    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    rng = random.Random(index)
    start.wait()
    n, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        params = {"a": rng.randint(1, 500), "b": rng.randint(501, 1000), "amount": rng.randint(1, 100)}
        conn.execute("BEGIN IMMEDIATE")
        for statement in TRANSFER:
            conn.execute(statement, params)
        conn.execute("COMMIT")
        n += 1
    counts[index] = n


def _layer_client(url, seconds, start, counts, index):
    import random

    conn = connect(url)
    rng = random.Random(index)
    start.wait()
    n, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        params = {"a": rng.randint(1, 500), "b": rng.randint(501, 1000), "amount": rng.randint(1, 100)}
        with conn.transaction() as db:
            for statement in TRANSFER:
                db.execute(statement, **params)
        n += 1
    conn.close()
    counts[index] = n


def run_clients(target, args, seconds):
    """CLIENTS processes, started together; transfers per second, and how many in all."""
    ctx = multiprocessing.get_context("fork")
    start, counts = ctx.Barrier(CLIENTS + 1), ctx.Array("l", CLIENTS)
    procs = [ctx.Process(target=target, args=(*args, seconds, start, counts, i)) for i in range(CLIENTS)]
    for p in procs:
        p.start()
    start.wait()
    for p in procs:
        p.join()
        assert p.exitcode == 0, p.exitcode
    return sum(counts) / seconds, sum(counts)


def pgbench(server, seconds, workdir):
    script = os.path.join(workdir, "transfer.sql")
    with open(script, "w") as f:
        f.write(PGBENCH_SCRIPT)
    host, port = re.search(r"@([^:/]+):(\d+)/", server.url).groups()
    password = server.url.split(":")[2].split("@")[0]
    out = subprocess.run(
        [
            find_binary("pgbench"),
            "-n",
            "-f",
            script,
            "-c",
            str(CLIENTS),
            "-j",
            str(CLIENTS),
            "-T",
            str(seconds),
            "-h",
            host,
            "-p",
            port,
            "-U",
            "finpay",
            "postgres",
        ],
        env={**os.environ, "PGPASSWORD": password},  # the environment, not the command line
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    transfers = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    return tps, transfers


# ---------------------------------------------------------------- the table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="how long each row runs (default 8)")
    args = parser.parse_args()
    rows = []
    workdir = tempfile.mkdtemp(prefix="finpay-bench-")
    try:
        for synchronous in ("NORMAL", "FULL"):
            path = os.path.join(workdir, f"bench-{synchronous}.db")
            url = f"sqlite://{path}?synchronous={synchronous}"
            setup(url)
            tps, n = run_clients(_raw_sqlite_client, (path, synchronous), args.seconds)
            check_books(url, n)
            rows.append((f"raw sqlite3, WAL, synchronous={synchronous}", "4 processes", tps))
            setup(url)
            tps, n = run_clients(_layer_client, (url,), args.seconds)
            check_books(url, n)
            rows.append((f"finpay_lab.stores.sql, SQLite, synchronous={synchronous}", "4 processes", tps))
        if find_binary("initdb") and find_binary("pgbench"):
            for fsync in (False, True):
                started = time.perf_counter()
                server = PostgresServer(fsync=fsync).start(workdir)
                startup = time.perf_counter() - started
                try:
                    setup(server.url)
                    tps, n = pgbench(server, args.seconds, workdir)
                    check_books(server.url, n)
                    rows.append((f"pgbench, PostgreSQL, fsync={'on' if fsync else 'off'}", "4 clients", tps))
                    setup(server.url)
                    tps, n = run_clients(_layer_client, (server.url,), args.seconds)
                    check_books(server.url, n)
                    rows.append(
                        (
                            f"finpay_lab.stores.sql, PostgreSQL, fsync={'on' if fsync else 'off'}",
                            "4 processes",
                            tps,
                        )
                    )
                finally:
                    server.stop()
                print(
                    f"PostgreSQL server (initdb + start), fsync={'on' if fsync else 'off'}: {startup:.2f} s"
                )
        else:
            print("PostgreSQL rows skipped: no initdb/pgbench (apt-get install postgresql)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nA transfer (2 UPDATEs + 1 INSERT, one transaction), {args.seconds} s per row, "
        f"{os.cpu_count()} CPUs\n"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'store':<{width}}  {'clients':<12}  {'transfers/s':>12}")
    for name, clients, tps in rows:
        print(f"{name:<{width}}  {clients:<12}  {tps:>12,.0f}")


if __name__ == "__main__":
    main()
