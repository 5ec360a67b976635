"""What does HTTP cost? ``finpay_lab.serve`` beside the lab's own pipes, in one run.

    python benchmarks/serve.py            # ~1 min on a 2-core machine
    python benchmarks/serve.py --n 500    # quicker, rougher

Both sides run the FinPay app on 2 pods sharing one real ``redis-server``:

* **serve**: two ``python -m finpay_lab.serve`` processes (uvicorn, a thread pool each);
  the client keeps one HTTP/1.1 connection per thread, requests alternate between pods.
* **lab**: ``fl.Lab(pods=2, state="redis", redis="real")``: ``lab.call`` for latency,
  ``lab.run`` (pipelined) for throughput.

Latency is one request at a time (p50, p99 of ``--n``); requests/s is ``--n`` requests
with ``--clients`` in flight (serve: client threads; lab: ``lab.run``'s pipelining). The
client is Python too, and shares the machine: the figures compare, they do not rank servers.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import finpay_lab as fl
from finpay_lab.stores.redis_server import RedisServer

SECRET = "benchmark-secret"


def start_pod(name, redis_url):
    env = dict(
        os.environ, POD_NAME=name, REDIS_URL=redis_url, FINPAY_SECRET=SECRET, FINPAY_SMS_LOG=os.devnull
    )
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "finpay_lab.serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    port = int(line.split("http://127.0.0.1:")[1].split()[0])
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + 30
    while _get(client, "/readyz") != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become ready")
        time.sleep(0.05)
    client.close()
    return proc, port


def _get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status


def post(conn, endpoint, params):
    conn.request(
        "POST", f"/{endpoint}", body=json.dumps(params), headers={"Content-Type": "application/json"}
    )
    response = conn.getresponse()
    reply = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"{endpoint}: {response.status} {reply['error']}")
    return reply["value"]


def percentiles(times):
    times = sorted(times)
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000


def serve_figures(ports, endpoint, params_of, n, clients):
    conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports]
    for i in range(200):  # warm up
        post(conns[i % 2], endpoint, params_of(i))
    times = []
    for i in range(n):
        t = time.perf_counter()
        post(conns[i % 2], endpoint, params_of(i))
        times.append(time.perf_counter() - t)
    for c in conns:
        c.close()
    errors = []

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", ports[k % 2], timeout=30)
        try:
            for i in range(k, n, clients):
                post(conn, endpoint, params_of(n + i))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    if errors:
        raise errors[0]
    return (n / elapsed, *percentiles(times))


def lab_figures(lab, endpoint, params_of, n):
    for i in range(200):
        lab.call(endpoint, **params_of(i))
    times = []
    for i in range(n):
        t = time.perf_counter()
        r = lab.call(endpoint, **params_of(i))
        times.append(time.perf_counter() - t)
        assert r.ok, r.error
    work = [(endpoint, params_of(n + i)) for i in range(n)]
    t = time.perf_counter()
    run = lab.run(work)
    elapsed = time.perf_counter() - t
    assert run.ok == n, run.summary()
    return (n / elapsed, *percentiles(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per measure (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="HTTP requests in flight (default 4)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        redis = RedisServer("real").start(workdir)
        pods = []
        try:
            pods = [start_pod(f"pod-{k}", redis.url) for k in (1, 2)]
            ports = [port for _, port in pods]
            conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=30)
            token = post(conn, "login", {"user": "Ravi"})["token"]
            conn.close()
            balance = lambda i: {"user": "Ravi"}  # noqa: E731
            pay = lambda i: {"sender": "Ravi", "receiver": "Landlord", "amount": 1, "token": token}  # noqa: E731
            rows.append(
                (
                    "balance",
                    "serve (HTTP, 2 pods)",
                    *serve_figures(ports, "balance", balance, args.n, args.clients),
                )
            )
            rows.append(
                ("pay", "serve (HTTP, 2 pods)", *serve_figures(ports, "pay", pay, args.n, args.clients))
            )
        finally:
            for proc, _ in pods:
                proc.terminate()
                proc.wait(30)
                proc.stdout.close()
            redis.stop()
    with fl.Lab(pods=2, state="redis", redis="real") as lab:
        token = lab.call("login", user="Ravi").value["token"]
        pay = lambda i: {"sender": "Ravi", "receiver": "Landlord", "amount": 1, "token": token}  # noqa: E731
        rows.insert(
            1,
            (
                "balance",
                "lab (pipes, 2 pods)",
                *lab_figures(lab, "balance", lambda i: {"user": "Ravi"}, args.n),
            ),
        )
        rows.append(("pay", "lab (pipes, 2 pods)", *lab_figures(lab, "pay", pay, args.n)))
    print(
        f"\nFinPay on 2 pods, one real redis-server, {args.n} requests per figure, {os.cpu_count()} cores\n"
    )
    print(f"{'endpoint':<9}{'dispatch':<24}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for endpoint, how, rps, p50, p99 in rows:
        print(f"{endpoint:<9}{how:<24}{rps:>12,.0f}{p50:>10.2f}{p99:>10.2f}")
    print(
        "\nrequests/s: serve with", args.clients, "client threads in flight; lab with lab.run's pipelining."
    )
    print("p50/p99: one request at a time (lab.call; one keep-alive HTTP connection per pod).")


if __name__ == "__main__":
    main()
