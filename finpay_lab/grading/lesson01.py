"""Lesson 01's write-code exercise: a visit counter that every pod agrees on.

    def visit(state, user: str):
        ...                                   # the learner counts one more visit of user
    fl.checks.visit_counter(visit, state="redis")

The grader deploys ``visit`` as the only endpoint of an app on 3 pods with the store the
learner chose (``state="memory"`` or ``"redis"``), behind a *random* balancer (seeded, so
the same pods serve the same visits on every run). Ravi and Meena visit 12 times between
them; then each pod, asked directly, counts one more visit of Ravi's. A counter kept in a
pod (a global, or ``state`` in memory) answers with that pod's own count; a counter every
pod shares answers 1, 2, 3, ... whichever pod serves the visit.

Nothing here depends on timing: each visit is one request, sent after the previous reply.
"""

import random

from .deploy import check_store, endpoints_app
from .report import Report, unanswered

__all__ = ["visit_counter"]

PODS = 3
SEED = 13  # which pod serves which visit (and who visits): the same on every run
VISITS = 12
SHAPE = "write it as def visit(state, user): ... (the pod's state comes first)"


def visit_counter(visit, state=None) -> bool:
    """Exercise 1.3: deploy ``visit(state, user)`` on 3 pods behind a random balancer and
    check that every reply counts every earlier visit of that customer, on any pod."""
    if unanswered("Exercise 1.3 (the function and where=)", visit, state):
        return False
    import finpay_lab as fl

    check_store(state)
    report = Report("Exercise 1.3")
    app = endpoints_app(report, "visit-counter", {"visit": visit}, hint=SHAPE)
    if app is None:
        return False

    rng = random.Random(SEED)
    who = [rng.choice(["Ravi", "Ravi", "Meena"]) for _ in range(VISITS)]
    with fl.Lab(pods=PODS, state=state, balancer="random", seed=SEED, app=app) as lab:
        replies = [lab.call("visit", user=user) for user in who]
        last = [lab.call("visit", user="Ravi", pod=f"pod-{n}") for n in range(1, PODS + 1)]
    failed = [r for r in replies + last if not r.ok]
    report.claim(
        "every visit got an answer",
        held=not failed,
        detail=f"{failed[0].pod or 'the lab'} answered: {failed[0].error}"
        if failed
        else f"{len(replies + last)} of {len(replies + last)}",
    )
    if failed:
        return report.show(
            hint="your function raised an error on a pod: read the message above, fix it and run both cells again"
        )

    seen, wrong, served = {}, None, {}
    for n, (user, reply) in enumerate(zip(who, replies, strict=True), 1):
        seen[user] = seen.get(user, 0) + 1
        served.setdefault(reply.pod, []).append(n)
        if wrong is None and reply.value != seen[user]:
            wrong = (n, user, seen[user], reply)
    if wrong is None:
        detail = f"{VISITS} visits, served by " + ", ".join(
            f"{pod} ({len(ns)})" for pod, ns in sorted(served.items())
        )
    else:
        n, user, expected, reply = wrong
        detail = (
            f"visit {n} was {user}'s visit number {expected}; {reply.pod} answered {reply.value!r}"
            + _why(reply.value, expected)
        )
    report.claim(
        "each answer counts every earlier visit of that customer, whichever pod served it",
        held=wrong is None,
        detail=detail,
    )

    expected = [seen.get("Ravi", 0) + n for n in range(1, PODS + 1)]
    said = [r.value for r in last]
    report.claim(
        "asked one after another, pod-1, pod-2 and pod-3 agree on Ravi's count",
        held=said == expected,
        detail=", ".join(f"{r.pod} said {r.value!r}" for r in last)
        + (
            f"; one shared count would say {expected[0]}, {expected[1]}, {expected[2]}"
            if said != expected
            else ""
        ),
    )
    return report.show(
        hint="keep the count where every pod sees it: state.incr(...) on a key per customer, in a lab with "
        "state='redis' (a global, or state in memory, is one count per pod)",
        explain="The count lives outside the pods, in Redis, so any pod can serve any visit.",
    )


def _why(value, expected):
    if isinstance(value, bool) or not isinstance(value, int):
        return ": a count is a whole number"
    if value < expected:
        return ": that pod had not seen all the earlier ones"
    return ": it counted visits that were not this customer's"
