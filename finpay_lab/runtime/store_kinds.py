"""Where a lab's state can live, as the runtime knows it: by registration, not by import.

The runtime names the kinds (``state="memory"``: each pod's own; ``state="redis"``: one
store every pod shares) but builds none of them: ``stores/`` registers how (see
``finpay_lab/stores/__init__.py``, called by ``finpay_lab/__init__.py``):

* ``make_state(kind, url)``: the ``State`` a pod opens. The lab ships this function to
  every pod it starts, so the pod loop imports no store.
* ``make_server(spec)``: the lab's shared server (``redis="fake"`` or ``"real"``, or a
  URL). It only checks ``spec`` until the lab calls its ``start(workdir)``; it then has
  ``url``, ``safe_url``, ``pid``, ``kind``, ``running``, ``down()``, ``up()``,
  ``slow(seconds)`` and ``stop()``.
"""

from ..errors import LabError

_registered = {}


def register_stores(make_state, make_server):
    """Name how pods open their ``State`` and how a lab makes its shared server."""
    _registered.update(make_state=make_state, make_server=make_server)


def _get(name):
    if name not in _registered:
        raise LabError("no stores are registered: import finpay_lab (its __init__ registers them)")
    return _registered[name]


def make_server(spec):
    return _get("make_server")(spec)


def state_factory():
    """The function a pod calls to open its ``State``: ``make_state(kind, url)``."""
    return _get("make_state")
