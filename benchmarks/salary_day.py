"""Does throughput grow with pods the way it should? 1, 3, 10 and 30 pods, side by side.

    python benchmarks/salary_day.py          # ~20 s

Each request waits 5 ms in its handler (a stand-in for a database call), so one pod
serves at most ~200 requests/s and N pods ideally N times that. On 2 cores the pods
mostly wait, so the curve shows whether the lab's own dispatching keeps up: at 30 pods
it must reach at least 85% of ideal, or the course's scaling plots would measure the
lab instead of the system.
"""

import argparse
import time

import finpay_lab as fl

app = fl.App("salary-day")


@app.endpoint
def pay(state, user: str, amount: int):
    time.sleep(0.005)  # the database call
    return amount


def throughput(pods, seconds):
    with fl.Lab(pods=pods, app=app) as lab:
        per_second = pods * 200
        lab.run([("pay", {"user": "Ravi", "amount": 1})] * (pods * 20))  # warm up
        run = lab.run([("pay", {"user": f"user{i}", "amount": i}) for i in range(int(per_second * seconds))])
        assert run.failed == 0, run.summary()
        return run.throughput


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured run")
    parser.add_argument("--pods", type=int, nargs="+", default=[1, 3, 10, 30])
    args = parser.parse_args()
    results = {n: throughput(n, args.seconds) for n in args.pods}
    one = results[args.pods[0]] / args.pods[0]
    print("salary day: a 5 ms handler, closed loop, 4 requests in flight per pod\n")
    print(f"{'pods':>5}{'req/s':>10}{'ideal':>10}{'of ideal':>10}")
    for n, tput in results.items():
        print(f"{n:>5}{tput:>10,.0f}{n * one:>10,.0f}{tput / (n * one):>9.0%}")
    last = args.pods[-1]
    ratio = results[last] / (last * one)
    print(f"\ntarget: ≥ 85% of ideal at {last} pods: {'met' if ratio >= 0.85 else 'NOT met'} ({ratio:.0%})")


if __name__ == "__main__":
    main()
