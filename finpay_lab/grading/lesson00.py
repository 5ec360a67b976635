"""Lesson 00's write-code exercise: your first endpoint, run by every pod.

    def fee(state, amount: int):
        ...                                   # FinPay's fee on a payment of amount rupees
    fl.checks.first_endpoint(fee)

FinPay's fee is 1% of the amount in whole rupees (rounded down), and never less than ₹1.
The grader deploys ``fee`` as the only endpoint of an app on 3 pods, asks every pod for the
fee on the same six amounts, kills pod-2 (SIGKILL), and asks again through the balancer.
A fee depends only on the amount, so every pod must give the same, right answer, and the
two pods left must go on giving it: nothing was lost with pod-2, because it held nothing.
That is lesson 01's "stateless", met before it has a name.

Nothing here depends on timing: each request is sent after the previous reply.
"""

import inspect

from ..numbers import is_whole
from .deploy import endpoints_app
from .report import Report, unanswered

__all__ = ["first_endpoint"]

PODS = 3
SHAPE = "write it as def fee(state, amount): ... (the pod's state comes first)"
AMOUNTS = [5000, 12_345, 199, 100, 50, 250_000]  # rounded down, not to nearest (199); the ₹1 floor (50)


def right_fee(amount: int) -> int:
    """1% of ``amount``, rounded down to whole rupees, and at least ₹1."""
    return max(1, amount // 100)


def first_endpoint(fee) -> bool:
    """Exercise 0.3: deploy ``fee(state, amount)`` on 3 pods, ask each for six fees, kill
    pod-2, ask again, and check that every answer is the right fee whichever pod gave it."""
    if unanswered("Exercise 0.3 (the fee function)", fee):
        return False
    import finpay_lab as fl

    report = Report("Exercise 0.3")
    app = endpoints_app(report, "fees", {"fee": fee}, hint=SHAPE, check=_takes_amount)
    if app is None:
        return False

    with fl.Lab(pods=PODS, state="memory", app=app) as lab:
        names = [pod.name for pod in lab.pods]
        asked = [(a, lab.call("fee", amount=a, pod=name)) for name in names for a in AMOUNTS]
        lab.kill("pod-2")
        after = [(a, lab.call("fee", amount=a)) for a in AMOUNTS * 2]

    failed = [(a, r) for a, r in asked + after if not r.ok]
    report.claim(
        "every pod answered every amount",
        held=not failed,
        detail=f"for ₹{failed[0][0]:,} {failed[0][1].pod or 'the lab'} answered: {failed[0][1].error}"
        if failed
        else f"{len(asked)} answers from {', '.join(names)}",
    )
    if failed:
        return report.show(
            hint="your function raised an error on a pod: read the message above, fix it and run both cells again"
        )

    wrong = next(((a, r) for a, r in asked if not _right(r.value, a)), None)
    report.claim(
        "each fee is 1% of the amount rounded down to whole rupees, at least ₹1",
        held=wrong is None,
        detail=_wrong(*wrong)
        if wrong
        else ", ".join(f"₹{a:,} → ₹{right_fee(a):,}" for a in AMOUNTS[:4]) + ", ...",
    )
    by_amount = {}
    for a, r in asked:
        by_amount.setdefault(a, {})[r.pod] = r.value
    split = next(((a, said) for a, said in by_amount.items() if len(set(map(repr, said.values()))) > 1), None)
    report.claim(
        f"{', '.join(names)} give the same fee for the same amount",
        held=split is None,
        detail=f"for ₹{split[0]:,}: " + ", ".join(f"{p} said {v!r}" for p, v in split[1].items())
        if split
        else "",
    )
    served = sorted({r.pod for _, r in after})
    late = next(((a, r) for a, r in after if not _right(r.value, a)), None)
    report.claim(
        "after pod-2 was killed, the pods left go on giving the right fees",
        held=late is None and "pod-2" not in served,
        detail=_wrong(*late) if late else f"{len(after)} answers from {' and '.join(served)}",
    )
    return report.show(
        hint="in Python, // divides and rounds down to a whole number (199 // 100 is 1); "
        "then look at what your fee says for the smallest amounts",
        explain="A fee needs nothing but the amount, so any pod can answer and a killed pod "
        "takes nothing with it: lesson 01 calls that stateless.",
    )


def _takes_amount(fee):
    """TypeError unless ``fee`` takes the pod's state first, then ``amount``."""
    try:
        params = list(inspect.signature(fee).parameters)
    except ValueError as exc:  # a callable Python cannot read the parameters of
        raise TypeError(str(exc)) from None
    if "amount" not in params[1:]:
        raise TypeError(f"fee({', '.join(params)}) needs the pod's state first, then amount")


def _right(value, amount) -> bool:
    return is_whole(value) and value == right_fee(amount)


def _wrong(amount, reply) -> str:
    why = ""
    if not is_whole(reply.value):
        why = ": a fee is a whole number of rupees (an int)"
    elif reply.value < 1:
        why = ": the fee is never less than ₹1"
    elif reply.value == round(amount / 100):
        why = ": that is rounded to the nearest rupee, not down"
    return f"for ₹{amount:,} {reply.pod} answered {reply.value!r}; the fee is ₹{right_fee(amount):,}{why}"
