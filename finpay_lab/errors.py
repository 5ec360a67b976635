"""The lab's exceptions, in one place.

    LabError                  anything the lab itself refuses or cannot do
    ├── BadInput              a wrong argument to a Lab method (ValueError too)
    ├── PodStartError         a pod did not start or did not say "ready" in time
    ├── RedisUnavailable      the Redis server could not be started or reached
    ├── DatabaseUnavailable   the SQL database could not be started or reached
    └── DatabaseError         a SQL statement failed (it carries the database's own message),
                              or a request's transaction was used after its request ended
    Rejected                  raised by a handler: the request is refused, nothing changes

A handler's exceptions never reach the notebook as exceptions: they come back as
``Response(ok=False, error=...)``, because in a real system a pod's error is an HTTP 4xx/5xx
for the caller, not a crash of the caller.
"""


class LabError(RuntimeError):
    """Something the lab itself could not do. Its message says what happened and what to do."""

    def _render_traceback_(self):
        """IPython/Jupyter show these lines instead of the whole traceback: the learner
        needs the sentence, not the lab's internals. Plain Python is unchanged."""
        return [f"{type(self).__name__}: {self}"]


class BadInput(LabError, ValueError):
    """A wrong argument to a Lab method; the lab is unchanged."""


class PodStartError(LabError):
    """A pod did not start or did not become ready in time."""


class RedisUnavailable(LabError):
    """The Redis server could not be started or reached."""


class DatabaseUnavailable(LabError):
    """The SQL database (SQLite file or PostgreSQL server) could not be started or reached."""


class DatabaseError(LabError):
    """A SQL statement failed, with the database's own message; or a transaction was used
    after its request ended. ``integrity`` is True when a constraint said no (a CHECK, a
    UNIQUE key, a foreign key): the kind of refusal a handler may want to turn into
    ``Rejected``."""

    def __init__(self, message, integrity=False):
        super().__init__(message)
        self.integrity = integrity


class Rejected(Exception):
    """Raise in a handler to refuse a request: ``Response(ok=False, error=str(exc))``.

    The pod stays up and the state is left exactly as it was before the request.
    """
