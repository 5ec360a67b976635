"""What a run asks of a fault: the base class of every fault in ``experiments/chaos.py``.

``lab.run(..., chaos=[...])`` drives its faults without knowing what they do: it binds each
to the run (``bind``: refused at once by ``check`` if this lab cannot have it), ticks them
as the run goes (``tick``: start when due, stop when no longer ``ongoing``) and finishes
them when the run ends, interrupted or not (``finish``: a paused pod is resumed). A fault
subclass says how it ``start``s, whether it is still ``ongoing``, and how it ``stop``s.
"""

import random
from dataclasses import dataclass

from ..errors import BadInput
from .pods import SERVING


@dataclass
class Fault:
    """What to do and when; ``bind`` makes the live copy that one run drives."""

    at: float | None = None
    after: int | None = None

    def __post_init__(self):
        if self.at is None and self.after is None:
            self.at = 0.0
        if self.at is not None and (not isinstance(self.at, int | float) or self.at < 0):
            raise BadInput(f"at must be seconds ≥ 0 into the run, not {self.at!r}")
        if self.after is not None and (
            isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0
        ):
            raise BadInput(f"after must be a number of requests ≥ 0, not {self.after!r}")

    def bind(self, lab, started):
        self.check(lab)
        return _Active(self, lab, started)

    def check(self, lab):
        """Refuse, before the run sends anything, a fault this lab cannot have."""

    def due(self, elapsed, sent):
        if self.after is not None:
            return sent is not None and sent >= self.after
        return elapsed >= self.at

    # A subclass says how it starts, whether it is still going, and how it stops.
    seconds = 0.0
    lasts = True  # False: a one-off (a kill); True: on until ongoing() says otherwise
    open_ended = False  # True: runs until the run ends (the monkey)

    def start(self, active):
        raise NotImplementedError

    def ongoing(self, active, now):
        return False

    def stop(self, active):
        pass


class _Active:
    """One fault during one run: started once, stopped once, recorded as an event."""

    def __init__(self, fault, lab, started):
        self.fault, self.lab, self.started = fault, lab, started
        self.rng = random.Random(f"{lab.seed}:chaos:{getattr(fault, 'seed', None)}")
        self.began = None
        self.done = False
        self._event_index = None
        self.target = None
        self.next_at = None
        self.sent = 0

    @property
    def holds_the_run(self):
        """A started fault with a set duration keeps the run open until it ends."""
        return self.began is not None and not self.done and not self.fault.open_ended

    def tick(self, now, sent):
        self.sent = sent  # None once the run has sent everything and is settling
        if self.done:
            return
        if self.began is None:
            if self.fault.due(now - self.started, sent):
                self.began = now
                self.fault.start(self)
                self.done = not self.fault.lasts
        elif not self.fault.ongoing(self, now):
            self.finish(now)

    def finish(self, now):
        if self.done:
            return
        if self.began is not None:
            self.fault.stop(self)
            self.record_end(now)
        self.done = True

    def pick(self, name):
        """The named pod, or a random live one (seeded)."""
        live = [p.name for p in self.lab.pods if p.status in SERVING]
        if name is not None:
            return name if name in live else None
        return self.rng.choice(live) if live else None

    def record(self, pod, detail, end=None):
        self.lab.record_event(pod, "fault", detail, end=end)
        self._event_index = len(self.lab.history.events) - 1

    def record_end(self, now):
        i = self._event_index
        if i is not None and self.fault.seconds:
            self.lab.history.end_event(i, now)
