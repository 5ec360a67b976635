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

Message shapes (tuples, so pickling is fast):

    request   (rid, endpoint, params)
    reply     (rid, ok, value, error, service_seconds)
    ready     (READY, pid, None, None, 0.0)     sent once by a pod when it can serve
"""

import importlib
import io
import os
import pickle
import struct
import sys
import types

import dill

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


def encode_request(rid: int, endpoint: str, params: dict) -> bytes:
    return pickle.dumps((rid, endpoint, params), _PROTOCOL)


def decode_request(data: bytes) -> tuple:
    return pickle.loads(data)


def encode_reply(rid: int, ok: bool, value, error, service: float) -> bytes:
    try:
        return pickle.dumps((rid, ok, value, error, service), _PROTOCOL)
    except Exception as exc:  # the handler returned something that cannot cross a pipe
        msg = f"the reply could not be sent back: {type(exc).__name__}: {exc}"
        return pickle.dumps((rid, False, None, msg, service), _PROTOCOL)


def decode_reply(data: bytes) -> tuple:
    return pickle.loads(data)


_HEADER = struct.Struct("!i")


class Channel:
    """Length-prefixed messages over one end of a pipe (a multiprocess Connection)."""

    def __init__(self, conn):
        self.conn = conn  # kept so the fd stays open as long as the channel
        self.fd = conn.fileno()
        self._buffer = bytearray()

    def send(self, payload: bytes):
        self.send_many((payload,))

    def send_many(self, payloads):
        data = b"".join(_HEADER.pack(len(p)) + p for p in payloads)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def receive(self) -> list:
        """Block until at least one whole message is here; return every whole message.

        Raises EOFError when the other end is closed (the other process is gone).
        """
        messages = []
        while not messages:
            chunk = os.read(self.fd, 1 << 16)
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
                messages.append(bytes(buffer[start + 4:end]))
                start = end
            del buffer[:start]
        return messages
