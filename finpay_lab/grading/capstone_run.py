"""The capstone's scenario: a learner's service on real pods, through a bad day, step by step.

Every step is one thing that happens to a real service, then a look from the outside:

1. payments            customers pay (a ``lab.run``: several requests in flight per pod)
2. retries             a client whose reply got lost sends the same payment again, to another pod
3. the chaos monkey    SIGKILLs one pod (chosen from the seed); a ReplicaSet replaces it
4. Redis crash         the lab's Redis is SIGKILLed and restarted (skipped without a Redis)
5. rolling update      every pod replaced by a new one (``lab.rollout()``)
6. salary day          3 → 30 pods
7. an overdraft        one customer asks for more than they have

After each step's fault the harness makes the rounds of an SMS worker (it sends every SMS
the service hands out, so each fault finds the previous step's SMS still queued, as a real
backlog would be); after its payments it reads back every receipt it was given and every
customer's balance on every pod. What it notes is ``Observed``: facts, with the step and the pod of each; ``capstone_checks.py``
turns them into promises kept or broken, with their causes.

**Deterministic.** Faults strike between requests, never during one: a kill comes when
nothing is in flight, at a request count, on a pod chosen from the seed. Payments are
drawn from the seed; the balancer is round robin. So the same app and seed give the same
report on a fast laptop and on a loaded CI runner. (A pod killed mid-request, whose
payment is then "in doubt", is lesson 07's case; here the retries are sent on purpose.)
"""

import random
from collections import Counter
from dataclasses import dataclass, field

# A request that failed for one of these may have been lost on the way: a client retries it.
TRANSIENT = {"crashed", "timeout", "store_unavailable", "no_pod", "shutting_down"}
TRIES = 4  # a patient client: the first try and three retries
PAYMENTS = {
    "payments": 24,
    "retries": 12,
    "monkey": 24,
    "redis crash": 12,
    "rolling update": 12,
    "salary day": 48,
}
RETRIED = 6  # payments the client sends again in step 2 (one per customer)
WORKER = "capstone-sms"


@dataclass
class Step:
    number: int
    title: str
    what: str  # what happened, in words ("the monkey killed pod-2 after request 61")
    removed: dict = field(default_factory=dict)  # pod -> how it went ("killed", "replaced")
    redis_crashed: bool = False


@dataclass
class Payment:
    key: str
    user: str
    amount: int
    pod: str  # the pod that answered it
    step: int
    receipt: object = None


@dataclass
class Observed:
    """What the harness saw, step by step."""

    steps: list = field(default_factory=list)
    paid: dict = field(default_factory=dict)  # key -> Payment (answered ok)
    unanswered: list = field(default_factory=list)  # (step, endpoint, params, error) after every retry
    refused: list = field(
        default_factory=list
    )  # (step, Payment-like params, error): a payment within budget refused
    retries: list = field(default_factory=list)  # dicts: key, user, amount, first, pod, same, charged
    missing: dict = field(default_factory=dict)  # key -> (step, reader pod, what it answered)
    balances: list = field(default_factory=list)  # (step, user, pod, seen, expected) that disagreed
    sms: Counter = field(default_factory=Counter)  # payment key -> times sent
    sms_rounds: list = field(default_factory=list)  # the steps at which the SMS worker made a round
    sms_problems: list = field(default_factory=list)  # (step, pod, what went wrong)
    overdraft: dict = field(default_factory=dict)
    requests: int = 0


class Scenario:
    """One capstone run against ``lab``, for ``spec``, drawn from ``seed``."""

    def __init__(self, lab, spec, seed):
        self.lab, self.spec = lab, spec
        self.rng = random.Random(f"capstone:{spec.name}:{seed}")
        self.seen = Observed()
        self.count = 0  # payments drawn so far (keys are numbered)

    # ------------------------------------------------------------ the day
    def play(self):
        """The day. Each step: its fault, the SMS worker's round, payments, a look back."""
        lab = self.lab
        self.step("payments", f"{PAYMENTS['payments']} payments on 3 pods")
        self.pay(PAYMENTS["payments"])
        self.look()

        self.step(
            "retries",
            f"{RETRIED} clients lost their reply and sent the same payment again, to another "
            f"pod; {PAYMENTS['retries']} new payments",
        )
        self.send_sms()
        self.retry(RETRIED)
        self.pay(PAYMENTS["retries"])
        self.look()

        victim = random.Random(f"{lab.seed}:monkey").choice(self.live())
        lab.record_event(victim, "fault", f"capstone: the chaos monkey kills {victim} (SIGKILL)")
        lab.kill(victim)
        lab.scale(3)  # the ReplicaSet replaces it, under a new name
        step = self.step(
            "monkey", f"the chaos monkey killed {victim} after {self.requests()}; a new pod took its place"
        )
        step.removed[victim] = "killed by the chaos monkey"
        self.day(PAYMENTS["monkey"])

        if lab.state == "redis" and lab.redis.process is not None:
            lab.record_event(None, "fault", "capstone: redis crash (SIGKILL)")
            lab.redis.crash()
            kept = "replayed its append-only file" if lab.redis.persistence == "aof" else "came back empty"
            step = self.step("redis crash", f"Redis was SIGKILLed after {self.requests()} and {kept}")
            step.redis_crashed = lab.redis.persistence != "aof"
        else:
            self.step("no redis crash", "skipped: this lab has no Redis (state='memory')")
        self.day(PAYMENTS["redis crash"])

        before = set(self.live())
        lab.rollout()
        step = self.step("rolling update", f"a rolling update replaced every pod after {self.requests()}")
        step.removed.update({pod: "replaced in the rolling update" for pod in before - set(self.live())})
        self.day(PAYMENTS["rolling update"])

        lab.scale(30)
        self.step("salary day", f"3 → 30 pods after {self.requests()}")
        self.day(PAYMENTS["salary day"])

        self.step("overdraft", "a customer asked for more than their balance; the SMS worker's last round")
        self.overdraw()
        self.look()
        self.send_sms()
        self.seen.requests = self.lab.history.total
        return self.seen

    def day(self, payments):
        """After a step's fault: the SMS worker's round (what was queued before the fault),
        then new payments, then a look back at everything."""
        self.send_sms()
        self.pay(payments)
        self.look()

    def step(self, title, what):
        step = Step(len(self.seen.steps) + 1, title, what)
        self.seen.steps.append(step)
        return step

    # ------------------------------------------------------------ a client
    def requests(self):
        """Payments asked for so far: the clock the steps are told by (a request count would
        include retries after a Redis crash, which depend on how the pods' clients noticed)."""
        return f"{self.count} payments"

    def live(self):
        return [p.name for p in self.lab.pods if p.status in ("ready", "busy")]

    def call(self, endpoint, pod=None, **params):
        """One request, retried (same parameters) while it fails in a way a client retries."""
        for _ in range(TRIES):
            r = self.lab.call(endpoint, pod=pod, **params)
            if r.ok or r.cause not in TRANSIENT:
                return r
        return r

    def settle(self, run):
        """The final answer to each request of ``run``, in the order they were sent (not the
        order they were answered in, which depends on the machine): the failed ones retried,
        as clients would."""
        sent = sorted(run.requests, key=lambda r: r.id)
        return [r if r.ok or r.cause not in TRANSIENT else self.call(r.endpoint, **r.params) for r in sent]

    def expected(self, user):
        return self.spec.opening - sum(p.amount for p in self.seen.paid.values() if p.user == user)

    # ------------------------------------------------------------ what it does
    def pay(self, n):
        """``n`` payments, in waves of one payment per customer: a customer pays from one
        phone, one payment at a time, so no two payments of one customer are ever in flight
        together (a race between them is lesson 06's, and would make the verdict luck)."""
        users = self.spec.customers
        work = []
        for _ in range(n):
            self.count += 1
            user = users[self.count % len(users)]
            key = f"{user.lower()}-{self.count}"
            work.append(("pay", {"user": user, "amount": self.rng.choice(self.spec.amounts), "key": key}))
        now = len(self.seen.steps)
        for start in range(0, len(work), len(users)):
            for r in self.settle(self.lab.run(work[start : start + len(users)])):
                self.record_payment(r, now)

    def record_payment(self, r, step):
        p = r.params
        payment = Payment(p["key"], p["user"], p["amount"], r.pod, step, r.value)
        if r.ok and not _same_receipt(r.value, payment):
            self.seen.unanswered.append(
                (step, "pay", p, f"it answered {r.value!r:.60}, not the payment's receipt")
            )
        elif r.ok:
            self.seen.paid[p["key"]] = payment
        elif r.cause == "rejected":
            self.seen.refused.append((step, p, r.error))
        else:
            self.seen.unanswered.append((step, "pay", p, r.error))

    def retry(self, n):
        """The same payment again, sent to the next pod after the one that answered it."""
        step = len(self.seen.steps)
        first_of = {}
        for p in self.seen.paid.values():
            first_of.setdefault(p.user, p)
        for p in list(first_of.values())[:n]:
            pods = self.live()
            pod = pods[(pods.index(p.pod) + 1) % len(pods)] if p.pod in pods else pods[0]
            before = self.call("balance", pod=pod, user=p.user)
            again = self.call("pay", pod=pod, user=p.user, amount=p.amount, key=p.key)
            after = self.call("balance", pod=pod, user=p.user)
            if not again.ok:
                self.seen.unanswered.append((step, "pay (the retry)", again.params, again.error))
                continue
            charged = before.value - after.value if _numbers(before, after) else None
            self.seen.retries.append(
                {
                    "key": p.key,
                    "user": p.user,
                    "amount": p.amount,
                    "first": p.pod,
                    "pod": pod,
                    "same": _same_receipt(again.value, p),
                    "charged": charged,
                }
            )

    def overdraw(self):
        step = len(self.seen.steps)
        user = self.rng.choice(self.spec.customers)
        amount = self.expected(user) + 1
        self.count += 1
        r = self.call("pay", user=user, amount=amount, key=f"{user.lower()}-{self.count}")
        self.seen.overdraft = {
            "user": user,
            "amount": amount,
            "refused": not r.ok,
            "pod": r.pod,
            "error": r.error,
            "cause": r.cause,
        }
        if r.ok:  # the money went: from now on the books should show it
            self.seen.paid[r.params["key"]] = Payment(r.params["key"], user, amount, r.pod, step, r.value)

    def look(self):
        """Read back every receipt (through the balancer) and every balance on every pod."""
        step = len(self.seen.steps)
        keys = [k for k in self.seen.paid if k not in self.seen.missing]
        if keys:
            for r in self.settle(self.lab.run([("receipt", {"key": k}) for k in keys])):
                p = self.seen.paid[r.params["key"]]
                if not (r.ok and _same_receipt(r.value, p)):
                    self.seen.missing[p.key] = (step, r.pod, r.value if r.ok else r.error)
        for user in self.spec.customers:
            want = self.expected(user)
            for pod in self.live():
                r = self.call("balance", pod=pod, user=user)
                if not (r.ok and r.value == want):
                    self.seen.balances.append((step, user, pod, r.value if r.ok else r.error, want))

    def send_sms(self):
        """Be the SMS worker on every live pod: take, send, confirm, until there's nothing.
        The round stops at the first thing that goes wrong (it is noted)."""
        step = len(self.seen.steps)
        self.seen.sms_rounds.append(step)
        cap = len(self.seen.paid) + 10
        for pod in self.live():
            problem = self.sms_round(pod, cap)
            if problem:
                self.seen.sms_problems.append((step, pod, problem))
                return

    def sms_round(self, pod, cap):
        """Drain ``pod``'s SMS; what went wrong, or None."""
        for _ in range(cap):
            r = self.call("next_sms", pod=pod, worker=WORKER)
            if not r.ok:
                return f"next_sms failed: {r.error}"
            if r.value is None:
                return None
            if not isinstance(r.value, dict) or "id" not in r.value or "key" not in r.value:
                return f"next_sms answered {r.value!r:.60}, not a dict with 'id' and 'key' (or None)"
            self.seen.sms[r.value["key"]] += 1
            done = self.call("sms_sent", pod=pod, sms_id=r.value["id"])
            if not done.ok:
                return f"sms_sent failed: {done.error}"
        return f"next_sms still had messages after {cap}: does sms_sent stop it handing out the same one?"


def _numbers(*responses):
    return all(r.ok and isinstance(r.value, int) and not isinstance(r.value, bool) for r in responses)


def _same_receipt(value, payment):
    """A receipt the harness recognises: the payment's key, customer and amount."""
    if not isinstance(value, dict):
        return False
    return (value.get("key"), value.get("user"), value.get("amount")) == (
        payment.key,
        payment.user,
        payment.amount,
    )
