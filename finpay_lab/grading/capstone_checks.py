"""The capstone's promises, judged from what the harness saw (``capstone_run.Observed``).

Each promise of the brief becomes one claim of the report, kept or broken, and each broken
one says **why** in the words of the course: which step broke it, which pod held what was
lost, and what that tells about where the state lived. The causes are read from the
outside too: a receipt that pod-1 gave and pod-3 does not know lived in pod-1's memory; one
that no pod knows after the Redis crash lived in a Redis without persistence.
"""

from collections import defaultdict

GROUPS = 3  # the reasons shown for one promise, one per step and cause; the rest in one line


def judge(report, seen, spec):
    """Record the receipts spec's six promises as claims of ``report``; returns the
    reasons (sentences) for what broke."""
    steps = {s.number: s for s in seen.steps}
    why = []
    _answered(report, seen, why)
    _retries(report, seen, why)
    _receipts(report, seen, steps, why)
    _balances(report, seen, steps, spec, why)
    _sms(report, seen, steps, why)
    _overdraft(report, seen, why)
    return why


def _rupees(n):
    return f"₹{n:,}" if isinstance(n, int) else repr(n)


def _step(steps, n):
    return f"step {n} ({steps[n].title})" if n in steps else f"step {n}"


def _answered(report, seen, why):
    total = len(seen.paid) + len(seen.unanswered) + len(seen.refused)
    bad = [(s, e, p, err) for s, e, p, err in seen.unanswered] + [
        (s, "pay", p, err) for s, p, err in seen.refused
    ]
    report.claim(
        "every payment within the balance was answered with its receipt",
        held=not bad,
        detail=f"{len(bad)} of {total} failed" if bad else f"{len(seen.paid)} payments",
    )
    if bad:
        step, endpoint, params, error = min(bad, key=lambda b: b[0])
        why.append(f"At step {step}, {endpoint}({_params(params)}) failed: {error}")


def _params(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _retries(report, seen, why):
    charged = [r for r in seen.retries if r["charged"] != 0]
    different = [r for r in seen.retries if not r["same"]]
    broken = len({r["key"] for r in charged + different})
    report.claim(
        "a payment sent again (same key, another pod) charged nothing more and gave the same receipt",
        held=seen.retries and not broken,
        detail=f"{broken} of {len(seen.retries)} retries paid again or answered another receipt"
        if broken
        else f"{len(seen.retries)} retries",
    )
    if charged:
        r = charged[0]
        how = "a second time" if r["charged"] == r["amount"] else f"{_rupees(r['charged'])} more"
        why.append(
            f"{len(charged)} of {len(seen.retries)} retries charged the customer again: {r['user']}'s "
            f"payment {r['key']!r} ({_rupees(r['amount'])}), answered by {r['first']}, was sent again to "
            f"{r['pod']}, which took the money {how}: {r['pod']} did not find the key. Remember the key "
            "with the payment, in the same step, where every pod looks."
        )
    elif different:
        r = different[0]
        why.append(
            f"{len(different)} retries answered a receipt that is not the first one: {r['key']!r} sent "
            f"again to {r['pod']}. The same key should give back the same receipt."
        )


def _receipts(report, seen, steps, why):
    groups = defaultdict(list)
    for key, (step, reader, answered) in seen.missing.items():
        p = seen.paid[key]
        groups[_lost(p, step, steps, reader)].append((p.pod, reader, answered))
    lost = len(seen.missing)
    report.claim(
        "every receipt, once given, could be read back from any pod after every step",
        held=not lost,
        detail=f"{lost} of {len(seen.paid)} receipts lost" if lost else f"{len(seen.paid)} receipts",
    )
    groups = sorted(groups.items())
    for (step, kind), found in groups[:GROUPS]:
        why.append(
            f"{_count(found, 'receipt')} lost at {_step(steps, step)}: " + _because(kind, found, steps[step])
        )
    _more(groups, "receipt", why)


def _more(groups, word, why):
    """One line for the groups past the first GROUPS."""
    rest = groups[GROUPS:]
    if rest:
        n = sum(len(found) for _, found in rest)
        at = sorted({step for (step, _), _ in rest})
        where = f"step {at[0]}" if len(at) == 1 else f"steps {', '.join(map(str, at[:-1]))} and {at[-1]}"
        why.append(f"{_count(range(n), word)} more lost at {where}, in the same ways")


def _count(items, word):
    return f"{len(items)} {word}" + ("" if len(items) == 1 or word.endswith("S") else "s")


def _names(pods):
    pods = sorted(set(pods), key=_pod_order)
    if len(pods) > 4:
        return f"{len(pods)} pods ({pods[0]} … {pods[-1]})"
    return ", ".join(pods[:-1]) + " and " + pods[-1] if len(pods) > 1 else pods[0]


def _pod_order(name):
    digits = "".join(c for c in str(name) if c.isdigit())
    return (int(digits) if digits else 0, str(name))


def _lost(payment, step, steps, reader):
    """What lost a receipt found missing at ``step``: every step ends with a look at every
    receipt, so the cause is what happened at that step."""
    here = steps[step]
    if payment.pod in here.removed:
        return step, "removed"
    if here.redis_crashed and payment.step < step:
        return step, "redis"
    return step, "elsewhere" if reader not in (None, payment.pod) else "odd"


def _because(kind, found, step, what="they"):
    writers = _names([w for w, _, _ in found])
    one = len({w for w, _, _ in found}) == 1
    if kind == "removed":
        how = step.removed[found[0][0]]
        return f"{writers} {'was' if one else 'were'} {how}, and {what} lived in {'its' if one else 'their'} memory"
    if kind == "redis":
        return (
            f"{what} were in Redis, which crashed and came back empty: Redis without persistence forgets "
            "everything (keep them in the database, or use redis='real', redis_persistence='aof')"
        )
    if kind == "elsewhere":
        readers = _names([r for _, r, _ in found])
        return (
            f"{writers} gave them; asked later, {readers} had no such receipt: {what} lived in the memory "
            "of the pod that took the payment, which no other pod can see"
        )
    _, reader, answered = found[0]
    return f"{reader} answered {answered!r:.60} for a receipt it had given"


def _balances(report, seen, steps, spec, why):
    wrong = seen.balances
    report.claim(
        f"every balance was {_rupees(spec.opening)} minus the customer's payments, on every pod, "
        "after every step",
        held=not wrong,
        detail=f"{len(wrong)} wrong answers" if wrong else "",
    )
    if wrong:
        step, user, pod, said, right = wrong[0]
        if not isinstance(said, int) or isinstance(said, bool):
            cause = f"it answered {said!r:.80}"
        elif said < right:
            cause = (
                f"{_rupees(right - said)} too little: it took money it did not acknowledge, or took it twice"
            )
        else:
            cause = f"{_rupees(said - right)} too much: {pod} did not count all of {user}'s payments"
            if steps[step].redis_crashed:
                cause += ": Redis had just crashed and come back empty"
        why.append(
            f"After {_step(steps, step)}, {user}'s balance on {pod} was {_rupees(said)} where "
            f"{_rupees(right)} was right ({cause}); {_count(wrong, 'wrong answer')} in all."
        )


def _sms(report, seen, steps, why):
    unsent = [p for key, p in seen.paid.items() if key not in seen.sms]
    again = sum(n - 1 for n in seen.sms.values())
    detail = f"{len(unsent)} of {len(seen.paid)} never sent" if unsent else f"{len(seen.sms)} sent"
    if again:
        detail += f"; {again} sent again, which at least once allows"
    report.claim(
        "every payment's SMS was sent at least once", held=not unsent and not seen.sms_problems, detail=detail
    )
    groups = defaultdict(list)
    for p in unsent:
        later = [r for r in seen.sms_rounds if r > p.step] or seen.sms_rounds[-1:] or [max(steps)]
        step = later[0]  # the SMS worker's first round after the payment: what came before it lost it
        kind = (
            "removed" if p.pod in steps[step].removed else "redis" if steps[step].redis_crashed else "never"
        )
        groups[step, kind].append((p.pod, None, None))
    groups = sorted(groups.items())
    for (step, kind), found in groups[:GROUPS]:
        because = "next_sms never handed them out" if kind == "never" else _because(kind, found, steps[step])
        why.append(f"{_count(found, 'SMS')} never sent, lost at {_step(steps, step)}: " + because)
    _more(groups, "SMS", why)
    for step, pod, problem in seen.sms_problems[:2]:
        why.append(f"At {_step(steps, step)}, the SMS worker on {pod}: {problem}")


def _overdraft(report, seen, why):
    o = seen.overdraft
    refused = o.get("refused") and o.get("cause") == "rejected"
    report.claim(
        "an overdraft was refused with fl.Rejected",
        held=refused,
        detail=f"{o['user']} had {_rupees(o['amount'] - 1)} and asked for {_rupees(o['amount'])}"
        if o
        else "",
    )
    if o and not o["refused"]:
        why.append(
            f"{o['pod']} let {o['user']} pay {_rupees(o['amount'])}, ₹1 more than their balance: it did not "
            "see all of their payments, or did not check."
        )
    elif o and not refused:
        why.append(f"The overdraft failed, but not with fl.Rejected: {o['error']}")
