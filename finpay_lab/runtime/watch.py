"""Watching every pod at once: one ``poll`` over each live pod's pipe and its exit sentinel.

A pod's **pipe** becomes readable when it has written replies (or closed its end: it is
gone); its **exit sentinel**, a file descriptor the process module gives each process,
becomes readable when the process ends, however it ends (SIGKILL included). Watching both
for every pod in one ``select.poll`` object, the lab waits for "any reply or any death"
with one system call, however many pods there are.

A pipe the lab still owes bytes to (a request too big for the pipe's buffer) is watched
for **room to write** too, and only until it is paid: the lab never blocks on a write, so a
big request and a big reply can never wait for each other.

``Loop`` (``loop.py``) owns one ``Watch``; ``poll`` tells it, pod by pod, what happened.
"""

import select


class Watch:
    """The pods a lab's loop is watching, by file descriptor."""

    def __init__(self):
        self._poller = select.poll()
        self._watched = {}  # fd -> (pod, is_sentinel)
        self.writing = set()  # fds of pipes the lab owes bytes to (watched for room too)

    def __bool__(self):
        """True while any pod is watched (with none, there is nothing to poll)."""
        return bool(self._watched)

    def add(self, pod):
        """Watch a started pod: its pipe for replies, its exit sentinel for its end."""
        for fd, is_sentinel in ((pod.channel.fd, False), (pod.process.sentinel, True)):
            self._watched[fd] = (pod, is_sentinel)
            self._poller.register(fd, select.POLLIN)

    def remove(self, pod):
        """Stop watching a pod that ended (safe if it was never watched: an interrupted start)."""
        self.writing.discard(pod.channel.fd)
        for fd in (pod.channel.fd, pod.process.sentinel):
            if self._watched.pop(fd, None) is not None:
                try:
                    self._poller.unregister(fd)
                except KeyError:  # an interrupted spawn did not register it
                    pass

    def owe(self, pod):
        """The lab still owes ``pod`` bytes: wake up, too, when its pipe has room."""
        fd = pod.channel.fd
        if pod.channel.pending and fd not in self.writing:
            self.writing.add(fd)
            self._poller.modify(fd, select.POLLIN | select.POLLOUT)

    def paid(self, pod):
        """Everything owed to ``pod`` is written: wake up only for its replies again."""
        fd = pod.channel.fd
        if fd in self.writing:
            self.writing.discard(fd)
            self._poller.modify(fd, select.POLLIN)

    def poll(self, timeout):
        """Wait up to ``timeout`` seconds; then ``(pod, exited, room, replies)`` for each
        live pod something happened to. Lazily: a pod that the handling of an earlier one
        ended (or unwatched) is skipped."""
        for fd, mask in self._poller.poll(timeout * 1000):
            pod, is_sentinel = self._watched.get(fd, (None, None))
            if pod is None or not pod.alive:
                continue
            yield pod, is_sentinel, bool(mask & select.POLLOUT), bool(mask & ~select.POLLOUT)
