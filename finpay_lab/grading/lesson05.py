"""Lesson 05's write-code exercise: the HorizontalPodAutoscaler's arithmetic, by hand.

    def desired(current, utilizations, target):
        ...  # the replica count Kubernetes' HPA asks for
    fl.checks.hpa_desired(desired)

The learner writes one period of Kubernetes' HPA for pods that are all ready, in
Kubernetes' own units (whole percents, as in ``averageUtilization: 80``), for an HPA with
``minReplicas: 3`` and ``maxReplicas: 30``:

1. the mean utilization, a whole percent rounded down (``sum // len``);
2. ``ratio = mean / target``; no change while ``0.9 ≤ ratio ≤ 1.1`` (tolerance 0.1);
3. otherwise ``ceil(current × ratio)``;
4. at most ``max(current + 4, 2 × current)`` (the default scale-up policies, per period);
5. within ``[3, 30]``.

The grader checks it two ways:

* **hand-worked cases**, one group per rule, each against ``fl.HPA`` (the lab's copy of
  Kubernetes' controller) on the same numbers: the verdict rests on these, so it is the
  same on every machine;
* **real pods**: a lab of 3 pods with ``fl.HPA(min=3, max=30, target=0.8)`` under a seeded
  salary-day surge. After each of the HPA's periods where only these five rules applied
  (every pod ready and measured, no stabilization window holding a scale-down back, the
  ratio not exactly on the tolerance's edge, where Kubernetes' versions differ) the
  learner's function gets the utilization the HPA measured and must ask for what the HPA
  did. Which periods those are depends on the machine's speed; that a right function
  agrees at every one of them does not.

Left out of the exercise, and so of the comparison: pods not ready or not measured (the
HPA counts them as idle or full, to damp a change) and the stabilization window (the HPA
remembers its recent recommendations; the function has no memory).
"""

from .report import Report, unanswered

__all__ = ["hpa_desired"]

NAME = "Exercise 5.3"
MIN, MAX, TARGET = 3, 30, 80  # the lesson's HPA: minReplicas, maxReplicas, averageUtilization (%)
PERIOD = 0.2  # seconds between the live HPA's decisions (Kubernetes: 15 s)
SERVICE = 0.005  # seconds each request occupies its pod: the lesson's 5 ms database wait

# (rule, current, utilizations in %, target in %): fl.HPA says what each should give.
CASES = [
    ("ceil(current × mean / target)", 3, [97, 95, 99], TARGET),
    ("ceil(current × mean / target)", 12, [40] * 12, TARGET),
    ("the mean is a whole percent, rounded down", 16, [95, 96] * 8, TARGET),
    ("no change within the tolerance", 10, [85] * 10, TARGET),
    ("no change within the tolerance", 10, [75, 76] * 5, TARGET),
    ("at most max(current + 4, 2 × current) a period", 3, [400, 400, 400], TARGET),
    ("at most max(current + 4, 2 × current) a period", 14, [400] * 14, TARGET),
    ("at most max(current + 4, 2 × current) a period", 5, [300] * 5, 50),
    ("never below min (3) or above max (30)", 10, [10] * 10, TARGET),
    ("never below min (3) or above max (30)", 28, [150] * 28, TARGET),
]
CAPPED_PATH = [3, 4, 5, 7, 9, 12, 15, 19, 24, 30]  # at 100% busy, target 80%: ×1.25 a period


def hpa_desired(desired, surge_seconds=3.0, seed=1):
    """Grade ``desired(current, utilizations, target) -> replicas`` (see the module doc):
    hand-worked cases against ``fl.HPA``, then beside the HPA of a lab of real pods under a
    seeded surge of ``surge_seconds``. Prints the verdict; returns True when every claim held."""
    if unanswered(NAME, desired):
        return False
    if not callable(desired):
        print(
            f"❌ {NAME}: desired must be a function desired(current, utilizations, target), "
            f"not {type(desired).__name__}"
        )
        return False
    report = Report(NAME)
    for rule in dict.fromkeys(rule for rule, *_ in CASES):
        wrong = []
        for _, current, utilizations, target in (c for c in CASES if c[0] == rule):
            expected = kubernetes(current, utilizations, target)
            got = _ask(desired, current, utilizations, target)
            if got != expected:
                wrong.append(
                    f"desired({current}, {_short(utilizations)}, {target}) gave {got}, Kubernetes: {expected}"
                )
        report.claim(rule, held=not wrong, detail="; ".join(wrong[:2]))
    path, n = [3], 0
    while isinstance(path[-1], int) and path[-1] < MAX and n < 20:
        path.append(_ask(desired, path[-1], [100] * path[-1], TARGET))
        n += 1
    report.claim(
        "at 100% busy (the lab's cap) it climbs 3 → 30 in 9 periods",
        held=path == CAPPED_PATH,
        detail=f"yours: {' → '.join(map(str, path[:12]))}",
    )
    _on_real_pods(report, desired, surge_seconds, seed)
    return report.show(
        hint="Take the rules one at a time, in order: mean (rounded down), tolerance, ceil, the "
        "scale-up limit, then [3, 30].",
        explain="Your function is the HPA's arithmetic; the lab's HPA and Kubernetes' do the same "
        "every period (15 s in a cluster).",
    )


def kubernetes(current, utilizations, target):
    """What Kubernetes' HPA (``fl.HPA``, min 3, max 30, no stabilization window) asks for."""
    import finpay_lab as fl

    hpa = fl.HPA(min=MIN, max=MAX, target=target / 100, scale_down_window=0.0)
    return hpa.decide(0.0, current, [u / 100 for u in utilizations]).new_replicas


def _on_real_pods(report, desired, seconds, seed):
    """The claim on real pods: the learner's function beside the lab's HPA, period by period."""
    import finpay_lab as fl

    hpa = fl.HPA(min=MIN, max=MAX, target=TARGET / 100, period=PERIOD, scale_down_window=1.0)
    surge = fl.load.salary_day(base=150, peak=10, seconds=seconds, mix={"add_balance": 1}, seed=seed)
    with fl.Lab(pods=MIN, app=_payment_api(), autoscaler=hpa) as lab:
        lab.run(surge)
    compared, wrong = 0, []
    for d in hpa.decisions:
        if not _only_these_rules(d):
            continue
        pct = round(d.utilization * 100)
        got = _ask(desired, d.replicas, [pct] * d.ready, TARGET)
        compared += 1
        if got != d.new_replicas:
            wrong.append(
                f"at {d.time:.1f} s, {d.ready} pods at {pct}%: yours {got}, the HPA {d.new_replicas}"
            )
    path = [hpa.decisions[0].replicas] if hpa.decisions else [MIN]
    path += [d.new_replicas for d in hpa.decisions if d.scaled]
    report.claim(
        f"beside the HPA of 3 real pods under a surge, it asks for what the HPA did at every "
        f"period these rules decide ({compared} of {len(hpa.decisions)})",
        held=not wrong,
        detail="; ".join(wrong[:2]) or f"the HPA went {' → '.join(map(str, path))}",
    )


def _only_these_rules(d):
    """A decision the five rules alone decide: all pods ready and measured, and no
    stabilization window holding a scale-down back."""
    if d.utilization is None or d.unready or d.missing or d.ready != d.replicas:
        return False
    if not MIN <= d.replicas <= MAX:
        return False
    pct = round(d.utilization * 100)
    if pct * 10 in (TARGET * 9, TARGET * 11):  # exactly on the tolerance's edge
        return False
    return d.desired >= d.replicas or d.new_replicas == MIN


def _ask(desired, current, utilizations, target):
    """The learner's answer, or what went wrong, in words (never an exception)."""
    try:
        got = desired(current, list(utilizations), target)
    except Exception as exc:  # the learner's code: say what it raised
        return f"an error ({type(exc).__name__}: {exc})"
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        return f"{got!r} (not a whole number of pods)"
    return got


def _short(values):
    return f"[{values[0]}] × {len(values)}" if len(set(values)) == 1 and len(values) > 3 else str(values)


def _payment_api():
    """The lesson's stand-in: ``add_balance`` waits 5 ms, as for a database, and keeps nothing."""
    import time

    import finpay_lab as fl

    app = fl.App("payment-api")

    @app.endpoint
    def add_balance(state, user: str, amount: int):
        time.sleep(SERVICE)
        return amount + 1000

    return app
