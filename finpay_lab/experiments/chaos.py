"""Chaos: faults scheduled into a run, the way a chaos monkey (or a bad night) would.

    lab.run(shape, chaos=[fl.chaos.kill("pod-2", after=300),
                          fl.chaos.monkey(every=1.0),
                          fl.chaos.pause("pod-1", at=1.0, seconds=0.5),
                          fl.chaos.redis_down(at=2.0, seconds=0.5),
                          fl.chaos.redis_slow(at=3.0, seconds=1.0, delay=0.005)])

A fault starts ``at`` seconds into the run, or ``after`` that many requests have been
sent (exactly reproducible, whatever the machine's speed). A pod left as ``None`` is
chosen at random among the live pods, from the lab's seed. Every fault is written into
the run's history as a ``fault`` event with its start and end, for the plots.

* ``kill``: SIGKILL, like a node dying.
* ``monkey``: a kill of a random pod every ``every`` seconds (on average).
* ``pause``: SIGSTOP, then SIGCONT: the process is alive but answers nothing (a GC pause,
  a stuck disk): the balancer keeps sending it work, which waits.
* ``redis_down``: Redis refuses connections for a while, then comes back with its data.
  The same on ``redis="fake"`` and ``redis="real"``: the server stops listening (new
  connections are refused at once) and drops the open ones, as a crashed server looks
  from outside; it keeps its keys, as one with persistence would after a restart.
* ``redis_slow``: every Redis command takes ``delay`` longer.
"""

import random
from dataclasses import dataclass

from ..errors import BadInput


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
        if self.after is not None and (isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0):
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

    @property
    def holds_the_run(self):
        """A started fault with a set duration keeps the run open until it ends."""
        return self.began is not None and not self.done and not self.fault.open_ended

    def tick(self, now, sent):
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
        live = [p.name for p in self.lab.pods if p.status in ("ready", "busy")]
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


@dataclass
class Kill(Fault):
    pod: str | None = None
    seed: int | None = None
    lasts = False

    def start(self, active):
        name = active.pick(self.pod)
        if name is None:
            active.record(self.pod, f"kill {self.pod or 'a random pod'}: no such live pod, nothing killed")
            return
        active.record(name, f"kill {name} (SIGKILL)")
        active.lab.kill(name)



@dataclass
class Monkey(Fault):
    """Kill a random live pod every ``every`` seconds on average (exponential gaps)."""

    every: float = 1.0
    stop_at: float | None = None
    seed: int | None = None
    open_ended = True

    def start(self, active):
        active.next_at = active.began + active.rng.expovariate(1 / self.every)

    def ongoing(self, active, now):
        if self.stop_at is not None and now - active.started >= self.stop_at:
            return False
        if now >= active.next_at:
            name = active.pick(None)
            if name:
                active.lab.record_event(name, "fault", f"monkey kills {name} (SIGKILL)")
                active.lab.kill(name)
            active.next_at = now + active.rng.expovariate(1 / self.every)
        return True  # a monkey runs until the run ends


@dataclass
class Pause(Fault):
    pod: str | None = None
    seconds: float = 1.0
    seed: int | None = None

    def start(self, active):
        active.target = active.pick(self.pod)
        if active.target:
            active.record(active.target, f"pause {active.target} for {self.seconds:g} s (SIGSTOP)",
                          end=active.began + self.seconds)
            active.lab.pause(active.target)

    def ongoing(self, active, now):
        return active.target is not None and now - active.began < self.seconds

    def stop(self, active):
        if active.target:
            active.lab.resume(active.target)


@dataclass
class RedisDown(Fault):
    seconds: float = 1.0

    def check(self, lab):
        if lab.state != "redis" or lab.redis.process is None:
            raise BadInput("Redis faults need state='redis' with a Redis the lab runs (redis='fake' or 'real')")

    def start(self, active):
        active.record(None, f"redis down for {self.seconds:g} s", end=active.began + self.seconds)
        active.lab.redis.down()

    def ongoing(self, active, now):
        return now - active.began < self.seconds

    def stop(self, active):
        active.lab.redis.up()


@dataclass
class RedisSlow(Fault):
    seconds: float = 1.0
    delay: float = 0.005

    def check(self, lab):
        if lab.state != "redis" or lab.redis.kind != "fake":
            raise BadInput("redis_slow needs state='redis' with the embedded Redis (redis='fake'): it delays "
                           "each command inside the server, which a real redis-server cannot do")

    def start(self, active):
        active.record(None, f"redis slow (+{self.delay * 1e3:g} ms a command) for {self.seconds:g} s",
                      end=active.began + self.seconds)
        active.lab.redis.slow(self.delay)

    def ongoing(self, active, now):
        return now - active.began < self.seconds

    def stop(self, active):
        active.lab.redis.slow(0)


def _duration(seconds, what="seconds"):
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
        raise BadInput(f"{what} must be between 0 and 600, not {seconds!r}")
    return seconds


def kill(pod=None, at=None, after=None, seed=None) -> Fault:
    """SIGKILL ``pod`` (or a random live pod) ``at`` seconds in, or ``after`` N requests."""
    return Kill(at=at, after=after, pod=pod, seed=seed)


def monkey(every=1.0, at=None, after=None, stop=None, seed=None) -> Fault:
    """Kill a random live pod every ``every`` seconds on average, until the run ends."""
    return Monkey(at=at, after=after, every=_duration(every, "every"), stop_at=stop, seed=seed)


def pause(pod=None, at=None, seconds=1.0, after=None, seed=None) -> Fault:
    """SIGSTOP ``pod`` for ``seconds``, then SIGCONT."""
    return Pause(at=at, after=after, pod=pod, seconds=_duration(seconds), seed=seed)


def redis_down(at=None, seconds=1.0, after=None) -> Fault:
    """Take Redis off the network for ``seconds``; it comes back with its data."""
    return RedisDown(at=at, after=after, seconds=_duration(seconds))


def redis_slow(at=None, seconds=1.0, delay=0.005, after=None) -> Fault:
    """Add ``delay`` seconds to every Redis command for ``seconds``."""
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 < delay <= 1:
        raise BadInput(f"delay must be between 0 and 1 s, not {delay!r}")
    return RedisSlow(at=at, after=after, seconds=_duration(seconds), delay=delay)
