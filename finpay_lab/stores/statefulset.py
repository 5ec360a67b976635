"""A StatefulSet of real Redis servers: a primary, its replicas, and a stable address.

    with fl.StatefulSet(replicas=3) as store:
        store.pods                 # redis-0 (primary), redis-1, redis-2 (replicas)
        store.kill("redis-1")      # SIGKILL; store.restart("redis-1") brings it back with its volume
        store.failover()           # promote the most up-to-date replica
        with fl.Lab(pods=3, state="redis", redis=store) as lab: ...

What Kubernetes gives a StatefulSet, and what this one copies:

* **Stable names and order.** Pods are ``redis-0``, ``redis-1``, … started one at a time,
  each once the one before is ready (``podManagementPolicy: OrderedReady``); scaling down
  removes the highest ordinal first.
* **A volume per pod.** Each pod has its own directory (its PersistentVolumeClaim) holding
  its append-only file. Killed and restarted, or scaled away and back, a pod gets *its*
  volume again, under the same name and the same port (its stable DNS name here).

What Kubernetes does *not* give, and Redis does: replication. ``redis-1`` and ``redis-2``
copy ``redis-0`` with ``REPLICAOF``, **asynchronously**: the primary answers "OK" to a
write before any replica has it. Failover is not Kubernetes' job either: in production
Redis Sentinel (or an operator) notices the dead primary, promotes a replica
(``REPLICAOF NO ONE``), repoints the others, and clients ask Sentinel where the primary is
now — or an operator relabels pods so the ``redis-primary`` Service selects the new one.
Here ``store.failover()`` does Sentinel's part on demand, and the lab's one URL
(``store.url``) is a small TCP proxy in the store's helper process, playing that Service:
it always forwards to the current primary, and drops its open connections on failover,
so clients reconnect to the new one.

**Lost acknowledged writes** (what Jepsen showed): writes the primary acknowledged just
before it died, and had not yet sent to a replica, are gone after failover. To make it
happen on purpose rather than by luck::

    store.pause_replication()        # cut the links: the replicas stop receiving writes
    for i in range(10):
        client.set(f"k{i}", i)       # "OK": acknowledged, by the primary alone
    store.kill("redis-0")
    store.resume_replication()
    store.failover()                 # redis-1 never saw them: 10 acknowledged writes lost

``WAIT 1 500`` after each write asks the primary to wait until one replica has it: with
the link cut it times out after 500 ms and answers 0 replicas. Then the application knows
the write is not safe yet and must not tell the customer "done" (report a failure, retry
later); so no *acknowledged* write is lost, at the price of waiting (or failing) while
the replicas are away. WAIT does not undo the write on the primary, and Redis stays an
asynchronous system: it narrows the window, it does not make Redis a consistent database.

A pause is a network partition between the primary and its replicas: each pod switches
off the user its replicas log in with and drops their connections; resume switches it
back on and the replicas reconnect (within a second) and catch up.

Needs ``redis-server`` on PATH. Nothing outlives the store: its helper process watches the
notebook through its stdin (EOF when the store is closed, collected, or its process dies,
SIGKILL included) and then SIGKILLs every pod and removes every volume.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from dataclasses import dataclass

from .. import defaults
from ..errors import BadInput, LabError, RedisUnavailable
from .helper_process import end_helper


@dataclass(frozen=True)
class StatefulPod:
    name: str
    role: str  # "primary" | "replica"
    status: str  # "running" | "dead" (killed, not restarted) | "removed" (scaled away) | "not answering"
    pid: int | None
    port: int
    offset: int | None  # replication offset: bytes of the write stream it has applied
    link: str | None  # a replica's link to its primary: "up" | "down"
    volume: str  # its directory: the append-only file, the log
    paused: bool = False  # its replication link is cut (pause_replication)


class StatefulSet:
    """Real ``redis-server`` pods ``redis-0`` (primary) … ``redis-N-1`` (replicas)."""

    def __init__(self, replicas=3):
        top = defaults.STATEFULSET_MAX_REPLICAS
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= top:
            raise BadInput(
                f"replicas must be a whole number from 1 to {top} (1 primary and the rest "
                f"its replicas), not {replicas!r}"
            )
        self.replicas = replicas
        self.url = None
        self.dir = None
        self._process = None
        self._password = None
        self._lock = threading.Lock()

    # ---- life
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if self._process is not None:
            return self
        if shutil.which("redis-server") is None:
            raise RedisUnavailable(
                "fl.StatefulSet needs the redis-server binary on PATH and there is none: install "
                "it (apt-get install redis-server / brew install redis / conda install redis)"
            )
        self.dir = tempfile.mkdtemp(prefix="finpay-statefulset-")
        self._password = secrets.token_hex(16)
        code = f"from finpay_lab.stores.statefulset_pods import main; main({self.dir!r}, {self.replicas})"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._finalizer = weakref.finalize(self, _end_helper, self._process, self.dir, os.getpid())
        self._process.stdin.write(self._password + "\n")
        self._process.stdin.flush()
        reply = self._read(defaults.STATEFULSET_POD_TIMEOUT * (self.replicas + 1))
        if not reply.get("ok"):
            self.close()
            raise RedisUnavailable(f"the StatefulSet did not start: {reply.get('error')}")
        self.url = f"redis://:{self._password}@127.0.0.1:{reply['port']}/0"
        return self

    def close(self):
        """Stop every pod and remove every volume. Safe to call twice."""
        if self._process is None:
            return
        self._finalizer()
        self._process = None
        self.url = None

    @property
    def safe_url(self):
        return self.url.replace(self._password, "***") if self.url else None

    @property
    def pids(self):
        """The helper's pid and every running pod's: what must be gone after close()."""
        if self._process is None:
            return []
        return [self._process.pid] + [p.pid for p in self.pods if p.pid]

    # ---- what a learner does
    @property
    def pods(self):
        return [StatefulPod(**row) for row in self._call("pods")]

    @property
    def primary(self):
        """The name of the pod the Service sends clients to."""
        return self._call("primary")

    def kill(self, name, restart=False):
        """SIGKILL pod ``name``. It stays down until ``restart(name)``; ``restart=True``: at once,
        as the kubelet restarts a crashed container in place."""
        self._call("kill", name)
        if restart:
            self._call("restart", name)

    def restart(self, name):
        """Start pod ``name`` again, under its name, on its port, with its volume."""
        self._call("restart", name)

    def scale(self, replicas):
        """Run pods redis-0 … redis-(replicas-1): added in order, removed from the top;
        a removed pod's volume stays, and it gets it back when the set grows again."""
        top = defaults.STATEFULSET_MAX_REPLICAS
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= top:
            raise BadInput(f"replicas must be a whole number from 1 to {top}, not {replicas!r}")
        self._call("scale", replicas)

    def failover(self, to=None):
        """Promote ``to`` (default: the running replica with the highest replication offset),
        make the other running pods its replicas and point the Service at it.
        Returns ``{"old": name, "new": name}``."""
        return self._call("failover", *([] if to is None else [to]))

    def pause_replication(self, *names):
        """Cut the links between the primary and its replicas (a network partition), or only
        those of the pods named (``pause_replication("redis-1")``: one replica falls behind)."""
        self._call("replication", False, *([list(names)] if names else []))

    def resume_replication(self, *names):
        """Heal the partition: replicas reconnect and catch up (within about a second)."""
        self._call("replication", True, *([list(names)] if names else []))

    def client(self, name=None):
        """A redis-py client: to the Service (the current primary), or to pod ``name`` itself."""
        import redis

        if self.url is None:
            raise BadInput(
                "the StatefulSet is not running: use it inside `with fl.StatefulSet(...) as store:`"
            )
        if name is None:
            return redis.Redis.from_url(self.url, decode_responses=True)
        port = next((p.port for p in self.pods if p.name == name and p.status != "removed"), None)
        if port is None:
            raise BadInput(
                f"no StatefulSet pod named {name!r}: its pods are "
                f"{', '.join(p.name for p in self.pods if p.status != 'removed')}"
            )
        return redis.Redis(port=port, password=self._password, decode_responses=True)

    def __repr__(self):
        if self._process is None:
            return f"StatefulSet(replicas={self.replicas}, stopped)"
        return f"StatefulSet(replicas={self.replicas}, primary={self.primary}, url={self.safe_url})"

    # ---- the helper
    def _call(self, cmd, *args):
        if self._process is None:
            raise BadInput(
                "the StatefulSet is not running: use it inside `with fl.StatefulSet(...) as store:`"
            )
        with self._lock:
            self._process.stdin.write(json.dumps({"cmd": cmd, "args": list(args)}) + "\n")
            self._process.stdin.flush()
            reply = self._read(defaults.STATEFULSET_POD_TIMEOUT * (defaults.STATEFULSET_MAX_REPLICAS + 1))
        if reply.get("ok"):
            return reply["value"]
        if reply.get("bad"):
            raise BadInput(reply["error"])
        raise LabError(f"StatefulSet {cmd} failed: {reply.get('error')}")

    def _read(self, timeout):
        result = []
        reader = threading.Thread(target=lambda: result.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            return {"ok": False, "error": f"no answer within {timeout:g} s"}
        if not result[0]:
            return {"ok": False, "error": f"its helper exited with code {self._process.poll()}"}
        return json.loads(result[0])


def _end_helper(proc, directory, owner):
    """EOF on the helper's stdin: it SIGKILLs its pods (they die with it: PR_SET_PDEATHSIG)
    and exits; then the volumes go. Not in a forked child of the store's process."""
    if end_helper(proc, owner, 10):
        shutil.rmtree(directory, ignore_errors=True)
