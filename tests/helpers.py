"""Helpers more than one test file uses (the fixtures are in ``conftest.py``): the test
apps, a wait that only guards against hanging, and looks at processes through /proc."""

import multiprocessing
import os
import time
import warnings

import finpay_lab as fl

SERVICE = 0.01  # seconds each request of work_app takes inside a pod: a pod serves ≤ 100/s


def work_app():
    """``work(user)``: takes ``SERVICE`` seconds inside the pod, answers the user."""
    app = fl.App("work")

    @app.endpoint
    def work(state, user: str):
        time.sleep(SERVICE)
        return user

    return app


def kill_midway(lab, n=240, rps=160, victim="pod-2"):
    """An open-loop workload of work_app; a burst queues work on every pod, then ``victim``
    is killed (the generator runs on the lab's thread: this is allowed)."""
    kill_at = n // 2
    for i in range(n):
        if i == kill_at:
            lab.kill(victim)
        at = (kill_at - 12) / rps if kill_at - 12 <= i < kill_at else i / rps  # the burst
        yield at, "work", {"user": f"user{i % 7}"}


def slow_app():
    """``nap(seconds, mark)``: sleeps ``seconds`` (after creating the file ``mark``, if
    given: the test then knows the pod has read the request and is handling it);
    ``ping``: the name of the pod that answers."""
    app = fl.App("slow")

    @app.endpoint
    def nap(state, seconds: float = 0.5, mark: str = ""):
        if mark:
            open(mark, "w").close()
        time.sleep(seconds)
        return "rested"

    @app.endpoint
    def ping(state):
        return fl.this_pod().name

    return app


def wait_until(predicate, timeout=10.0):
    """True once ``predicate()`` holds, False after ``timeout`` s: guards against a hang only."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def alive(pid):
    """``pid`` runs at this instant (a zombie is dead too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def children(pid):
    """The pids of ``pid``'s children (its main thread's)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def fork_and_terminate():
    """Fork this process with ``multiprocessing`` (as a Pool with fork does: the lab's exit
    handlers and all), the child sleeping 30 s; SIGTERM it at once; its exit code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
        child.start()
    child.terminate()
    child.join(10)
    return child.exitcode


# ---------------------------------------------------------------- the soak tests
def soak_payments(lab, tokens, rng, payments, kill_every, most=300, key="soak-"):
    """``payments`` FinPay payments between the customers of ``tokens`` (user -> login
    token), as ``lab.run`` takes them: ₹1 to ``most`` each, keys ``key`` + their number.
    Before every ``kill_every``-th, a live pod chosen by the seeded ``rng`` is SIGKILLed,
    after waiting, if need be, for a replacement: never every pod down at once.
    ``lab.soak_kills`` counts the kills."""
    users = list(tokens)
    lab.soak_kills = 0
    for n in range(payments):
        if n and n % kill_every == 0:
            live = sorted(p.name for p in lab.pods if p.status in ("ready", "busy"))
            while len(live) < 2:
                time.sleep(0.02)
                live = sorted(p.name for p in lab.pods if p.status in ("ready", "busy"))
            lab.kill(rng.choice(live))
            lab.soak_kills += 1
        sender, receiver = rng.sample(users, 2)
        params = {"sender": sender, "receiver": receiver, "amount": rng.randint(1, most)}
        yield "pay", params | {"token": tokens[sender], "key": f"{key}{n}"}


def assert_books_balance(audit):
    """The audit's money checks, all of them: ₹0 created or lost, no payment applied twice,
    no balance below ₹0, no acknowledged payment lost, every balance what its books say."""
    expected = {
        "money_created": 0,
        "double_debits": [],
        "negative_balances": {},
        "lost_payments": [],
        "wrong_balances": {},
    }
    found = {name: getattr(audit, name) for name in expected}
    broken = {name: value for name, value in found.items() if value != expected[name]}
    assert not broken, f"the books do not balance: {broken}"
