"""Named points inside a handler, where the lab can crash a pod or hold a request.

    @app.endpoint
    def transfer(state, user, to, amount):
        state.incr(f"balance:{user}", -amount)
        fl.crash_point("after_debit")          # a name for this moment of the handler
        state.incr(f"balance:{to}", amount)

    lab.crash_at("after_debit", endpoint="transfer", times=1)   # or fl.chaos.crash_at(...)

A point costs one dictionary lookup while nothing is armed there. **Armed to crash**, the
pod that reaches it SIGKILLs itself, for real (``os.kill(os.getpid(), SIGKILL)``): no
``finally`` runs, no reply leaves, the open database transaction is rolled back by the
database, what the handler wrote to Redis stays written. **Armed to pause**
(``lab.pause_at``, ``fl.chaos.pause_at``), the request stops there and waits until the lab
releases it: a run releases its held requests once nothing else can move (every request in
flight is held), which is how two pods are made to read the same balance before either
writes it, every time. ``fl.pause_point`` is the same function as ``fl.crash_point``: name
it for what the lesson does there.

``times`` counts across every pod of the lab: each firing takes a ticket, a file created
with ``O_EXCL`` in the lab's work dir (the kernel lets exactly one process create it), so
``times=1`` fires once in the whole lab even when three pods reach the point together. A
point nobody reaches never fires; a point nobody armed never does anything.

Pod side: ``crash_point`` and ``arm`` (the ``__points__`` control request, and the lab's
config at a pod's start). Lab side: ``Points`` (``lab.crash_at``, ``lab.pause_at``,
``lab.held()``, ``lab.release()``).
"""

import glob
import itertools
import os
import signal
import time

from .. import defaults
from ..errors import BadInput

_armed = {}  # point -> [arm]: what this pod does when it reaches the point
_context = None  # the pod's PodContext (set by the pod loop): which endpoint runs now


def crash_point(name):
    """Mark a named point in a handler: nothing happens unless the lab armed it (then the
    pod SIGKILLs itself here, or holds the request here until released)."""
    arms = _armed.get(name)
    if not arms:
        if type(name) is not str:
            raise BadInput(f"a point is named by a string like 'after_debit', not {name!r:.40}")
        return
    endpoint = getattr(_context, "endpoint", None)
    for arm in arms:
        if arm["endpoint"] not in (None, endpoint) or arm.get("spent") or not _take_ticket(arm):
            continue
        if arm["action"] == "crash":
            os.kill(os.getpid(), signal.SIGKILL)  # a real crash: nothing after this line runs
            time.sleep(1)  # pragma: no cover - the signal is delivered before kill returns
        _hold(arm, name)
        return


pause_point = crash_point


def arm(arms, context=None):
    """Take the lab's armed points (a list of dicts, see ``Points.arm``). The pod loop
    calls this at start (from its config) and for the ``__points__`` control request."""
    global _context
    if context is not None:
        _context = context
    _armed.clear()
    for one in arms or ():
        _armed.setdefault(one["point"], []).append(dict(one))
    return True


def _take_ticket(arm):
    for n in range(arm["times"]):
        try:
            os.close(os.open(_ticket(arm, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            continue
        except OSError:  # the work dir is gone: the lab is closing
            break
    arm["spent"] = True
    return False


def _ticket(arm, n):
    return os.path.join(arm["dir"], f"point-{arm['id']}-{n}")


def _hold(arm, name):
    """Wait here until the lab removes our held-file (or, at worst, POINT_HOLD_MAX)."""
    path = os.path.join(arm["dir"], f"held-{arm['id']}-{os.getpid()}")
    with open(path, "w") as f:
        f.write(name)
    deadline = time.monotonic() + defaults.POINT_HOLD_MAX
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(defaults.POINT_HOLD_POLL)


class Points:
    """The lab's side: arm points in every pod (now and in pods started later), see the
    requests held, release them."""

    def __init__(self, loop, workdir):
        self._loop = loop
        self._dir = workdir
        self._ids = itertools.count(1)

    def arm(self, action, point, endpoint=None, times=1, app=None):
        """Arm ``point``: ``action`` is "crash" or "pause"; returns the arm's id."""
        if not isinstance(point, str) or not point:
            raise BadInput(f"name the point with a string like 'after_debit', not {point!r:.40}")
        if endpoint is not None and (app is None or endpoint not in app):
            known = ", ".join(sorted(app.endpoints)) if app is not None else "none"
            raise BadInput(
                f"endpoint={endpoint!r}: this lab's app has no such endpoint (it has: {known}); "
                "or pass endpoint=None for any endpoint"
            )
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise BadInput(
                f"times must be a whole number >= 1 (how often the point fires in the lab), not {times!r:.40}"
            )
        new = {
            "id": next(self._ids),
            "action": action,
            "point": point,
            "endpoint": endpoint,
            "times": times,
            "dir": self._dir,
        }
        self._tell([*self._loop.config.get("points", ()), new])
        return new["id"]

    def disarm(self, arm_id):
        """Take every ticket left of arm ``arm_id``: it never fires again, in any pod."""
        for one in self._loop.config.get("points", ()):
            if one["id"] == arm_id:
                for n in range(one["times"]):
                    try:
                        os.close(os.open(_ticket(one, n), os.O_CREAT | os.O_WRONLY, 0o600))
                    except OSError:
                        pass

    def held(self):
        """``[(point, pid)]``: the requests holding at a point right now."""
        found = []
        for path in glob.glob(os.path.join(self._dir, "held-*")):
            try:
                with open(path) as f:
                    found.append((f.read(), int(path.rsplit("-", 1)[1])))
            except (OSError, ValueError):
                continue
        return found

    def release(self):
        """Let every held request go on; returns how many there were."""
        paths = glob.glob(os.path.join(self._dir, "held-*"))
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        return len(paths)

    def stuck(self):
        """True when nothing can move but held requests: every pod with requests in flight
        is holding one at a point (true too when nothing is in flight at all)."""
        holding = {pid for _, pid in self.held()}
        return all(pod.pid in holding for pod in self._loop.pods.values() if pod.in_flight and pod.alive)

    def _tell(self, arms):
        self._loop.config = dict(self._loop.config, points=arms)  # pods started later arm at start
        for pod in self._loop.routable():
            if not self._loop.is_paused(pod):
                self._loop.ask(pod, "__points__", {"arms": arms}, timeout=defaults.POINT_ARM_TIMEOUT)
