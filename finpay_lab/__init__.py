"""FinPay Lab: stateless vs stateful services, with real pods, real Redis, real crashes.

    import finpay_lab as fl
    with fl.Lab(pods=3, state="memory") as lab:
        lab.call("update_balance", amount=500)

The runtime is small on purpose; each module is one idea of the course:
``lab`` (the cluster), ``pods`` (processes), ``wire`` (the pipe), ``balancer``,
``state`` (memory vs Redis), ``redis_server``, ``app`` (your handlers), ``finpay`` (the
FinPay services) and ``history`` (what happened).
"""

from .app import App
from .balancer import HashRing, moved_users
from .errors import BadInput, LabError, PodStartError, RedisUnavailable, Rejected
from .history import History, PodEvent, Response, Run
from .lab import Lab
from .pods import PodInfo, this_pod
from .state import MemoryState, RedisState, State

__all__ = [
    "App",
    "BadInput",
    "HashRing",
    "History",
    "Lab",
    "LabError",
    "MemoryState",
    "PodEvent",
    "PodInfo",
    "PodStartError",
    "RedisState",
    "RedisUnavailable",
    "Rejected",
    "Response",
    "Run",
    "State",
    "moved_users",
    "this_pod",
]
__version__ = "0.1.0"

# The heavier parts load on first use, so a pod (which imports this package) never pays
# for matplotlib or ipywidgets: fl.load, fl.chaos, fl.plots, fl.dashboard(lab).
_LAZY_MODULES = {"load", "chaos", "plots", "audit", "checks", "finpay", "notifications"}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "dashboard":  # the function lives in live.py: a module of the same name
        # would replace it on the package as soon as it was imported
        return importlib.import_module(f"{__name__}.live").dashboard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
