"""The lab's exceptions, in one place.

    LabError                  anything the lab itself refuses or cannot do
    ├── BadInput              a wrong argument to a Lab method (ValueError too)
    ├── PodStartError         a pod did not start or did not say "ready" in time
    └── RedisUnavailable      the Redis server could not be started or reached
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


class Rejected(Exception):
    """Raise in a handler to refuse a request: ``Response(ok=False, error=str(exc))``.

    The pod stays up and the state is left exactly as it was before the request.
    """
