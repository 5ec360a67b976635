"""Inside the StatefulSet's helper process: the redis-server pods and the Service in front.

``fl.StatefulSet`` (``statefulset.py``) starts this helper with ``python -c``, and talks
to it with one JSON line per command on its stdin; each answer is one JSON line on its
stdout. At EOF on stdin (the notebook closed the store, or its process is gone, SIGKILL
included) the helper SIGKILLs its pods, removes their volumes and exits. Each redis-server
is also started with PR_SET_PDEATHSIG, so if the helper itself is SIGKILLed, the kernel
kills the pods too. Pods are only ever started from the main thread (the death signal
follows the *thread* that started a child).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from .. import defaults
from .redis_real import die_with_parent, free_port


class Refused(Exception):
    """A command the store refuses, with nothing changed (the handle raises fl.BadInput)."""


class Service:
    """A TCP proxy on one stable port that forwards every connection to the current primary:
    the Kubernetes Service (or Sentinel) role. ``repoint`` sends new connections to another
    pod and closes the open ones, so clients reconnect, and reach the new primary."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.target = None
        self.open = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def repoint(self, port):
        with self.lock:
            self.target, conns, self.open = port, self.open, set()
        for conn in conns:
            _close(conn)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=1.0)
        except (OSError, TypeError):  # the primary is dead: the client sees its connection close
            _close(client)
            return
        upstream.settimeout(None)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.open.update((client, upstream))
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def close(self):
        _close(self.listener)
        self.repoint(None)


def _pump(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _close(src)
    _close(dst)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Pod:
    def __init__(self, ordinal, base):
        self.name = f"redis-{ordinal}"
        self.ordinal = ordinal
        self.port = free_port()  # its stable address, like a pod's DNS name
        self.volume = os.path.join(base, self.name)  # its PersistentVolumeClaim
        os.makedirs(self.volume, mode=0o700, exist_ok=True)
        self.proc = None
        self.removed = True  # not in the set (yet, or scaled away: the volume stays, as a PVC does)


class Controller:
    """The pods, their roles and the Service: what the StatefulSet controller and Sentinel do."""

    def __init__(self, base, replicas, password):
        self.base, self.password = base, password
        self.replication_password = secrets.token_hex(16)  # the replicas' own users on the primary
        self.pods = {}
        self.primary = "redis-0"
        self.paused = set()  # pods whose replication link is cut
        self.service = Service()
        self.scale(replicas)

    # ---- one pod
    def _config(self, pod):
        lines = [
            "bind 127.0.0.1",
            f"port {pod.port}",
            f"dir {pod.volume}",
            "protected-mode yes",
            "appendonly yes",
            f"appendfsync {defaults.REDIS_AOF_FSYNC}",
            'save ""',
            "repl-diskless-sync-delay 0",  # sync a replica at once, not after 5 s
            "loglevel warning",
            f"logfile {os.path.join(pod.volume, 'redis.log')}",
            f"user default on >{self.password} ~* &* +@all",
            # Each replica logs in to its primary as its own user; pausing its replication
            # switches that user off on every pod.
            *(
                f"user replica-redis-{i} {'off' if f'redis-{i}' in self.paused else 'on'} "
                f">{self.replication_password} +psync +replconf +ping +sync"
                for i in range(defaults.STATEFULSET_MAX_REPLICAS)
            ),
            f"masteruser replica-{pod.name}",
            f"masterauth {self.replication_password}",
        ]
        if pod.name != self.primary:
            lines.append(f"replicaof 127.0.0.1 {self.pods[self.primary].port}")
        return "\n".join(lines) + "\n"

    def client(self, pod):
        import redis

        return redis.Redis(
            port=pod.port,
            password=self.password,
            decode_responses=True,
            socket_timeout=defaults.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=0.5,
        )

    def start(self, pod):
        """Start the pod with its volume; return once it has loaded it and, a replica, synced."""
        pod.removed = False
        pod.proc = subprocess.Popen(
            ["redis-server", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        pod.proc.stdin.write(self._config(pod).encode())
        pod.proc.stdin.close()
        primary = self.pods.get(self.primary)
        must_sync = pod.name != self.primary and primary.proc is not None and pod.name not in self.paused
        deadline = time.monotonic() + defaults.STATEFULSET_POD_TIMEOUT
        with self.client(pod) as c:
            while True:
                if pod.proc.poll() is not None:
                    raise RuntimeError(
                        f"{pod.name} exited with code {pod.proc.poll()}: see {pod.volume}/redis.log"
                    )
                try:
                    info = c.info("all")
                    synced = info.get("master_link_status") == "up" and not info.get(
                        "master_sync_in_progress"
                    )
                    if not info.get("loading") and (synced or not must_sync):
                        return
                except Exception:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{pod.name} did not become ready within {defaults.STATEFULSET_POD_TIMEOUT:g} s"
                    )
                time.sleep(0.01)

    def kill(self, name):
        pod = self._get(name, running=True)
        pod.proc.send_signal(signal.SIGCONT)  # harmless if it was not stopped
        pod.proc.kill()
        pod.proc.wait()
        pod.proc = None

    def restart(self, name):
        pod = self._get(name)
        if pod.proc is not None:
            raise Refused(f"{name} is running: kill it first (store.kill({name!r}))")
        self.start(pod)

    # ---- the set
    def scale(self, n):
        """Pods redis-0 … redis-(n-1): the missing ones start in order, each after the one
        before is ready; the extra ones stop, highest ordinal first, keeping their volumes
        (a StatefulSet keeps its PersistentVolumeClaims when it scales down)."""
        primary = self.pods.get(self.primary)
        if primary is not None and primary.ordinal >= n:
            raise Refused(f"scaling to {n} would remove the primary {self.primary}: fail over first")
        for ordinal in range(n):
            pod = self.pods.get(f"redis-{ordinal}")
            if pod is None:
                pod = self.pods[f"redis-{ordinal}"] = Pod(ordinal, self.base)
            elif not pod.removed:
                continue  # already in the set (running, or killed and waiting for restart)
            self.start(pod)
            if pod.name == self.primary and self.service.target is None:
                self.service.repoint(pod.port)
        for pod in sorted(self.pods.values(), key=lambda p: -p.ordinal):
            if pod.ordinal >= n and not pod.removed:
                if pod.proc is not None:
                    self.kill(pod.name)
                pod.removed = True

    def failover(self, to=None):
        """Promote ``to`` (default: the running replica with the highest replication offset),
        repoint the other replicas and the Service to it."""
        candidates = [
            p for p in self.pods.values() if p.proc is not None and p.name != self.primary and not p.removed
        ]
        if to is not None:
            pod = self._get(to, running=True)
            if pod.name == self.primary:
                raise Refused(f"{to} is already the primary")
        elif not candidates:
            raise Refused("no running replica to promote")
        else:
            pod = max(candidates, key=lambda p: (self.offset(p), -p.ordinal))
            if self.offset(pod) < 0:
                raise Refused("no running replica answers: nothing to promote")
        with self.client(pod) as c:
            c.execute_command("REPLICAOF", "NO", "ONE")
        old, self.primary = self.primary, pod.name
        for other in self.pods.values():
            if other.proc is not None and other.name != pod.name and not other.removed:
                with self.client(other) as c:
                    c.execute_command("REPLICAOF", "127.0.0.1", pod.port)
        self.service.repoint(pod.port)
        return {"old": old, "new": pod.name}

    def set_replication(self, on, names=None):
        """Cut (or heal) the replication links of ``names`` (default: every pod): every
        running pod switches those replicas' users off (or on) and drops their connections."""
        names = list(self.pods) if names is None else names
        for name in names:
            self._get(name)  # refuse an unknown name before changing anything
        self.paused = self.paused - set(names) if on else self.paused | set(names)
        for pod in self.pods.values():
            if pod.proc is None:
                continue
            with self.client(pod) as c:
                for name in names:
                    c.execute_command("ACL", "SETUSER", f"replica-{name}", "on" if on else "off")
                    if not on:
                        c.execute_command("CLIENT", "KILL", "USER", f"replica-{name}")

    def offset(self, pod):
        """How much of the primary's write stream ``pod`` has applied (-1: it does not answer)."""
        try:
            with self.client(pod) as c:
                info = c.info("replication")
        except Exception:
            return -1
        return info.get("slave_repl_offset", info.get("master_repl_offset", 0))

    def describe(self):
        rows = []
        for pod in sorted(self.pods.values(), key=lambda p: p.ordinal):
            row = {
                "name": pod.name,
                "role": "primary" if pod.name == self.primary else "replica",
                "pid": None,
                "port": pod.port,
                "offset": None,
                "link": None,
                "volume": pod.volume,
                "status": "removed" if pod.removed else "running" if pod.proc else "dead",
                "paused": pod.name in self.paused,
            }
            if pod.proc is not None:
                row["pid"] = pod.proc.pid
                try:
                    with self.client(pod) as c:
                        info = c.info("replication")
                    row["offset"] = info.get("slave_repl_offset", info.get("master_repl_offset"))
                    row["link"] = info.get("master_link_status")
                except Exception:
                    row["status"] = "not answering"
            rows.append(row)
        return rows

    def _get(self, name, running=False):
        pod = self.pods.get(name) if isinstance(name, str) else None
        if pod is None or pod.removed:
            live = [p.name for p in self.pods.values() if not p.removed]
            raise Refused(f"no StatefulSet pod named {name!r}: its pods are {', '.join(live)}")
        if running and pod.proc is None:
            raise Refused(f"{name} is not running: store.restart({name!r}) brings it back")
        return pod

    def close(self):
        self.service.close()
        for pod in self.pods.values():
            if pod.proc is not None:
                pod.proc.send_signal(signal.SIGCONT)
                pod.proc.kill()
                pod.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def main(base, replicas):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the notebook, which closes us
    password = sys.stdin.readline().strip()  # never on a command line
    controller = None

    def end(*_):
        if controller is not None:
            controller.close()
        shutil.rmtree(base, ignore_errors=True)
        os._exit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, end)
    try:
        controller = Controller(base, replicas, password)
        print(json.dumps({"ok": True, "port": controller.service.port}), flush=True)
        for line in sys.stdin:  # ends at EOF: the store was closed, or its owner is gone
            print(json.dumps(_run(controller, json.loads(line))), flush=True)
    except Exception as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
    end()


def _run(controller, request):
    cmd, args = request["cmd"], request.get("args", [])
    try:
        value = {
            "pods": controller.describe,
            "kill": controller.kill,
            "restart": controller.restart,
            "scale": controller.scale,
            "failover": controller.failover,
            "replication": controller.set_replication,
            "primary": lambda: controller.primary,
        }[cmd](*args)
        return {"ok": True, "value": value}
    except Refused as exc:
        return {"ok": False, "bad": True, "error": str(exc)}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
