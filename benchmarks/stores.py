"""What does a transfer cost in each store? One transaction, four clients, one table.

    python benchmarks/stores.py              # ~2 min on a 2-core machine
    python benchmarks/stores.py --seconds 3  # quicker, noisier
    python benchmarks/stores.py --durable    # also SQLite synchronous=FULL, PostgreSQL fsync=on

The transaction is a bank transfer: debit one account, credit another, append a ledger
row, commit; two UPDATEs and an INSERT. It runs

- in ``pgbench`` (PostgreSQL's own benchmark client, in C) with 4 clients, against the
  server of a lab started with ``db="postgres"`` (fsync off, as the lab runs it);
- in raw ``sqlite3`` from 4 processes on one WAL file, ``BEGIN IMMEDIATE``, with
  ``synchronous=NORMAL`` (the lab's choice);
- through the lab's own database layer (``finpay_lab.stores.sql``: ``:named`` SQL, dict
  rows, one transaction per request) from 4 processes, on both, to show what the layer
  costs on top of the driver;
- as FinPay's ``pay`` through the lab: 4 pods, ``lab.run`` keeping each busy, with
  ``db="sqlite"`` and ``db="postgres"`` (``state="memory"``: the cache and the SMS queue in
  each pod, so the row measures the database; and ``state="redis"`` with a real Redis, as a
  course lab runs), and with the books in Redis (``state="redis"``, no database). A ``pay``
  is more than a transfer: it checks the token (an HMAC), that both customers exist and
  that its idempotency key is new, writes a receipt and two ledger rows, and queues two SMS
  (which the pods' workers then send: that work shares the machine too).

Then, per request (``lab.call``, one at a time, median), what the embedded Redis
(``redis="fake"``: fakeredis, a Python server) costs beside the real ``redis-server``, for
``pay`` (one Lua script) and ``balance`` (one GET); and how long ``lab.redis.crash()`` takes
until the server answers again (``fl.chaos.redis_crash``: the run waits that long).

The debit goes to accounts 1-500 and the credit to 501-1000, so every transaction locks
its two rows in the same order: no deadlocks, which pgbench would count as failures. The
lab's payments do the same (senders a001-a500, receivers b001-b500).

Every row checks its books afterwards: the money only moved, and every transfer left its
rows (the lab's rows: ``lab.audit()`` finds nothing created, lost or paid twice).
"""

import argparse
import multiprocessing
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time

import finpay_lab as fl
from finpay_lab.stores.postgres_server import PostgresServer, find_binary
from finpay_lab.stores.sql import connect

CLIENTS = 4
ACCOUNTS = 1000

PGBENCH_SCRIPT = """\\set a random(1, 500)
\\set b random(501, 1000)
\\set amount random(1, 100)
BEGIN;
UPDATE transfer_accounts SET balance = balance - :amount WHERE id = :a;
UPDATE transfer_accounts SET balance = balance + :amount WHERE id = :b;
INSERT INTO transfer_ledger (src, dst, amount) VALUES (:a, :b, :amount);
END;
"""

TRANSFER = [
    "UPDATE transfer_accounts SET balance = balance - :amount WHERE id = :a",
    "UPDATE transfer_accounts SET balance = balance + :amount WHERE id = :b",
    "INSERT INTO transfer_ledger (src, dst, amount) VALUES (:a, :b, :amount)",
]


def schema(serial):
    return [
        "DROP TABLE IF EXISTS transfer_accounts",
        "DROP TABLE IF EXISTS transfer_ledger",
        "CREATE TABLE transfer_accounts (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)",
        f"CREATE TABLE transfer_ledger (id {serial}, src INTEGER NOT NULL, dst INTEGER NOT NULL, "
        "amount BIGINT NOT NULL)",
    ]


def setup(url):
    serial = "INTEGER PRIMARY KEY" if url.startswith("sqlite:") else "BIGSERIAL PRIMARY KEY"
    conn = connect(url)
    with conn.transaction() as db:
        for statement in schema(serial):
            db.execute(statement)
        for i in range(1, ACCOUNTS + 1):
            db.execute("INSERT INTO transfer_accounts (id, balance) VALUES (:id, 1000000)", id=i)
    conn.close()


def check_books(url, transfers):
    """Money only moved, and every transfer left one ledger row."""
    conn = connect(url)
    with conn.transaction() as db:
        total = db.query("SELECT SUM(balance) AS s FROM transfer_accounts")[0]["s"]
        rows = db.query("SELECT COUNT(*) AS n FROM transfer_ledger")[0]["n"]
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


def pgbench(url, seconds, workdir):
    script = os.path.join(workdir, "transfer.sql")
    with open(script, "w") as f:
        f.write(PGBENCH_SCRIPT)
    user, password, host, port, dbname = re.match(
        r"postgresql://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)", url
    ).groups()
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
            user,
            dbname,
        ],
        env={**os.environ, "PGPASSWORD": password},  # the environment, not the command line
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    transfers = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    return tps, transfers


# ---------------------------------------------------------------- FinPay's pay, through the lab

PODS = 4
SENDERS = [f"a{i:03d}" for i in range(1, 501)]  # debited: the first half, as in the transfer above
RECEIVERS = [f"b{i:03d}" for i in range(1, 501)]  # credited: the second half


def payments(tokens, n, rng, tag):
    for k in range(n):
        sender = rng.choice(SENDERS)
        yield (
            "pay",
            {
                "sender": sender,
                "receiver": rng.choice(RECEIVERS),
                "amount": rng.randint(1, 100),
                "token": tokens[sender],
                "key": f"{tag}-{k}",
            },
        )


def lab_pay(seconds, before=None, **lab_options):
    """``pay`` per second through ``PODS`` pods, ``lab.run`` keeping each busy; ``before(lab)``
    runs first, on the same lab (pgbench on its PostgreSQL server). Returns the rate and
    what ``before`` returned."""
    accounts = {name: 1_000_000 for name in SENDERS + RECEIVERS}
    with fl.Lab(pods=PODS, accounts=accounts, **lab_options) as lab:
        earlier = before(lab) if before else None
        tokens = {user: lab.call("login", user=user).value["token"] for user in SENDERS}
        rng = random.Random(1)
        started = time.perf_counter()
        warm = lab.run(list(payments(tokens, 400, rng, "warm")))  # connections, prepared statements
        assert warm.ok == 400, warm.summary()
        n = max(500, int(400 / (time.perf_counter() - started) * seconds))  # about `seconds` long
        work = list(payments(tokens, n, rng, "pay"))
        started = time.perf_counter()
        run = lab.run(work)
        elapsed = time.perf_counter() - started
        assert run.ok == n, [r.error for r in run.requests if not r.ok][:3]
        audit = lab.audit()
        assert audit.money_created == 0 and not audit.double_debits and not audit.lost_payments, str(audit)
    return n / elapsed, earlier


def round_trips(redis, n):
    """Median seconds of one ``pay`` and one ``balance`` through ``lab.call`` (one pod,
    ``state="redis"``, no database): what the Redis behind it costs per request."""
    with fl.Lab(pods=1, state="redis", redis=redis) as lab:
        token = lab.call("login", user="Ravi").value["token"]
        medians = {}
        for endpoint, params in (
            (
                "pay",
                lambda i: {
                    "sender": "Ravi",
                    "receiver": "Meena",
                    "amount": 1,
                    "token": token,
                    "key": f"{redis}-{i}",
                },
            ),
            ("balance", lambda i: {"user": "Ravi"}),
        ):
            times = []
            for i in range(n + 100):
                t = time.perf_counter()
                assert lab.call(endpoint, **params(i)).ok
                times.append(time.perf_counter() - t)
            medians[endpoint] = statistics.median(times[100:])  # the first 100: warming up
    return medians


def crash_restarts(redis, n=7):
    """Median seconds from ``lab.redis.crash()`` until the new server answers (it returns then)."""
    with fl.Lab(pods=1, state="redis", redis=redis) as lab:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            lab.redis.crash()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


# ---------------------------------------------------------------- the table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="how long each row runs (default 6)")
    parser.add_argument(
        "--calls", type=int, default=1000, help="lab.call round trips per median (default 1000)"
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="also SQLite synchronous=FULL and PostgreSQL fsync=on (pgbench, the layer)",
    )
    args = parser.parse_args()
    rows = {}
    workdir = tempfile.mkdtemp(prefix="finpay-bench-")
    postgres = find_binary("initdb") and find_binary("pgbench")
    try:
        for synchronous in ("NORMAL", "FULL") if args.durable else ("NORMAL",):
            path = os.path.join(workdir, f"bench-{synchronous}.db")
            url = f"sqlite://{path}?synchronous={synchronous}"
            setup(url)
            tps, n = run_clients(_raw_sqlite_client, (path, synchronous), args.seconds)
            check_books(url, n)
            rows[f"raw sqlite3, WAL, synchronous={synchronous}"] = ("4 processes", tps)
            setup(url)
            tps, n = run_clients(_layer_client, (url,), args.seconds)
            check_books(url, n)
            rows[f"finpay_lab.stores.sql, SQLite, synchronous={synchronous}"] = ("4 processes", tps)
        if postgres:

            def transfers(lab):  # pgbench and the layer, on the lab's own server, before its pods pay
                setup(lab.db_url)
                tps, n = pgbench(lab.db_url, args.seconds, workdir)
                check_books(lab.db_url, n)
                rows["pgbench, PostgreSQL (the lab's), fsync=off"] = ("4 clients", tps)
                setup(lab.db_url)
                tps, n = run_clients(_layer_client, (lab.db_url,), args.seconds)
                check_books(lab.db_url, n)
                rows["finpay_lab.stores.sql, PostgreSQL, fsync=off"] = ("4 processes", tps)

            rows["lab pay, db='postgres', state='memory'"] = (
                "4 pods",
                lab_pay(args.seconds, transfers, db="postgres")[0],
            )
            rows["lab pay, db='postgres', state='redis' (real)"] = (
                "4 pods",
                lab_pay(args.seconds, db="postgres", state="redis", redis="real")[0],
            )
            if args.durable:
                for label, fsync in (("on", True),):
                    server = PostgresServer(fsync=fsync).start(workdir)
                    try:
                        setup(server.url)
                        tps, n = pgbench(server.url, args.seconds, workdir)
                        check_books(server.url, n)
                        rows[f"pgbench, PostgreSQL, fsync={label}"] = ("4 clients", tps)
                        setup(server.url)
                        tps, n = run_clients(_layer_client, (server.url,), args.seconds)
                        check_books(server.url, n)
                        rows[f"finpay_lab.stores.sql, PostgreSQL, fsync={label}"] = ("4 processes", tps)
                    finally:
                        server.stop()
        else:
            print("PostgreSQL rows skipped: no initdb/pgbench (apt-get install postgresql)")
        rows["lab pay, db='sqlite', state='memory'"] = ("4 pods", lab_pay(args.seconds, db="sqlite")[0])
        rows["lab pay, db='sqlite', state='redis' (real)"] = (
            "4 pods",
            lab_pay(args.seconds, db="sqlite", state="redis", redis="real")[0],
        )
        for redis in ("real", "fake"):
            rows[f"lab pay, no db, state='redis' ({redis})"] = (
                "4 pods",
                lab_pay(args.seconds, state="redis", redis=redis)[0],
            )
        calls = {redis: round_trips(redis, args.calls) for redis in ("real", "fake")}
        crashes = {redis: crash_restarts(redis) for redis in ("real", "fake")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nA transfer (2 UPDATEs + 1 INSERT, one transaction) or a FinPay pay, {args.seconds} s per row, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    width = max(map(len, rows))
    print(f"{'store':<{width}}  {'clients':<12}  {'per second':>12}")
    for name, (clients, tps) in rows.items():
        print(f"{name:<{width}}  {clients:<12}  {tps:>12,.0f}")
    print(f"\n{'one request at a time (lab.call, median)':<42}{'real Redis':>12}{'embedded':>12}{'ratio':>8}")
    for endpoint in ("pay", "balance"):
        real, fake = calls["real"][endpoint], calls["fake"][endpoint]
        print(f"{'  ' + endpoint:<42}{real * 1e6:>10.0f}µs{fake * 1e6:>10.0f}µs{fake / real:>7.2f}×")
    real, fake = crashes["real"], crashes["fake"]
    print(
        f"{'  redis crash until it answers (median)':<42}{real * 1e3:>10.0f}ms{fake * 1e3:>10.0f}ms{fake / real:>7.2f}×"
    )
    real, fake = (
        rows["lab pay, no db, state='redis' (real)"][1],
        rows["lab pay, no db, state='redis' (fake)"][1],
    )
    print(f"{'  pay, 4 pods, lab.run (throughput)':<42}{real:>10,.0f}/s{fake:>10,.0f}/s{real / fake:>7.2f}×")
    if postgres:
        pg = rows["pgbench, PostgreSQL (the lab's), fsync=off"][1]
        lab_pg = rows["lab pay, db='postgres', state='memory'"][1]
        lab_sqlite = rows["lab pay, db='sqlite', state='memory'"][1]
        print(
            f"\ntargets: lab pay with PostgreSQL ≥ 50% of pgbench: {lab_pg / pg:.0%} "
            f"({'met' if lab_pg >= 0.5 * pg else 'NOT met'}); with SQLite ≥ pgbench: {lab_sqlite / pg:.0%} "
            f"({'met' if lab_sqlite >= pg else 'NOT met'}); embedded Redis ≤ 1.5× real per request: "
            + ", ".join(f"{e} {calls['fake'][e] / calls['real'][e]:.2f}×" for e in ("pay", "balance"))
        )


if __name__ == "__main__":
    main()
