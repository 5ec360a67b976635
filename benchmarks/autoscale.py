"""How many periods does the HPA take from 3 to 30 pods under a step load? (arithmetic only)

    python benchmarks/autoscale.py           # instant: no pods, only the HPA's rules

The load steps at t = 0 from what 3 pods serve comfortably to ``--demand`` pods' worth of
work (default 27: 30 pods at 90%). Each period the HPA sees every pod's utilization,
``demand / replicas``, and new pods are ready by the next period (no start-up delay). Two
metrics:

* **uncapped**: utilization may exceed 100%, as CPU does against a request below the
  container's limit (request 250m, limit 1 core: 400%). The metric says "9× too many"
  and only the rate limit, max(+4 pods, +100%) per period, holds the HPA back:
  3 → 7 → 14 → 28 → 30, 4 periods (the issue's figure).
* **capped at 100%**: the lab's metric, the share of the period a pod was busy. A pod cannot
  be busier than always, so at target 80% the HPA can ask for at most 100/80 = 1.25× the
  pods each period: 3 → 4 → 5 → 7 → 9 → 12 → 15 → 19 → 24 → 30, 9 periods. The rate
  limit never binds. Kubernetes behaves the same for a single-threaded server whose CPU
  request is one core (its CPU cannot pass 100%): a saturated metric hides how far behind
  the pods are, which is why production HPAs also scale on queue length or request rate.

``--plot surge.png`` draws a made-up salary-day surge through ``views/replicas.py``: a
pod serves 200 requests/s flat out, new pods are ready 2 s after the HPA asks, requests
wait in a queue meanwhile (a fluid model, not the lab).

``--lab`` adds the real thing: a lab of 3 pods with ``fl.HPA(min=3, max=30, target=0.8)``
under a step load of ``--demand`` pods' worth of work (each request sleeps ``--service``
seconds in its pod), the periods it takes from 3 to 30, and the p99 latency during the
climb against the same load on a lab pre-scaled with ``lab.scale(30)``. In the lab a new
pod counts as not ready for its first period, so the climb takes more periods than the
capped path above. ``--lab-plot lab.png`` draws the lab's run with ``fl.plots.replicas``.

Measured here (2 shared cores, 540 requests/s of 50 ms, period 0.5 s): the lab took the
capped path 3 → 4 → 5 → 7 → 9 → 12 → 15 → 19 → 24 → 30 in 17 periods (8 of them held back
by pods still counted not ready), 30 pods ready 8.7 s after the step; p99 over those 8.7 s
3,270 ms with the HPA against 125 ms pre-scaled, and the lab sent 6,251 requests late
(its pods' queues full) against 17. Latency is counted from when a request was sent, so
the HPA's p99 understates the wait of the requests sent late.
"""

import argparse
import time

import finpay_lab as fl


def climb(demand, capped, start=3, hpa=None, periods=30):
    """The replica count each period until it stops changing; the HPA's decisions."""
    hpa = hpa or fl.HPA(min=3, max=30, target=0.8, period=1.0)
    n, path = start, [start]
    for k in range(periods):
        each = demand / n
        n = hpa.decide(k * hpa.period, n, [min(each, 1.0) if capped else each] * n).new_replicas
        path.append(n)
        if len(path) > 2 and path[-1] == path[-2] == path[-3]:
            break
    while len(path) > 1 and path[-1] == path[-2]:
        path.pop()
    return path, hpa.decisions


def surge(rate=4000, base=400, start=10, end=28, seconds=40, per_pod=200, delay=2.0):
    """A step of demand through the HPA with a fluid queue: the data replicas() draws."""
    hpa = fl.HPA(min=3, max=30, target=0.8, period=1.0, scale_down_window=5.0)
    ready_n, asked, pending, backlog = 3, 3, [], 0.0
    demand, ready, latency = [], [(0.0, 3)], {"p50": [], "p95": [], "p99": []}
    for t in range(seconds):
        due = rate if start <= t < end else base
        demand.append((float(t), due))
        for when, n in [p for p in pending if p[0] <= t]:
            ready_n = n
            ready.append((when, n))
            pending.remove((when, n))
        capacity = ready_n * per_pod
        served = min(capacity, due + backlog)
        backlog += due - served
        wait = backlog / capacity * 1e3  # ms a new request waits behind the queue
        for q, extra in (("p50", 0.5), ("p95", 0.95), ("p99", 1.0)):
            latency[q].append((t + 0.5, 1e3 / per_pod * (1 + q.endswith("9")) + wait * extra))
        d = hpa.decide(float(t), asked, [served / capacity] * ready_n, unready=asked - ready_n)
        if d.new_replicas < asked:
            ready_n = asked = d.new_replicas
            ready.append((float(t), asked))
        elif d.new_replicas > asked:
            asked = d.new_replicas
            pending.append((t + delay, asked))
    return demand, ready, latency, hpa.decisions, per_pod * hpa.target


def lab_app(service):
    app = fl.App("step")

    @app.endpoint
    def balance(state, user="Ravi"):
        time.sleep(service)  # occupies the pod, as a blocking call would
        return 1

    return app


def lab_climb(demand=27.0, service=0.05, period=0.5, seconds=None, hpa=True):
    """A real lab under a step load of ``demand`` pods' worth: returns (run, decisions, lab seconds to 30)."""
    rps = demand / service
    seconds = seconds or 24 * period
    load = fl.load.constant(rps=rps, seconds=seconds, mix={"balance": 1}, seed=1)
    scaler = fl.HPA(min=3, max=30, target=0.8, period=period, scale_down_window=60.0) if hpa else None
    with fl.Lab(pods=3, app=lab_app(service), autoscaler=scaler) as lab:
        if not hpa:
            lab.scale(30)
        run = lab.run(load)
        ready30 = None
        if hpa:
            ready = set()
            for e in lab.history.events:
                if e.kind == "ready":
                    ready.add(e.pod)
                    if len(ready) >= 30 and e.t >= run.started:
                        ready30 = e.t - run.started
                        break
        return run, list(scaler.decisions) if hpa else [], ready30


def climb_window(run, until):
    """p99 (ms) of the run's successful requests due before ``until`` (lab seconds after its start)."""
    lat = sorted(r.latency for r in run.requests if r.ok and r.sent - run.started <= until)
    return lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3 if lat else float("nan")


def lab_rows(demand, service, period, plot=None):
    run, decisions, ready30 = lab_climb(demand, service, period)
    path = [decisions[0].replicas] + [d.new_replicas for d in decisions if d.scaled]
    first = decisions[0].time
    reach = next((d.time for d in decisions if d.new_replicas == 30), None)
    periods = None if reach is None else round((reach - first) / period) + 1
    print(
        f"lab, {demand:g} pods' worth of {service * 1e3:g} ms requests ({demand / service:,.0f}/s), "
        f"period {period:g} s: {' → '.join(map(str, path))}: "
        f"{periods} periods to ask for 30, 30 ready after {ready30 and f'{ready30:.1f}'} s"
    )
    held = sum(1 for d in decisions if not d.scaled and d.unready and (reach is None or d.time < reach))
    print(f"    {held} of those periods held back by new pods counted not ready (0%)")
    climb = ready30 or run.duration
    pre, _, _ = lab_climb(demand, service, period, hpa=False)
    print(
        f"    p99 while climbing (first {climb:.1f} s): {climb_window(run, climb):,.0f} ms with the HPA, "
        f"{climb_window(pre, climb):,.0f} ms pre-scaled with lab.scale(30); "
        f"whole run p99 {run.latency_quantiles()[0.99] * 1e3:,.0f} vs {pre.latency_quantiles()[0.99] * 1e3:,.0f} ms; "
        f"late sends {run.late} vs {pre.late}"
    )
    if plot:
        fl.plots.replicas(run).savefig(plot, dpi=90)
        print(f"wrote {plot}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=float, default=27.0, help="work, in pods that are busy all the time")
    parser.add_argument("--verbose", action="store_true", help="print every decision's arithmetic")
    parser.add_argument("--plot", metavar="PNG", help="draw a made-up surge through views/replicas.py")
    parser.add_argument("--lab", action="store_true", help="also climb with a real lab (about a minute)")
    parser.add_argument(
        "--service", type=float, default=0.05, help="seconds each request occupies its pod (--lab)"
    )
    parser.add_argument("--period", type=float, default=0.5, help="the HPA's period in seconds (--lab)")
    parser.add_argument("--lab-plot", metavar="PNG", help="draw the lab's run with fl.plots.replicas")
    args = parser.parse_args()
    for capped in (False, True):
        path, decisions = climb(args.demand, capped)
        label = "capped at 100% (the lab's busy-time metric)" if capped else "uncapped (CPU over its request)"
        print(f"{label}: {' → '.join(map(str, path))}: {len(path) - 1} periods")
        if args.verbose:
            for d in decisions:
                print("   ", d)
    uncapped, _ = climb(args.demand, capped=False)
    if args.demand == 27.0:
        assert uncapped == [3, 7, 14, 28, 30], uncapped  # Kubernetes' default policy
    if args.plot:
        from finpay_lab.views.replicas import replicas

        demand, ready, latency, decisions, per_pod = surge()
        replicas(demand, ready, latency, decisions, per_pod=per_pod, target=0.8).savefig(args.plot, dpi=90)
        print(f"wrote {args.plot}")
    if args.lab or args.lab_plot:
        lab_rows(args.demand, args.service, args.period, args.lab_plot)


if __name__ == "__main__":
    main()
