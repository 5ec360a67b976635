"""Checks of the arguments learners pass to the lab: each bad one is a ``BadInput`` whose
sentence says what to pass, raised before anything is sent or changed.

The bounds (``MAX_RUN_AT``, ``MAX_DEPTH``, ``MAX_TIMEOUT``...) live in ``finpay_lab/defaults.py`` with
their reasons.
"""

import multiprocess

from .. import defaults
from ..errors import BadInput
from .app import App
from .faults import Fault

STATE_KINDS = ("memory", "redis")
_ITEM = "(endpoint, params) or (at, endpoint, params), like ('balance', {'user': 'Ravi'})"


def check_endpoint(endpoint):
    if type(endpoint) is not str or not endpoint:
        raise BadInput(
            f"the endpoint must be a name like 'balance', not {type(endpoint).__name__} {endpoint!r:.40}"
        )
    if endpoint.startswith("__"):
        raise BadInput(
            f"{endpoint!r:.40}: names starting with '__' are the lab's own requests; "
            "use lab.peek(...) or lab.pod_stats(...)"
        )


def check_timeout(timeout, what="timeout"):
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= defaults.MAX_TIMEOUT
    ):
        raise BadInput(
            f"{what} must be seconds, more than 0 and at most {defaults.MAX_TIMEOUT:g}, like {what}=5; "
            f"not {timeout!r:.40}"
        )
    return timeout


def check_workload(workload):
    """A list or tuple is checked whole, before anything is sent; a generator's items are
    checked as they are drawn (it may act between items, e.g. kill a pod mid-run)."""
    if isinstance(workload, str | bytes | dict) or not hasattr(workload, "__iter__"):
        raise BadInput(
            f"workload must be a list of {_ITEM}, or a load shape like fl.load.constant(rps=100); "
            f"not {type(workload).__name__}"
        )
    if not isinstance(workload, list | tuple):
        return iter(workload), False
    for n, item in enumerate(workload):
        problem = item_problem(n, item)
        if problem:
            raise BadInput(problem)
    return workload, True


def item_problem(n, item):
    """What is wrong with item ``n`` of a run, in a sentence; None if nothing."""
    if type(item) not in (tuple, list) or len(item) not in (2, 3):
        return f"workload item {n} is {item!r:.60}: each item must be {_ITEM}"
    if len(item) == 3:
        at = item[0]
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= defaults.MAX_RUN_AT:
            return (
                f"workload item {n}: at={at!r:.40} must be seconds from 0 to {defaults.MAX_RUN_AT:g} "
                "into the run (the longest load shape)"
            )
    endpoint = item[-2]
    if type(endpoint) is not str or not endpoint or endpoint.startswith("__"):
        try:
            check_endpoint(endpoint)
        except BadInput as exc:
            return f"workload item {n}: {exc}"
    if type(item[-1]) is not dict:
        return (
            f"workload item {n}: params must be a dict like {{'user': 'Ravi'}}, not {type(item[-1]).__name__}"
        )
    return None


def check_depth(depth):
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= defaults.MAX_DEPTH:
        raise BadInput(
            f"depth must be a whole number of requests from 1 to {defaults.MAX_DEPTH}, not {depth!r:.40}"
        )


def check_chaos(chaos):
    if not isinstance(chaos, list | tuple) or not all(isinstance(f, Fault) for f in chaos):
        raise BadInput(
            f"chaos must be a list of faults, like [fl.chaos.kill('pod-2', after=100)], not {chaos!r:.60}"
        )


def check_wait(wait):
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= defaults.MAX_TIMEOUT:
        raise BadInput(
            f"wait must be seconds from 0 to {defaults.MAX_TIMEOUT:g}, like wait=10, not {wait!r:.40}"
        )


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | str)):
        raise BadInput(f"seed must be a whole number or a string (or None), not {type(seed).__name__}")


def check_start_method(method):
    if method is not None and method not in multiprocess.get_all_start_methods():
        raise BadInput(
            f"start method {method!r:.40} is not available here; use one of "
            f"{multiprocess.get_all_start_methods()} (or None for the default)"
        )


def check_state(state):
    if state not in STATE_KINDS:
        raise BadInput(f"state={state!r}: use 'memory' (each pod's own) or 'redis' (shared)")


def check_lab(pods, state, app, restart, sms_seconds, start_method, seed):
    """Every argument of ``fl.Lab(...)`` but ``balancer``, ``redis`` and ``accounts``."""
    check_count(pods, "pods")
    check_state(state)
    if app is not None and not isinstance(app, App):
        raise BadInput(f"app must be an fl.App (or None for the FinPay app), not {type(app).__name__}")
    if app is not None and not isinstance(getattr(app, "endpoints", None), dict):
        raise BadInput(
            f"{type(app).__name__}.__init__ must call super().__init__(name): this app has no endpoints table"
        )
    if not isinstance(restart, bool):
        raise BadInput(f"restart must be True or False, not {restart!r}")
    if (
        isinstance(sms_seconds, bool)
        or not isinstance(sms_seconds, int | float)
        or not 0 <= sms_seconds <= 60
    ):
        raise BadInput(f"sms_seconds must be between 0 and 60, not {sms_seconds!r}")
    check_start_method(start_method)
    check_seed(seed)


def check_count(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= defaults.MAX_PODS:
        raise BadInput(f"{what} must be a whole number of pods from 0 to {defaults.MAX_PODS}, not {n!r}")


def check_accounts(accounts):
    if accounts is None:
        return None
    if not isinstance(accounts, dict) or not accounts:
        raise BadInput("accounts must be a dict like {'Ravi': 20000, 'Landlord': 0}")
    for user, amount in accounts.items():
        if not isinstance(user, str) or not user or len(user) > 64:
            raise BadInput(f"account names must be non-empty strings, not {user!r}")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or not 0 <= amount <= defaults.MAX_OPENING_BALANCE
        ):
            raise BadInput(
                f"{user}'s opening balance must be whole rupees from 0 to "
                f"₹{defaults.MAX_OPENING_BALANCE:,}, not {amount!r}"
            )
    if sum(accounts.values()) > defaults.MAX_TOTAL_BALANCE:
        raise BadInput(
            f"the opening balances add up to ₹{sum(accounts.values()):,}: keep the total within "
            f"₹{defaults.MAX_TOTAL_BALANCE:,} (2**53 − 1), the most every store holds exactly"
        )
    return dict(accounts)
