"""Changing what a lab runs, as a deploy does: how many pods (``scale``, ``remove``), which
app (``rollout``), which kind of state (``switch_state``). Part of ``Lab`` (a mixin, like
``looks.py``; ``lab.py`` stays the composition root and sets ``_lock``, ``_loop``,
``_names``, ``_app_blob`` and ``_redis``).

    lab.scale(5)                          # a ReplicaSet's replicas: start or drain pods
    lab.remove("pod-2", how="kubernetes")  # one pod, the way Kubernetes terminates it
    lab.rollout(app=payment_api_v2)       # a Deployment's rolling update
    lab.switch_state("redis")             # a redeploy with a new configuration

Each one is a Kubernetes idea with its own module, where the steps are: ``replicas.py``
(start, scale, drain), ``termination.py`` (the three ways a pod is removed),
``rollout.py`` (new pods in, old pods out, a few at a time). What the replaced pods held
in their own memory is gone with them: the course's whole point, in one deploy.
"""

from .. import defaults
from ..errors import BadInput
from . import arguments, replicas, termination
from . import rollout as rolling


class LabDeploys:
    """``scale``, ``remove``, ``rollout`` and ``switch_state`` of a ``Lab``."""

    _rollout = None  # the lab's latest Rollout

    def scale(self, n):
        """Run exactly ``n`` pods. Up: returns when all are ready. Down: drains the
        newest pods (out of rotation, in-flight work finished, SIGTERM, then SIGKILL)."""
        arguments.check_count(n, "scale(n)")
        with self._lock:
            self._check_open()
            self._check_no_rollout(f"scale({n})")
            replicas.scale(self._loop, self._names, n)
            return self.pods

    def remove(
        self,
        name,
        how="graceful",
        propagation=defaults.PROPAGATION_DELAY,
        pre_stop=0.0,
        grace=defaults.GRACE_PERIOD,
        wait=True,
    ):
        """Remove pod ``name`` for good: ``"abrupt"`` (SIGKILL), ``"graceful"`` (out of rotation,
        drain, SIGTERM: what ``scale`` does) or ``"kubernetes"`` (SIGTERM after a ``pre_stop``
        sleep, while the balancer still routes to it for ``propagation`` s); see
        runtime/termination.py. Returns a ``Removal`` (``wait=False``: a ``Termination``)."""
        options = termination.check(how, propagation, pre_stop, grace)
        with self._lock:
            return termination.remove(self._loop, self._running(name), wait=wait, **options)

    def rollout(self, app=None, max_surge=1, max_unavailable=0, wait=True):
        """A rolling update (runtime/rollout.py): every pod replaced by one with a new name,
        running ``app`` (None: the same app, ``kubectl rollout restart``), each old pod drained
        once enough new ones are ready. Returns the ``Rollout`` (``wait=False``: in progress)."""
        with self._lock:
            self._check_open()
            if self.rolling_out is not None:
                raise BadInput(
                    f"a rollout is already in progress ({self.rolling_out!r}): wait for it to finish"
                )
            blob = self._app_blob
            self._rollout = rolling.start(
                self._loop, self._names, app, blob, max_surge, max_unavailable, self._adopt
            )
            return self._rollout.wait() if wait else self._rollout

    @property
    def rolling_out(self):
        """The ``Rollout`` in progress, or None."""
        running = self._rollout
        return running if running is not None and not running.done else None

    def _check_no_rollout(self, what):
        """A rollout owns the pods until it is done: refuse to change them under it."""
        if self.rolling_out is not None:
            raise BadInput(
                f"a rollout is in progress ({self.rolling_out!r}): {what} would replace pods it is "
                "replacing; wait for it to finish (lab.rolling_out.wait()), then try again"
            )

    def _adopt(self, app, blob):
        """A rollout is done: its app is the lab's; restarts and scale-ups run it."""
        self.app, self._app_blob, self._loop._app_blob = app or self.app, blob, blob
        self._follow_app()

    def switch_state(self, state):
        """Rebuild every pod with the other kind of state ('memory' or 'redis').

        Like redeploying a service with a new configuration: every pod is replaced by a
        fresh process, so whatever the old pods held in memory is gone.
        """
        arguments.check_state(state)
        with self._lock:
            self._check_open()
            if state == self.state:
                return self.pods
            self._check_no_rollout(f"switch_state({state!r})")
            n = replicas.stop_all(self._loop)
            if state == "redis" and not self._redis.running:
                self._start_redis()
            self.state = state
            url = self._redis.url if state == "redis" else None
            self._loop.config = dict(self._loop.config, state=state, redis_url=url)
            for hook in self.app.on_lab_start:
                hook(self)
            self._loop.event(None, "switched", f"state is now {state!r}: every pod restarted")
            replicas.start(self._loop, self._names, n)
            return self.pods
