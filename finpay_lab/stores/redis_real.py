"""The real Redis (``redis="real"``): ``redis-server`` from PATH, kept by the helper process.

It is configured through its stdin (``redis-server -``), so that its password is on no
command line (any local user can read those in ``/proc``). The helper reaches it over a
unix socket in a private (0700) directory inside the lab's work dir, which also holds its
append-only file when it has one.

``persistence="none"``: nothing on disk; a crash (SIGKILL) loses every key, as it would
in production. ``persistence="aof"``: ``appendonly yes`` — every write is appended to a
file before the client gets its reply, and a restarted server replays that file.
``appendfsync`` (``defaults.REDIS_AOF_FSYNC``) says when the file is forced to the disk.
The lab uses ``always``: the write and its fsync happen before the replies are sent, so an
acknowledged write survives a SIGKILL (and a power cut), at a cost in speed. Redis's
default ``everysec`` usually keeps a killed process's writes too (they sit in the kernel's
page cache), but while last second's fsync is still running on a busy disk Redis postpones
writing the file by up to 2 s and answers clients meanwhile: a SIGKILL in that window loses
acknowledged writes, and a machine that dies loses the last second or two.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .. import defaults


class RealKeeper:
    """Runs redis-server. 'down' stops it *listening* (``CONFIG SET port 0``) and drops its
    clients, as a crashed server looks from outside, and 'up' listens again with its data;
    'crash' really SIGKILLs it and starts a new one on the same port, with the same
    password and the same directory (so the same append-only file, if any)."""

    def __init__(self, password, port, workdir=None, persistence="none"):
        self.port = port
        self.password = password
        self.persistence = persistence
        self.delay = 0.0
        self.dir = tempfile.mkdtemp(prefix="finpay-redis-", dir=workdir)  # 0700: only this user
        self.socket = os.path.join(self.dir, "redis.sock")
        self._admin = None
        self.proc = None
        self._launch()

    def _config(self):
        if self.persistence == "aof":
            persistence = ["appendonly yes", f"appendfsync {defaults.REDIS_AOF_FSYNC}"]
        else:
            persistence = ["appendonly no"]
        return "\n".join(
            [
                "bind 127.0.0.1",
                f"port {self.port}",
                f"requirepass {self.password}",
                f"unixsocket {self.socket}",
                "unixsocketperm 700",
                f"dir {self.dir}",
                'save ""',
                *persistence,
                "protected-mode yes",
                "loglevel warning",
                "",
            ]
        )

    def _launch(self):
        self.proc = subprocess.Popen(
            ["redis-server", "-"],  # "-": read the configuration from stdin
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        self.proc.stdin.write(self._config().encode())
        self.proc.stdin.close()

    @property
    def url(self):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def admin(self):
        """The helper's own connection, over the private unix socket."""
        if self._admin is None:
            import redis

            self._admin = redis.Redis(
                unix_socket_path=self.socket,
                password=self.password,
                socket_timeout=defaults.REDIS_SOCKET_TIMEOUT,
            )
        return self._admin

    def down(self):
        self.admin.config_set("port", 0)  # stop listening: new connections are refused
        for kind in ("normal", "pubsub"):  # and drop the open ones (not our own)
            self.admin.client_kill_filter(_type=kind)

    def up(self):
        self.admin.config_set("port", self.port)

    def crash(self):
        """SIGKILL the server, start it again, and return once it answers (its AOF replayed)."""
        self.proc.kill()
        self.proc.wait()
        if self._admin is not None:
            self._admin.close()
        self._launch()
        self.wait_until_loaded()

    def wait_until_loaded(self):
        import redis

        deadline = time.monotonic() + defaults.REDIS_START_TIMEOUT
        while True:
            try:
                if self.admin.info("persistence").get("loading") == 0:
                    return
            except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not come back (exit code {self.proc.poll()})")
            time.sleep(0.01)

    def stop(self):
        self.proc.send_signal(signal.SIGCONT)  # in case someone paused it
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """Linux: the kernel SIGKILLs this child if the thread that started it dies first."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
