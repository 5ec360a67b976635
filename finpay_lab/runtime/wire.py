"""How requests and replies cross the pipe between the lab and a pod.

Two encodings, for two very different jobs:

* The **app** (your handler functions) is shipped to a pod **once**, with dill and
  ``recurse=True``: that is what lets a handler written in a notebook cell, using the cell's
  imports and globals, run inside another process.
* **Requests and replies** are plain data, sent thousands of times a second. They cross as
  bytes with the standard library's pickle: multiprocess's own ``send``/``recv`` would
  pickle them with dill (~130 µs a round trip measured here) against ~38 µs for
  bytes + stdlib pickle on the same pipe.

On the pipe, each message is a 4-byte length and the pickled bytes (the framing
multiprocess's ``Connection`` uses, so both can share a pipe). A ``Channel`` reads
*everything waiting* in one ``os.read`` and splits it into messages: when a pod answers
four pipelined requests, the lab wakes up once, not four times.

The lab never waits to write. Its end of each pipe is non-blocking: a message goes into
the channel's outgoing buffer whole, the pipe takes what it can, and the rest leaves when
the lab's ``poll`` says the pipe has room again (``POLLOUT``), while the lab keeps reading
replies. Otherwise a big request (the lab blocked writing) meeting a big reply (the pod
blocked writing) would wait for each other forever. A pod may block on a write: the lab is
always reading.

Message shapes (tuples, so pickling is fast):

    request   rid (8 bytes), then (endpoint, params) pickled: a pod can answer a request
              whose params it cannot unpickle, because the rid is outside the pickle
    reply     (rid, ok, value, error, service_seconds, cause)   cause: why it failed, a
              ``Cause``'s word ("crashed", "rejected"...) or None
    ready     (READY, pid, None, None, 0.0, None)     sent once by a pod when it can serve
"""

import importlib
import io
import os
import pickle
import struct
import sys
import types

import dill

from .history import Cause

READY = -1  # the rid of a pod's "I am ready" message
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _AppPickler(dill.Pickler):
    """dill, except that importable modules travel by name.

    dill copies *by value* every module that is not installed under ``sys.prefix`` (an
    editable install, a module beside the notebook): a handler using ``fl.this_pod()``
    would try to ship all of finpay_lab, and fail. A pod can import such modules itself.
    """

    dispatch = dill.Pickler.dispatch.copy()


def _save_module(pickler, module):
    name = module.__name__
    if name != "__main__" and sys.modules.get(name) is module:
        pickler.save_reduce(importlib.import_module, (name,), obj=module)
    else:
        dill.Pickler.dispatch[types.ModuleType](pickler, module)


_AppPickler.dispatch[types.ModuleType] = _save_module


def ship_app(app) -> bytes:
    """Serialize an App once, by value, so handlers from ``__main__`` or a notebook work."""
    buffer = io.BytesIO()
    _AppPickler(buffer, recurse=True).dump(app)
    return buffer.getvalue()


def load_app(blob: bytes):
    return dill.loads(blob)


_RID = struct.Struct("!q")


def encode_request(rid: int, endpoint: str, params: dict) -> bytes:
    return _RID.pack(rid) + pickle.dumps((endpoint, params), _PROTOCOL)


def request_rid(data: bytes) -> int:
    """The rid of a request, readable even when its params are not."""
    return _RID.unpack_from(data)[0]


def decode_request(data: bytes) -> tuple:
    """``(rid, endpoint, params)``; raises if the params cannot be unpickled here."""
    endpoint, params = pickle.loads(memoryview(data)[_RID.size :])
    return request_rid(data), endpoint, params


def encode_reply(rid: int, ok: bool, value, error, service: float, cause: str | None = None) -> bytes:
    try:
        return pickle.dumps((rid, ok, value, error, service, cause), _PROTOCOL)
    except Exception as exc:  # the handler returned something that cannot cross a pipe
        msg = f"the reply could not be sent back: {type(exc).__name__}: {exc}"
        return pickle.dumps((rid, False, None, msg, service, Cause.BAD_REPLY.value), _PROTOCOL)


def decode_reply(data: bytes) -> tuple:
    return pickle.loads(data)


_HEADER = struct.Struct("!i")


class Channel:
    """Length-prefixed messages over one end of a pipe (a multiprocess Connection).

    ``nonblocking=True`` (the lab's end): ``send`` never waits; what the pipe cannot take
    yet stays in ``pending`` bytes until ``flush``. A message is buffered whole before any
    of it is written, so an interrupted caller (Ctrl-C) never leaves half a message.
    """

    def __init__(self, conn, nonblocking=False):
        self.conn = conn  # kept so the fd stays open as long as the channel
        self.fd = conn.fileno()
        self._buffer = bytearray()
        self._out = bytearray()
        self.nonblocking = nonblocking
        if nonblocking:
            os.set_blocking(self.fd, False)

    @property
    def pending(self) -> int:
        """Bytes buffered, not yet taken by the pipe."""
        return len(self._out)

    def send(self, payload: bytes):
        self.send_many((payload,))

    def send_many(self, payloads):
        data = b"".join(_HEADER.pack(len(p)) + p for p in payloads)
        if not self.nonblocking:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
            return
        if not self._out:  # the common case: the pipe takes a small message whole
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                n = 0
            if n == len(data):
                return
            data = memoryview(data)[n:]
        self._out += data
        self.flush()

    def flush(self):
        """Write what the pipe takes now, without waiting; True when nothing is left.

        Raises OSError (BrokenPipeError) if the other end is gone."""
        out = self._out
        while out:
            try:
                n = os.write(self.fd, out)
            except BlockingIOError:
                return False
            del out[:n]
        return True

    def discard(self):
        self._out.clear()

    def receive(self) -> list:
        """Every whole message waiting. A blocking channel waits for at least one; a
        non-blocking one returns ``[]`` when only part of a message has arrived.

        Raises EOFError when the other end is closed (the other process is gone).
        """
        messages = []
        while not messages:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return messages
            if not chunk:
                raise EOFError("the other end of the pipe closed")
            buffer = self._buffer
            buffer += chunk
            start = 0
            while len(buffer) - start >= 4:
                (size,) = _HEADER.unpack_from(buffer, start)
                end = start + 4 + size
                if end > len(buffer):
                    break
                messages.append(bytes(buffer[start + 4 : end]))
                start = end
            del buffer[:start]
        return messages
