"""Where a lab's state can live, as the runtime knows it: by registration, not by import.

The runtime names the kinds (``state="memory"``: each pod's own; ``state="redis"``: one
store every pod shares) but builds none of them: ``stores/`` registers how (see
``finpay_lab/stores/__init__.py``, called by ``finpay_lab/__init__.py``):

* ``make_state(kind, url)``: the ``State`` a pod opens. The lab ships this function to
  every pod it starts, so the pod loop imports no store.
* ``make_server(spec)``: the lab's shared server (``redis="fake"`` or ``"real"``, or a
  URL). It only checks ``spec`` until the lab calls its ``start(workdir)``; it then has
  ``url``, ``safe_url``, ``pid``, ``kind``, ``running``, ``down()``, ``up()``,
  ``slow(seconds)`` and ``stop()``. ``make_server(spec, persistence)``: ``"none"`` or
  ``"aof"`` (an append-only file), checked with the spec.
* ``make_database(spec)``: the lab's SQL database (``db="sqlite"``, ``"postgres"`` or a
  URL; ``stores/sql.py``). It only checks ``spec`` until the lab calls ``start(workdir)``;
  it then has ``url``, ``safe_url``, ``kind``, ``sql(query, **params)`` and ``stop()``.
* ``connect_database(url)``: how a pod opens its one connection to that database (its
  ``transaction()`` gives the ``db`` a handler names).
"""

from ..errors import LabError

_registered = {}


def register_stores(make_state, make_server, make_database=None, connect_database=None):
    """Name how pods open their ``State``, how a lab makes its shared server and its
    database, and how a pod connects to that database."""
    _registered.update(make_state=make_state, make_server=make_server)
    if make_database is not None:
        _registered.update(make_database=make_database, connect_database=connect_database)


def _get(name):
    if name not in _registered:
        raise LabError("no stores are registered: import finpay_lab (its __init__ registers them)")
    return _registered[name]


def make_server(spec, persistence="none"):
    return _get("make_server")(spec, persistence)


def make_database(spec):
    return _get("make_database")(spec)


def connect_database(url):
    return _get("connect_database")(url)


def state_factory():
    """The function a pod calls to open its ``State``: ``make_state(kind, url)``."""
    return _get("make_state")
