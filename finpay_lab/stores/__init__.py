"""Where state lives: ``state`` (the ``State`` a handler sees: pod memory or Redis),
``redis_server`` (the embedded fakeredis server or a real ``redis-server``),
``redis_auth`` (the password gate in front of the embedded one), ``sql`` (the SQL database
the pods share: SQLite or PostgreSQL) and ``postgres_server`` (the PostgreSQL server a lab
starts for itself).

Imports only ``runtime`` and the top-level ``errors``/``defaults``.
"""


def register_kinds():
    """Hand the runtime its store kinds (``runtime/store_kinds.py``): how a pod opens its
    ``State``, how a lab makes its Redis server and its SQL database, and how a pod connects
    to that database. ``finpay_lab/__init__.py`` calls this."""
    from ..runtime.store_kinds import register_stores
    from .state import make_state

    register_stores(make_state, _redis_server, _database, _connect)


def _redis_server(spec, persistence="none"):
    from .redis_server import RedisServer  # loaded by the first lab, not by every pod

    return RedisServer(spec, persistence=persistence)


def _database(spec):
    from .sql import Database  # loaded by a lab given db=, not by every pod

    return Database(spec)


def _connect(url):
    from .sql import connect

    return connect(url)
