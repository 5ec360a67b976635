"""The notification service: a queue of SMS, a worker in every pod, and an SMS gateway.

``pay`` and ``notify`` only *enqueue* an SMS (fast); each pod's worker thread takes SMS from
the queue and hands them to the gateway, which takes ``sms_seconds`` per message, so
queues build up under load. Where the queue lives is the whole lesson:

* ``state="memory"``: the queue is a list in the pod's memory. Kill the pod and every SMS
  waiting there is gone: Ravi never hears that his payment was sent.
* ``state="redis"``: the queue is a Redis Stream with a consumer group. A worker
  acknowledges (XACK) an SMS only after the gateway has it; an SMS taken by a pod that
  died stays *pending* and a surviving pod reclaims it (XAUTOCLAIM). Nothing is lost, but
  an SMS can be sent twice (the pod died after sending, before acknowledging), so the
  gateway drops duplicates by message id: at-least-once delivery + idempotent receiver.

The **gateway** belongs to the lab, not to the pods: an append-only file of delivery
attempts (one JSON line each, written with O_APPEND so a SIGKILL can't tear a line).
``lab.sms()`` reads it; the audit counts it.
"""

import json
import os
import threading
import time

QUEUE = "sms:queue"
RECLAIM_EVERY = 0.25  # seconds between a worker's looks for SMS a dead pod left pending


class Gateway:
    """The phone company's side: every delivery attempt, in order."""

    def __init__(self, path):
        self.path = path

    def deliver(self, sms: dict, pod: str):
        line = json.dumps(dict(sms, pod=pod, t=time.time())) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def attempts(self) -> list:
        """Every delivery attempt, duplicates included."""
        try:
            with open(self.path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def delivered(self) -> list:
        """What customers received: the first attempt of each message id."""
        seen, out = set(), []
        for sms in self.attempts():
            if sms["id"] not in seen:
                seen.add(sms["id"])
                out.append(sms)
        return out


class Worker:
    """A pod's SMS sender: a daemon thread that drains the queue into the gateway."""

    def __init__(self, state, pod, gateway_path, sms_seconds):
        self.state = state
        self.consumer = f"{pod.name}#{pod.restarts}"  # a restarted pod is a new consumer
        self.pod_name = pod.name
        self.gateway = Gateway(gateway_path)
        self.sms_seconds = sms_seconds
        self.wake = threading.Event()
        self.min_idle = max(1.0, 5 * sms_seconds)  # older than this and unacked: its pod died
        self.stopped = threading.Event()  # a pod's worker runs until the pod dies; a test stops it
        self.thread = threading.Thread(target=self._loop, name="sms-worker", daemon=True)
        self.thread.start()

    def stop(self):
        """End the loop after the SMS in hand (what is queued stays queued)."""
        self.stopped.set()
        self.wake.set()

    def _loop(self):
        next_reclaim = 0.0
        while not self.stopped.is_set():
            try:
                work = []
                if time.monotonic() >= next_reclaim:
                    work = self.state.reclaim(QUEUE, self.consumer, self.min_idle)
                    next_reclaim = time.monotonic() + RECLAIM_EVERY
                entry = self.state.take(QUEUE, self.consumer)
                if entry:
                    work.append(entry)
                for item_id, sms in work:
                    time.sleep(self.sms_seconds)  # the gateway's own latency
                    self.gateway.deliver(sms, self.pod_name)
                    self.state.ack(QUEUE, item_id)  # only now may Redis forget it
                if not work:
                    self.wake.wait(0.05)
                    self.wake.clear()
            except Exception:  # Redis down: wait and try again, like a real worker
                time.sleep(0.1)
