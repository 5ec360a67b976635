"""Lesson 04's write-code exercise: an SMS worker whose order of send and ack loses nothing.

    def deliver_next(queue, send):
        ...      # queue.take() -> (item_id, sms) or None; send(sms); queue.ack(item_id)
    fl.checks.sms_worker(deliver_next)

The grader deploys the learner's worker step on 3 pods sharing one Redis Stream (a
consumer group, as in the lesson) and queues 6 SMS. Each request to ``work`` runs the step
once on one pod. The second step is crashed **on purpose** at a crash point the grader
puts right after the first of the two calls, ``send`` or ``ack``, whichever the worker
makes first: the pod SIGKILLs itself between the two. Then survivors work until the queue
is empty. ``queue.take`` first takes back what a dead worker had taken and not
acknowledged (``XAUTOCLAIM``, as the lesson's workers do; here with no idle time, since
requests run one at a time and nothing else can be in progress).

* Send, then ack: the crash leaves the message pending; a survivor sends it again. A
  duplicate, nothing lost (at least once).
* Ack, then send: the crash has already told Redis "done"; nobody ever sends it. Lost
  (at most once).

The gateway here counts deliveries per message id in Redis (``gateway:<id>``), which
outlives any pod. Nothing depends on timing: one request at a time, a crash at a named
point, not at a moment.
"""

from .report import Report, unanswered

__all__ = ["sms_worker"]

PODS = 3
SEED = 4  # which pod serves which request: the same on every run
QUEUE = "grader:sms"
POINT = "between send and ack"
MESSAGES = 6
CRASHED = 2  # the message whose step is crashed
MAX_STEPS = 30  # a worker that never empties the queue stops here


class Queue:
    """What the learner's worker sees of the queue: ``take`` and ``ack``. With ``send`` it
    notes which of the two comes first in a step and reaches the crash point right after."""

    def __init__(self, state, consumer):
        self._state = state
        self._consumer = consumer
        self._steps = []

    def take(self):
        """The next ``(item_id, sms)`` for this worker (a dead worker's first), or None."""
        reclaimed = self._state.reclaim(QUEUE, self._consumer, 0)
        if reclaimed:
            return reclaimed[0]
        return self._state.take(QUEUE, self._consumer)

    def ack(self, item_id):
        """Tell Redis this message is done: it will never be handed out again."""
        self._state.ack(QUEUE, item_id)
        self._step("ack")

    def send(self, sms):
        """Hand ``sms`` to the gateway (which records every delivery, repeats included)."""
        if not isinstance(sms, dict) or "id" not in sms:
            raise TypeError(f"send takes the sms that queue.take() gave you, not {sms!r:.40}")
        self._state.incr(f"gateway:{sms['id']}")
        self._step("send")

    def _step(self, what):
        import finpay_lab as fl

        self._steps.append(what)
        if len(self._steps) == 1:
            fl.crash_point(POINT)  # armed for one step only: the pod dies right here


def sms_worker(deliver_next) -> bool:
    """Exercise 4.3: run ``deliver_next(queue, send)`` on 3 pods, crash one step between its
    send and its ack, and check that no message is lost."""
    if unanswered("Exercise 4.3 (deliver_next)", deliver_next):
        return False
    import finpay_lab as fl

    report = Report("Exercise 4.3")
    app = fl.App("sms-worker")

    @app.endpoint
    def enqueue(state, n: int):
        state.take(QUEUE, "setup")  # the queue is empty: this only creates the consumer group
        return [state.enqueue(QUEUE, {"id": f"sms-{i}", "to": f"cust-{i:03d}"}) for i in range(1, n + 1)]

    @app.endpoint
    def work(state):
        queue = Queue(state, fl.this_pod().name)
        deliver_next(queue, queue.send)
        return queue._steps

    @app.endpoint
    def books(state):
        return {
            "backlog": state.backlog(QUEUE),
            "sent": {k[len("gateway:") :]: state.get(k) for k in state.keys("gateway:")},
        }

    with fl.Lab(pods=PODS, state="redis", balancer="random", seed=SEED, app=app) as lab:
        lab.call("enqueue", n=MESSAGES)
        first = lab.call("work")
        if not first.ok:
            report.claim(
                "one step of your worker runs", held=False, detail=f"{first.pod} answered: {first.error}"
            )
            return report.show(
                hint="deliver_next(queue, send) raised an error: read it, fix it and run both cells again"
            )
        order = first.value
        lab.crash_at(POINT, endpoint="work", times=1)
        lab.call("work")  # the pod dies between the two calls
        died = [pod.name for pod in lab.pods if pod.status == "dead"]
        report.claim(
            "the lab crashed one step of your worker between its send and its ack",
            held=bool(died),
            detail=f"{died[0]} was killed right after its step's first call, {order[0]!r}"
            if died and order
            else f"your step made the calls {order}: it must take one SMS, send it and ack it",
        )
        if not died:
            return report.show(
                hint="one step takes one SMS (queue.take()), sends it (send(sms)) and acknowledges it (queue.ack(item_id))"
            )
        steps = 0
        while steps < MAX_STEPS:
            steps += 1
            reply = lab.call("work")
            if not reply.ok or not reply.value:  # an error, or nothing left to take
                break
        end = lab.call("books").value
    sent = {f"sms-{i}": end["sent"].get(f"sms-{i}") or 0 for i in range(1, MESSAGES + 1)}
    lost = [sms for sms, n in sent.items() if n == 0]
    repeated = {sms: n for sms, n in sent.items() if n > 1}
    report.claim(
        f"every one of the {MESSAGES} SMS reached the gateway, despite the crash",
        held=not lost,
        detail=_lost(lost, order, died[0]) if lost else f"{MESSAGES} of {MESSAGES} sent",
    )
    report.claim(
        "in the end every SMS was acknowledged (none left pending in Redis)",
        held=end["backlog"] == 0,
        detail=f"{end['backlog']} still pending after {steps} more steps" if end["backlog"] else "",
    )
    twice = ", ".join(f"{sms} {n} times" for sms, n in repeated.items())
    return report.show(
        hint="acknowledge only after the gateway has the message (send, then ack): a crash between them then "
        "repeats a message instead of losing it",
        explain=f"Send, then ack: the crash left the message pending and a survivor sent it again ({twice or 'no repeat'}). "
        "That is at-least-once delivery; the receiver, or the sender's own record of what it sent, must drop the repeat.",
    )


def _lost(lost, order, victim):
    if order and order[0] == "ack":
        return (
            f"{', '.join(lost)} never sent: the worker on {victim} acknowledged it first and died before sending "
            "it, and Redis never hands out an acknowledged message again"
        )
    return f"{', '.join(lost)} never sent: the worker did not get to them"
