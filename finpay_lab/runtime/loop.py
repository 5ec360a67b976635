"""How the lab talks to its pods: send, wait for replies or deaths, restart.

This is the lab's event loop, kept apart from ``Lab``'s public methods so each reads on its
own. There are no background threads: whoever calls the lab (``call``, ``run``, ``scale``)
drives this loop, under the lab's lock.

* **send**: a request gets an id (``rid``), goes down the pod's pipe, and waits in the
  pod's ``in_flight`` table until its reply comes back.
* **pump**: one ``poll`` over every live pod's pipe *and* its exit sentinel (a file
  descriptor that becomes readable when the process ends). A reply completes its
  request; an exit fails the pod's in-flight requests with the cause ("SIGKILL"). A pipe
  the lab still owes bytes to (a big request) is also watched for room to write: the lab
  never blocks on a write, so big requests and big replies cannot wait for each other.
* **abandon**: a caller interrupted (Ctrl-C) gives up its requests; their replies, if
  they ever come, are dropped, and the pod is not left "busy".
* **restart**: with ``restart=True`` a crashed pod is restarted under the same name after a
  backoff that doubles on every crash (capped), like Kubernetes' CrashLoopBackOff.
"""

import select
import time

from .. import defaults
from ..errors import BadInput
from . import wire
from .guardian import write_pidfile
from .history import PodEvent, Response
from .pods import exit_cause, gone, start_pod


class Dispatcher:
    """The lab's plumbing. ``Lab`` inherits it; nothing else uses it."""

    def _init_dispatch(self):
        self._pods = {}  # name -> Pod, in creation order; stopped pods are removed
        self._started = set()  # every process the lab started and has not yet reaped
        self._restart_due = {}  # name -> (lab time to restart, restarts so far)
        self._backoff = {}  # name -> current backoff seconds
        # One poll object over every live pod's pipe and exit sentinel: waiting for "any
        # reply or any death" costs one syscall, however many pods there are.
        self._poller = select.poll()
        self._watched = {}  # fd -> (pod, is_sentinel)
        self._writing = set()  # fds of pods whose pipe still owes bytes (watched for POLLOUT)
        self._call_rid = None  # the request a synchronous caller is waiting for
        self._call_result = None

    def _control(self, pod, endpoint, params, timeout=defaults.CALL_TIMEOUT):
        """A request the lab makes for itself: not routed, not recorded, not 'served'."""
        rid = self._send(pod, endpoint, params, internal=True)
        self._call_rid, self._call_result = rid, None
        deadline = time.monotonic() + timeout
        try:
            while rid in pod.in_flight and time.monotonic() < deadline:
                if pod.readable(deadline - time.monotonic()):
                    self._read(pod)
            return self._call_result if rid not in pod.in_flight else {}
        finally:
            pod.in_flight.pop(rid, None)
            self._update_status(pod)
            self._call_rid = self._call_result = None

    def _list_pods_for_guardian(self):
        if not self._closed:
            try:
                write_pidfile(self._workdir, [p.pid for p in self._started if p is not self._guardian])
            except OSError:  # an interrupted close() already removed the work dir
                pass

    def _named(self, name):
        if not isinstance(name, str):
            raise BadInput(f"name a pod with a string like 'pod-1', not {type(name).__name__} {name!r:.40}")
        pod = self._pods.get(name)
        if pod is None:
            raise BadInput(f"no pod named {name!r}; the pods are {', '.join(self._pods) or 'none'}")
        return pod

    def _routable(self):
        return [p for p in self._pods.values() if p.routable]

    def _send(self, pod, endpoint, params, internal=False):
        rid = next(self._rids)
        try:
            data = wire.encode_request(rid, endpoint, params)
        except Exception as exc:
            self._call_result = self._fail(endpoint, params, f"the request could not be sent ({type(exc).__name__}: {exc}); "
                                           "pass plain values: str, int, float, bool, None, lists and dicts")
            return None
        pod.in_flight[rid] = (endpoint, params, self.now(), internal)
        pod.status = "busy" if pod.status == "ready" else pod.status
        try:
            pod.send(data)
        except OSError:  # the pod died before we wrote: its in-flight requests fail now
            pod.process.join(1.0)
            self._on_exit(pod)
            return rid
        if pod.channel.pending and pod.channel.fd not in self._writing:
            self._writing.add(pod.channel.fd)
            self._poller.modify(pod.channel.fd, select.POLLIN | select.POLLOUT)
        return rid

    def _flush(self, pod):
        """The pipe has room: write more of what the lab owes the pod."""
        try:
            done = pod.channel.flush()
        except OSError:
            pod.channel.discard()
            done = True
        if done and pod.channel.fd in self._writing:
            self._writing.discard(pod.channel.fd)
            self._poller.modify(pod.channel.fd, select.POLLIN)

    def _abandon(self, pod, rids, why):
        """A caller gave up on these requests (Ctrl-C): fail them now; a late reply is dropped."""
        for rid in rids:
            entry = pod.in_flight.pop(rid, None)
            if entry is not None and not entry[3]:
                endpoint, params, sent, _ = entry
                self._fail(endpoint, params, why, pod.name, sent=sent, rid=rid)
        self._update_status(pod)

    def _pump(self, timeout):
        """Wait up to ``timeout`` for replies or pod exits, and handle them."""
        self._start_due_restarts()
        if not self._watched:
            time.sleep(timeout)
            return
        for fd, mask in self._poller.poll(timeout * 1000):
            pod, is_sentinel = self._watched.get(fd, (None, None))
            if pod is None or not pod.alive:
                continue  # unwatched while handling an earlier fd of this batch
            if is_sentinel:
                self._on_exit(pod)
                continue
            if mask & select.POLLOUT:
                self._flush(pod)
            if mask & ~select.POLLOUT:
                self._read(pod)

    def _read(self, pod):
        """Handle every reply waiting on the pod's pipe."""
        try:
            for data in pod.channel.receive():
                self._on_reply(pod, *wire.decode_reply(data))
        except (EOFError, OSError):
            pod.process.join(1.0)
            self._on_exit(pod)

    def _on_reply(self, pod, rid, ok, value, error, service):
        if rid == wire.READY:
            pod.pid, pod.status, pod.started = value, "ready", time.monotonic()
            self._event(pod.name, "ready", pid=pod.pid)
            return
        entry = pod.in_flight.pop(rid, None)
        if entry is None:
            return  # a reply that came after its caller gave up (timeout)
        endpoint, params, sent, internal = entry
        self._update_status(pod)
        if internal:
            self._call_result = value
            return
        pod.served += 1
        now = self.now()
        self._record(Response(ok, value, error, pod.name, now - sent, endpoint, params, sent, now, service, rid))

    def _record(self, response):
        self.history.add(response)  # past its cap, the history drops its oldest requests
        if response.id == self._call_rid:
            self._call_result = response

    def _fail(self, endpoint, params, error, pod=None, sent=None, rid=-1):
        now = self.now()
        sent = now if sent is None else sent
        response = Response(False, None, error, pod, now - sent, endpoint, params, sent, now, 0.0, rid)
        self._record(response)
        return response

    def _update_status(self, pod):
        if pod.status in ("ready", "busy"):
            pod.status = "busy" if pod.in_flight else "ready"

    def _on_exit(self, pod):
        """A pod's process ended: record why, fail its in-flight requests, maybe restart it."""
        if not pod.alive:
            return
        try:  # replies it sent before dying still count
            while pod.readable():
                for data in pod.channel.receive():
                    self._on_reply(pod, *wire.decode_reply(data))
        except (EOFError, OSError):
            pass
        pod.process.join(1.0)
        pod.exitcode = pod.process.exitcode
        if gone(pod.pid):
            self._started.discard(pod.process)  # its pid is no longer ours to kill
        was = pod.status
        pod.status = "dead"
        pod.channel.discard()
        self._writing.discard(pod.channel.fd)
        for fd in (pod.channel.fd, pod.process.sentinel):
            if self._watched.pop(fd, None) is not None:
                try:
                    self._poller.unregister(fd)
                except KeyError:  # an interrupted _spawn did not register it
                    pass
        self._list_pods_for_guardian()
        pod.conn.close()
        cause = exit_cause(pod.exitcode)
        kind = "stopped" if was == "stopping" or self._closing else "exited"
        self._event(pod.name, kind, cause, pid=pod.pid)
        for rid, (endpoint, params, sent, internal) in list(pod.in_flight.items()):
            del pod.in_flight[rid]
            if internal:
                continue
            self._fail(endpoint, params, f"{pod.name} crashed ({cause}) while handling {endpoint}",
                       pod.name, sent=sent, rid=rid)
        if self.restart and kind == "exited":
            healthy = time.monotonic() - pod.started > defaults.RESTART_BACKOFF_RESET
            backoff = defaults.RESTART_BACKOFF if healthy else min(
                self._backoff.get(pod.name, defaults.RESTART_BACKOFF / 2) * 2, defaults.RESTART_BACKOFF_CAP)
            self._backoff[pod.name] = backoff
            self._restart_due[pod.name] = (self.now() + backoff, pod.restarts + 1)
            self._event(pod.name, "backoff", f"restarting in {backoff:g} s")

    def _reconcile(self):
        """Catch up: replies that arrived, pods that died on their own, due restarts."""
        if not self._closing:
            self._pump(0)

    def _start_due_restarts(self):
        if self._closing or not self._restart_due:
            return
        now = self.now()
        for name, (due, restarts) in list(self._restart_due.items()):
            if now >= due:
                del self._restart_due[name]
                self._spawn(name, restarts)

    def _wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._pump(min(remaining, 0.05))
        return True

    def _event(self, pod, kind, detail="", pid=None, end=None):
        self.history.events.append(PodEvent(self.now(), pod, kind, detail, pid, end))

    def _expire(self, pod, timeout=defaults.CALL_TIMEOUT):
        """Fail the pod's requests that have waited longer than ``timeout``, as a client would."""
        cutoff = self.now() - timeout
        for rid, (endpoint, params, sent, internal) in list(pod.in_flight.items()):
            if sent < cutoff:
                del pod.in_flight[rid]
                if not internal:
                    self._fail(endpoint, params, f"{pod.name} did not answer within {timeout:g} s",
                               pod.name, sent=sent, rid=rid)
        self._update_status(pod)

    def _spawn(self, name, restarts=0):
        # The process is in self._started before it starts: if Ctrl-C lands before the
        # lines below record the pod, close() still finds and kills it.
        pod = start_pod(self._ctx, name, self._app_blob, self._config, self._lifeline, restarts,
                        started=self._started)
        self._pods[name] = pod
        for fd, is_sentinel in ((pod.channel.fd, False), (pod.process.sentinel, True)):
            self._watched[fd] = (pod, is_sentinel)
            self._poller.register(fd, select.POLLIN)
        self._list_pods_for_guardian()
        kind = "restarted" if restarts else "started"
        detail = f"restart #{restarts}, replaces the crashed {name} with empty memory" if restarts else ""
        self._event(name, kind, detail, pid=pod.pid)
        return pod



def spin_until_readable(pod, budget=defaults.CALL_SPIN):
    """Poll without sleeping for a few tens of µs before blocking: a fast pod answers in
    that window, and the lab skips the ~15 µs it takes the OS to wake a sleeping process.
    Only ``call`` spins (it is waiting anyway); ``run`` never does."""
    end = time.perf_counter() + budget
    while time.perf_counter() < end:
        if pod.readable():
            return
