"""Where state lives: ``state`` (the ``State`` a handler sees: pod memory or Redis),
``redis_server`` (the embedded fakeredis server or a real ``redis-server``),
``redis_auth`` (the password gate in front of the embedded one), ``sql`` (the SQL database
the pods share: SQLite or PostgreSQL) and ``postgres_server`` (the PostgreSQL server a lab
starts for itself).

Imports only ``runtime`` and the top-level ``errors``/``defaults``.
"""
