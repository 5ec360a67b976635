"""How much does the lab itself cost per request? Printed beside the stdlib alternatives.

    python benchmarks/dispatch.py            # ~30 s on a 2-core machine

Same handler (the stateless ``add_balance``), same number of workers, same machine, one
run. The lab must be cheap beside the service times it shows, or the scaling plots of
the course would measure the lab instead of the system.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import time

import psutil

import finpay_lab as fl


def add_balance(user, amount):
    return amount + 1000


def _median_round_trip(fn, n):
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lab_figures(workers, n_calls, n_run):
    with fl.Lab(pods=workers) as lab:
        _median_round_trip(lambda i: lab.call("add_balance", user="Ravi", amount=i), 300)  # warm up
        call = _median_round_trip(lambda i: lab.call("add_balance", user="Ravi", amount=i), n_calls)
        work = [("add_balance", {"user": "Ravi", "amount": i}) for i in range(n_run)]
        lab.run(work[:2000])
        t = time.perf_counter()
        run = lab.run(work)
        elapsed = time.perf_counter() - t
        assert run.ok == n_run, run.summary()
    return call, n_run / elapsed


def pool_figures(workers, n_calls, n_run):
    """The stdlib's figures, from the start method that serves them best here (fork)."""
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ctx.Pool(workers) as pool:
        _median_round_trip(lambda i: pool.apply(add_balance, ("Ravi", i)), 300)
        apply = _median_round_trip(lambda i: pool.apply(add_balance, ("Ravi", i)), n_calls)
        args = [("Ravi", i) for i in range(n_run)]
        t = time.perf_counter()
        n = sum(1 for _ in pool.imap(_star, args, chunksize=1))
        imap = n / (time.perf_counter() - t)
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as ppe:
        _median_round_trip(lambda i: ppe.submit(add_balance, "Ravi", i).result(), 300)
        submit = _median_round_trip(lambda i: ppe.submit(add_balance, "Ravi", i).result(), n_calls)
    return apply, imap, submit


def _star(args):
    return add_balance(*args)


def scale_figures(n):
    with fl.Lab(pods=1) as lab:
        t = time.perf_counter()
        lab.scale(n)
        elapsed = time.perf_counter() - t
        time.sleep(0.5)
        uss = [psutil.Process(p.pid).memory_full_info().uss for p in lab.pods]
    return elapsed, statistics.median(uss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=30000)
    args = parser.parse_args()

    call, lab_tput = lab_figures(args.workers, args.calls, args.requests)
    apply, imap, submit = pool_figures(args.workers, args.calls, args.requests)
    scale_s, uss = scale_figures(30)

    print(f"dispatch on {os.cpu_count()} cores, {args.workers} workers, handler add_balance\n")
    print(f"{'synchronous round trip (median)':<40}{'µs':>10}{'lab is':>12}")
    print(f"{'  lab.call':<40}{call * 1e6:>10.0f}")
    print(f"{'  multiprocessing Pool.apply':<40}{apply * 1e6:>10.0f}{apply / call:>11.1f}×")
    print(f"{'  ProcessPoolExecutor.submit':<40}{submit * 1e6:>10.0f}{submit / call:>11.1f}×")
    print(f"\n{'pipelined throughput':<40}{'req/s':>10}{'lab is':>12}")
    print(f"{'  lab.run':<40}{lab_tput:>10,.0f}")
    print(f"{'  multiprocessing Pool.imap(chunksize=1)':<40}{imap:>10,.0f}{lab_tput / imap:>11.1f}×")
    print(f"\nscale 1 → 30 pods: {scale_s * 1e3:.0f} ms; unique memory per idle pod: {uss / 2**20:.1f} MiB")
    print(
        f"\ntargets: round trip ≥ 5× faster than Pool.apply: {'met' if apply / call >= 5 else 'NOT met'}; "
        f"throughput ≥ 1.5× Pool.imap: {'met' if lab_tput / imap >= 1.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
