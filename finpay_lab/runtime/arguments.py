"""Checks of the arguments learners pass to the lab: each bad one is a ``BadInput`` whose
sentence says what to pass, raised before anything is sent or changed.

The bounds (``MAX_RUN_AT``, ``MAX_DEPTH``, ``MAX_TIMEOUT``...) live in ``finpay_lab/defaults.py`` with
their reasons.
"""

import multiprocess

from .. import defaults
from ..errors import BadInput
from .faults import Fault

_ITEM = "(endpoint, params) or (at, endpoint, params), like ('balance', {'user': 'Ravi'})"


def check_endpoint(endpoint):
    if type(endpoint) is not str or not endpoint:
        raise BadInput(f"the endpoint must be a name like 'balance', not {type(endpoint).__name__} {endpoint!r:.40}")
    if endpoint.startswith("__"):
        raise BadInput(f"{endpoint!r:.40}: names starting with '__' are the lab's own requests; "
                       "use lab.peek(...) or lab.pod_stats(...)")


def check_timeout(timeout, what="timeout"):
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= defaults.MAX_TIMEOUT:
        raise BadInput(f"{what} must be seconds, more than 0 and at most {defaults.MAX_TIMEOUT:g}, like {what}=5; "
                       f"not {timeout!r:.40}")
    return timeout


def check_workload(workload):
    """A list or tuple is checked whole, before anything is sent; a generator's items are
    checked as they are drawn (it may act between items, e.g. kill a pod mid-run)."""
    if isinstance(workload, str | bytes | dict) or not hasattr(workload, "__iter__"):
        raise BadInput(f"workload must be a list of {_ITEM}, or a load shape like fl.load.constant(rps=100); "
                       f"not {type(workload).__name__}")
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
            return (f"workload item {n}: at={at!r:.40} must be seconds from 0 to {defaults.MAX_RUN_AT:g} "
                    "into the run (the longest load shape)")
    endpoint = item[-2]
    if type(endpoint) is not str or not endpoint or endpoint.startswith("__"):
        try:
            check_endpoint(endpoint)
        except BadInput as exc:
            return f"workload item {n}: {exc}"
    if type(item[-1]) is not dict:
        return f"workload item {n}: params must be a dict like {{'user': 'Ravi'}}, not {type(item[-1]).__name__}"
    return None




def check_depth(depth):
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= defaults.MAX_DEPTH:
        raise BadInput(f"depth must be a whole number of requests from 1 to {defaults.MAX_DEPTH}, not {depth!r:.40}")


def check_chaos(chaos):
    if not isinstance(chaos, list | tuple) or not all(isinstance(f, Fault) for f in chaos):
        raise BadInput("chaos must be a list of faults, like [fl.chaos.kill('pod-2', after=100)], "
                       f"not {chaos!r:.60}")


def check_wait(wait):
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= defaults.MAX_TIMEOUT:
        raise BadInput(f"wait must be seconds from 0 to {defaults.MAX_TIMEOUT:g}, like wait=10, not {wait!r:.40}")


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | str)):
        raise BadInput(f"seed must be a whole number or a string (or None), not {type(seed).__name__}")


def check_start_method(method):
    if method is not None and method not in multiprocess.get_all_start_methods():
        raise BadInput(f"start method {method!r:.40} is not available here; use one of "
                       f"{multiprocess.get_all_start_methods()} (or None for the default)")
