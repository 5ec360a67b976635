"""FinPay Lab: stateless vs stateful services, with real pods, real Redis, real crashes.

    import finpay_lab as fl
    with fl.Lab(pods=3, state="memory") as lab:
        lab.call("update_balance", amount=500)

The runtime is small on purpose; each module is one idea of the course, and the folders
are its layers, each importing only those above it in this list:

* ``runtime/``: ``lab`` (the cluster), ``loop`` (its event loop), ``runner`` (a run),
  ``replicas`` (scaling), ``shutdown``, ``pods`` (processes), ``pod_loop`` (inside a pod), ``guardian``,
  ``wire`` (the pipe), ``balancer``, ``app`` (your handlers), ``history`` (what happened)
* ``stores/``: ``state`` (memory vs Redis), ``redis_server`` (with ``redis_fake``,
  ``redis_real``), ``redis_auth``, ``statefulset`` (with ``statefulset_pods``)
* ``services/``: ``finpay`` (the FinPay services), ``auth``, ``notifications``, ``audit``
* ``experiments/``: ``load`` and ``chaos``
* ``views/``: ``plots`` and ``live`` (the dashboard)
"""

from .errors import (
    BadInput,
    DatabaseError,
    DatabaseUnavailable,
    LabError,
    PodStartError,
    RedisUnavailable,
    Rejected,
)
from .runtime.app import App
from .runtime.app import register_default_app as _register_default_app
from .runtime.autoscaler import HPA
from .runtime.balancer import HashRing, moved_users
from .runtime.history import History, PodEvent, Response, Run
from .runtime.lab import Lab
from .runtime.pod_loop import this_pod
from .runtime.pods import PodInfo, PodStatus
from .runtime.points import crash_point, pause_point
from .stores import register_kinds as _register_store_kinds
from .stores.state import MemoryState, RedisState, State

__all__ = [
    "App",
    "BadInput",
    "DatabaseError",
    "DatabaseUnavailable",
    "HPA",
    "HashRing",
    "History",
    "Lab",
    "LabError",
    "MemoryState",
    "PodEvent",
    "PodInfo",
    "PodStatus",
    "PodStartError",
    "RedisState",
    "RedisUnavailable",
    "Rejected",
    "Response",
    "Run",
    "State",
    "StatefulSet",
    "crash_point",
    "moved_users",
    "pause_point",
    "this_pod",
]
__version__ = "0.1.0"


def _finpay_app():
    from .services.finpay import app

    return app


# fl.Lab(app=None) runs the FinPay app; the runtime asks for it, never imports it.
_register_default_app(_finpay_app)
# The lab's store kinds (how a pod opens its State, how a lab makes its Redis): stores/ hands them over.
_register_store_kinds()

# The heavier parts load on first use, so a pod (which imports this package) never pays
# for matplotlib or ipywidgets: fl.load, fl.chaos, fl.plots, fl.dashboard(lab).
# Each name maps to its module's path inside the package.
_LAZY_MODULES = {
    "load": "experiments.load",
    "chaos": "experiments.chaos",
    "plots": "views.plots",
    "audit": "services.audit",
    "checks": "checks",
    "finpay": "services.finpay",
    "notifications": "services.notifications",
    "manifests": "views.manifests",
    "serve": "serve",
}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{_LAZY_MODULES[name]}")
    if name == "StatefulSet":  # replicated redis-server pods (stores/statefulset.py)
        globals()[name] = importlib.import_module(f"{__name__}.stores.statefulset").StatefulSet
        return globals()[name]
    if name == "dashboard":  # the function lives in views/live.py
        return importlib.import_module(f"{__name__}.views.live").dashboard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
