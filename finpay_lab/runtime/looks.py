"""Looking into a lab's pods: what each one holds in its own memory (``peek``,
``pod_stats``) and one consistent look at the whole lab for a view (``snapshot``: the live
dashboard). Part of ``Lab`` (a mixin: ``Lab`` sets ``_lock`` and ``_loop``)."""

import dataclasses

from ..errors import BadInput
from . import arguments
from .pods import SERVING, PodStatus, exit_cause


class LabLooks:
    """``peek``, ``pod_stats`` and ``snapshot`` of a ``Lab``."""

    def snapshot(self, timeout=None):
        """One consistent look at the lab, for a view (the live dashboard): ``(pods, held,
        state)``, read under the lab's lock; ``None`` if the lab stayed busy for
        ``timeout`` seconds (a long ``lab.run`` holds it). ``pods`` is ``lab.pods`` with a
        paused pod's status shown as ``'paused'``; ``held`` is the ``pod_stats`` of every
        pod serving (a paused pod is not asked: a stopped process cannot answer)."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return None
        try:
            pods = [
                dataclasses.replace(p, status=PodStatus.PAUSED) if self._loop.is_paused(p) else p
                for p in self.pods
            ]
            held = {p.name: self.pod_stats(p.name) for p in pods if p.status in SERVING}
            return pods, held, self.state
        finally:
            self._lock.release()

    def peek(self, name, prefix=""):
        """What pod ``name`` holds in its own memory: {key: value} for keys starting with
        ``prefix`` (``{}`` with state='redis': the pod itself holds nothing; ``{}`` for a
        dead pod too: its memory died with it)."""
        if not isinstance(prefix, str):
            raise BadInput(
                f"prefix must be a string like 'balance:' (or '' for every key), not {prefix!r:.40}"
            )
        with self._lock:
            self._check_open()
            pod = self._loop.named(name)
            if not pod.routable:
                return {}
            return self._loop.ask(pod, "__peek__", {"prefix": prefix})

    def pod_stats(self, name, timeout=2.0):
        """What pod ``name`` keeps in its own memory, counted inside the pod: what its app
        reports (``App.pod_stats``: FinPay's sessions and queued SMS) and how many ``keys``
        (all 0 with state='redis', where pods keep nothing). A pod that does not answer
        within ``timeout``, or is not serving yet, gives ``{}``.

        A dead pod holds nothing any more; its stats say so: ``{'sessions': 0,
        'queued_sms': 0, 'keys': 0, 'status': 'dead', 'cause': 'SIGKILL'}`` (FinPay). A pod
        ``lab.pause`` stopped cannot count: ``{'status': 'paused', 'cause': 'SIGSTOP'}``."""
        timeout = arguments.check_timeout(timeout)
        with self._lock:
            self._check_open()
            pod = self._loop.named(name)
            if not pod.alive:
                nothing = (
                    dict(self.app.pod_stats(None)) if self.app.pod_stats is not None else {}
                )  # as its app says it
                return {**nothing, "keys": 0, "status": PodStatus.DEAD, "cause": exit_cause(pod.exitcode)}
            if self._loop.is_paused(pod):  # asking would only wait out the timeout
                return {"status": PodStatus.PAUSED, "cause": "SIGSTOP"}
            if not pod.routable:
                return {}
            return self._loop.ask(pod, "__stats__", {}, timeout=timeout)
