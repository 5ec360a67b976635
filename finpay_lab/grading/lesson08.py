"""Lesson 08's write-code exercise: a deposit that survives the primary's death.

    def deposit(state, key: str, amount: int):
        state.set(f"deposit:{key}", amount)
        ...                                    # answer "confirmed" only once a replica has it

    fl.checks.deposit_survives_failover(deposit)

The grader deploys the learner's handler on two pods of a lab whose Redis is a real
StatefulSet (``redis-0`` primary, ``redis-1`` and ``redis-2`` its replicas), and runs the
Jepsen experiment of the lesson on purpose, not by luck:

1. five deposits while the replicas are reachable: a safe handler confirms them (at least
   one: a handler that never confirms anything is safe, and useless); then the grader
   waits until both replicas have them, whatever the handler did;
2. a network partition (``store.pause_replication()``): the primary alone takes five more
   deposits; a replica can't have them, so a safe handler must *not* confirm them;
3. the primary dies, the partition heals, a replica is promoted (``store.failover()``);
4. every deposit the handler confirmed must be in the new primary.

Deterministic: in step 2 no replica can have the writes whatever the machine's speed, so
``WAIT`` always answers 0 there, and a handler that does not wait always confirms writes
that step 3 then loses. Every lab and store is closed before the verdict.
"""

import json
import shutil

from .report import Report, unanswered

__all__ = ["deposit_survives_failover"]

BEFORE = [f"before-{i}" for i in range(5)]  # deposits while the replicas are reachable
DURING = [f"during-{i}" for i in range(5)]  # ... and while the primary is cut off from them
CALL_TIMEOUT = 10.0  # seconds: a handler that waits forever (WAIT 1 0) is reported, not hung on


def _app(deposit):
    import finpay_lab as fl

    app = fl.App("deposits")
    app.endpoint(name="deposit")(deposit)
    return app


def _number(raw):
    """What ``state.set`` stored (JSON), or None for anything else."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def deposit_survives_failover(deposit) -> bool | None:
    """Grade ``deposit(state, key, amount)``: no deposit it confirmed may be lost on failover."""
    name = "Exercise 8.3"
    if unanswered(name, deposit):
        return None
    if not callable(deposit):
        print(
            f"❌ {name}: deposit must be a function deposit(state, key, amount), not {type(deposit).__name__}."
        )
        return False
    if shutil.which("redis-server") is None:
        print(
            f"⏭️  {name} needs redis-server (a real replicated Redis), which this machine lacks: "
            "apt-get install redis-server, or run the lesson on Binder."
        )
        return None
    import finpay_lab as fl

    try:
        app = _app(deposit)
    except (fl.LabError, TypeError, ValueError) as exc:  # not a handler the lab can deploy
        print(f"❌ {name}: the lab can't deploy this deposit handler: {exc}")
        return False
    report = Report(name)
    with fl.StatefulSet(replicas=3) as store, fl.Lab(pods=2, state="redis", redis=store, app=app) as lab:

        def send(key):
            return lab.call("deposit", key=key, amount=100, timeout=CALL_TIMEOUT)

        before = [send(key) for key in BEFORE]
        store.client().wait(2, 5000)  # the replicas have caught up (whatever the handler did)
        store.pause_replication()  # the partition: the replicas get nothing more
        during = [send(key) for key in DURING]
        store.kill("redis-0")
        store.resume_replication()
        promoted = store.failover()["new"]
        after = store.client()
        confirmed = [r.params["key"] for r in before + during if r.ok]
        kept = {key for key in BEFORE + DURING if after.get(f"deposit:{key}") is not None}
        stored = [key for key in BEFORE if after.get(f"deposit:{key}") is not None]
        values = [_number(v) for v in after.mget([f"deposit:{k}" for k in stored])]
        lost = [key for key in confirmed if key not in kept]
        errors = sorted({r.error for r in before + during if not r.ok})
    report.claim(
        "it stores each deposit under deposit:<key> (what the check reads after the failover)",
        held=bool(stored) and all(v == 100 for v in values),
        detail=f"{promoted} holds {len(stored)} of the {len(BEFORE)} deposits made before the partition",
    )
    report.claim(
        "it confirms deposits while the replicas are reachable",
        held=any(r.ok for r in before),
        detail=f"{sum(r.ok for r in before)} of {len(BEFORE)} confirmed"
        + (f"; it answered: {errors[0]}" if errors and not any(r.ok for r in before) else ""),
    )
    report.claim(
        "no deposit it confirmed was lost when the primary died",
        held=not lost,
        detail=f"{len(lost)} confirmed and lost: {', '.join(lost)}"
        if lost
        else f"{sum(r.ok for r in during)} of {len(DURING)} confirmed during the partition, "
        f"{len(confirmed)} confirmed in all, every one on {promoted}"
        if confirmed
        else "it confirmed nothing, so it had nothing to lose",
    )
    return report.show(
        hint="Before you answer, ask Redis whether a replica has the write: state.redis.wait(1, 500) returns how "
        "many replicas have every write so far; if none, raise fl.Rejected(...) instead of confirming.",
        explain="A confirmed deposit is on two machines before the customer hears 'done'.",
    )
