"""Chaos: faults scheduled into a run, the way a chaos monkey (or a bad night) would.

    lab.run(shape, chaos=[fl.chaos.kill("pod-2", after=300),
                          fl.chaos.monkey(every=1.0),
                          fl.chaos.pause("pod-1", at=1.0, seconds=0.5),
                          fl.chaos.redis_down(at=2.0, seconds=0.5),
                          fl.chaos.redis_slow(at=3.0, seconds=1.0, delay=0.005),
                          fl.chaos.redis_crash(at=4.0),
                          fl.chaos.remove("pod-3", how="kubernetes", at=1.0),
                          fl.chaos.rollout(app=payment_api_v2, at=1.0),
                          fl.chaos.crash_at("after_debit", endpoint="pay", times=1)])

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
* ``redis_crash``: SIGKILL the Redis server itself, and start it again on the same port.
  An in-memory Redis comes back **empty** (``redis="fake"``, or ``"real"`` without
  persistence): every session, cached balance and queued SMS is gone, and with the books
  in Redis, the money too. With ``fl.Lab(redis="real", redis_persistence="aof")`` it
  replays its append-only file and comes back with every acknowledged write. Pods
  reconnect by themselves; requests sent while it was dead fail with "Redis is
  unreachable". The run waits while it comes back: ~30 ms for the real one, ~60 ms for
  the embedded one, which its helper forks (measured on 2 busy cores,
  ``benchmarks/stores.py``; a fresh Python process took 0.3-3 s to import fakeredis).
* ``crash_at``: arm a named point in the handlers (``fl.crash_point("after_debit")``): the
  next ``times`` requests to reach it SIGKILL their own pod right there, in the middle of
  the handler (``runtime/points.py``). The same outside a run: ``lab.crash_at(...)``, or
  ``fl.chaos.crash_at(...).apply(lab)``.
* ``pause_at``: hold the next ``times`` requests that reach the point, and let them all go
  once nothing else in the run can move: two pods made to read one balance before either
  writes it, every time (the lost update, on purpose).

* ``remove``: take a pod away for good, ``how``: "abrupt" (SIGKILL), "graceful" (drain,
  then SIGTERM) or "kubernetes" (SIGTERM while the balancer still routes to it for
  ``propagation`` seconds, unless a ``pre_stop`` sleep covers that): ``lab.remove``.
* ``rollout``: a rolling update (``lab.rollout``) that proceeds while the run keeps
  sending; the run lasts until it is done.

Each fault is a ``Fault`` (``runtime/faults.py``: what a run asks of one) saying how it
starts, whether it is still going, and how it stops.
"""

from dataclasses import dataclass

from .. import defaults
from ..errors import BadInput
from ..runtime import rollout as rolling
from ..runtime import termination
from ..runtime.app import App
from ..runtime.faults import Fault


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
            active.record(
                active.target,
                f"pause {active.target} for {self.seconds:g} s (SIGSTOP)",
                end=active.began + self.seconds,
            )
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
            raise BadInput(
                "Redis faults need state='redis' with a Redis the lab runs (redis='fake' or 'real')"
            )

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
            raise BadInput(
                "redis_slow needs state='redis' with the embedded Redis (redis='fake'): it delays "
                "each command inside the server, which a real redis-server cannot do"
            )

    def start(self, active):
        active.record(
            None,
            f"redis slow (+{self.delay * 1e3:g} ms a command) for {self.seconds:g} s",
            end=active.began + self.seconds,
        )
        active.lab.redis.slow(self.delay)

    def ongoing(self, active, now):
        return now - active.began < self.seconds

    def stop(self, active):
        active.lab.redis.slow(0)


@dataclass
class RedisCrash(Fault):
    lasts = False

    def check(self, lab):
        if lab.state != "redis" or lab.redis.process is None:
            raise BadInput(
                "redis_crash needs state='redis' with a Redis the lab runs (redis='fake' or "
                "'real'); a StatefulSet's pods are killed with store.kill(name)"
            )

    def start(self, active):
        redis = active.lab.redis
        lab = active.lab
        active.record(None, f"redis crash: SIGKILL the {redis.kind} Redis server")
        crashed = len(lab.history.events) - 1
        pid = redis.crash()
        kept = "replayed its append-only file" if redis.persistence == "aof" else "empty"
        lab.record_event(None, "redis", f"restarted on the same port, {kept}", pid=pid)
        lab.history.end_event(crashed, lab.now())  # the fault lasts while it was dead


@dataclass
class Remove(Fault):
    pod: str | None = None
    how: str = "graceful"
    options: dict | None = None
    seed: int | None = None

    def start(self, active):
        name = active.pick(self.pod)
        if name is None:
            active.record(self.pod, f"remove {self.pod or 'a random pod'}: no such live pod, nothing removed")
            return
        active.record(name, f"remove {name} ({self.how})")
        active.target = active.lab.remove(name, wait=False, **self.options)

    def ongoing(self, active, now):
        return active.target is not None and not active.target.done


@dataclass
class Rollout(Fault):
    app: object = None
    max_surge: int = 1
    max_unavailable: int = 0

    def check(self, lab):
        if lab.rolling_out is not None:
            raise BadInput(f"a rollout is already in progress ({lab.rolling_out!r}): wait for it to finish")

    def start(self, active):
        active.record(None, "rollout " + ("(restart)" if self.app is None else f"of app {self.app.name!r}"))
        try:
            active.target = active.lab.rollout(self.app, self.max_surge, self.max_unavailable, wait=False)
        except BadInput as exc:  # another rollout started meanwhile: this one is refused, the run goes on
            active.lab.record_event(None, "fault", f"rollout refused: {exc}")

    def ongoing(self, active, now):
        return active.target is not None and not active.target.done

    def stop(self, active):
        if active.target is not None and active.target.error:
            active.lab.record_event(None, "fault", active.target.error)


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


def redis_crash(at=None, after=None) -> Fault:
    """SIGKILL the Redis server ``at`` seconds in (or ``after`` N requests) and start it again:
    empty, or from its append-only file with ``redis_persistence="aof"``."""
    return RedisCrash(at=at, after=after)


def remove(
    pod=None,
    how="graceful",
    at=None,
    after=None,
    propagation=defaults.PROPAGATION_DELAY,
    pre_stop=0.0,
    grace=defaults.GRACE_PERIOD,
    seed=None,
) -> Fault:
    """Remove ``pod`` (or a random live pod) ``how`` ("abrupt", "graceful", "kubernetes"),
    ``at`` seconds in or ``after`` N requests; the run lasts until it is gone."""
    options = termination.check(how, propagation, pre_stop, grace)
    return Remove(at=at, after=after, pod=pod, how=how, options=options, seed=seed)


def rollout(app=None, at=None, after=None, max_surge=1, max_unavailable=0) -> Fault:
    """A rolling update to ``app`` (None: restart every pod with the same app) ``at``
    seconds in, or ``after`` N requests; the run keeps sending while it proceeds."""
    rolling.check(max_surge, max_unavailable)
    if app is not None and not isinstance(app, App):
        raise BadInput(f"app must be an fl.App (the new version to roll out), not {type(app).__name__}")
    return Rollout(at=at, after=after, app=app, max_surge=max_surge, max_unavailable=max_unavailable)


@dataclass
class CrashAt(Fault):
    point: str = ""
    endpoint: str | None = None
    times: int = 1
    lasts = False

    def check(self, lab):
        if self.endpoint is not None and self.endpoint not in lab.app:
            raise BadInput(
                f"crash_at(endpoint={self.endpoint!r}): the lab's app has no such endpoint "
                f"(it has: {', '.join(sorted(lab.app.endpoints))})"
            )

    def start(self, active):
        self.apply(active.lab)
        active.record(
            None,
            f"crash at {self.point!r}"
            + (f" in {self.endpoint}" if self.endpoint else "")
            + f", {self.times}×",
        )

    def apply(self, lab):
        """Arm it now, outside a run: ``fl.chaos.crash_at("after_debit").apply(lab)``."""
        self.check(lab)
        return lab.crash_at(self.point, self.endpoint, self.times)


@dataclass
class PauseAt(CrashAt):
    lasts = True

    def start(self, active):
        active.arm = active.lab.pause_at(self.point, self.endpoint, self.times)
        active.record(
            None,
            f"hold at {self.point!r}"
            + (f" in {self.endpoint}" if self.endpoint else "")
            + f", {self.times}×",
        )

    def ongoing(self, active, now):
        # Holding until the run has sent everything and nothing but held requests is in flight.
        return active.sent is not None or not active.lab.points.stuck()

    def stop(self, active):
        active.lab.points.disarm(active.arm)  # tickets not taken are taken now: it fires no more
        active.lab.release()

    def apply(self, lab):
        self.check(lab)
        return lab.pause_at(self.point, self.endpoint, self.times)


def _point(point, endpoint, times):
    if not isinstance(point, str) or not point:
        raise BadInput(f"name the point with a string like 'after_debit', not {point!r:.40}")
    if endpoint is not None and not isinstance(endpoint, str):
        raise BadInput(f"endpoint must be an endpoint's name (a string) or None, not {endpoint!r:.40}")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise BadInput(
            f"times must be a whole number >= 1 (how often the point fires in the lab), not {times!r:.40}"
        )
    return {"point": point, "endpoint": endpoint, "times": times}


def crash_at(point, endpoint=None, times=1, at=None, after=None) -> Fault:
    """SIGKILL the pod of each of the next ``times`` requests (of ``endpoint``, or any) that
    reach ``fl.crash_point(point)``, right there. A point never reached never fires."""
    return CrashAt(at=at, after=after, **_point(point, endpoint, times))


def pause_at(point, endpoint=None, times=2, at=None, after=None) -> Fault:
    """Hold the next ``times`` requests that reach ``point``; release them together once
    nothing else in the run can move (every request in flight is held)."""
    return PauseAt(at=at, after=after, **_point(point, endpoint, times))
