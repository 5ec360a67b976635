"""The HorizontalPodAutoscaler: Kubernetes' arithmetic, every period, in words.

    hpa = fl.HPA(min=3, max=30, target=0.8)
    hpa.decide(now=1.0, current=3, utilizations=[0.97, 0.95, 0.99])
    # Decision(... "mean 97% of 3 ready pods: ceil(3 × 0.97 / 0.80) = 4 → 4")

An HPA looks at its pods once a **period** and sets the Deployment's replica count. This is
the algorithm of Kubernetes' controller (``pkg/controller/podautoscaler``: ``horizontal.go``
and ``replica_calculator.go``) with the default ``behavior`` of ``autoscaling/v2``, rule
for rule; the only liberty is time (below).

1. **Metric.** The mean utilization of the pods that count, in whole percent, rounded down
   as Kubernetes does (``sum(usage) × 100 // sum(requests)``, usage in millicores).
2. **Recommendation.** ``ratio = utilization / target``. While ``1 − tolerance ≤ ratio ≤
   1 + tolerance`` nothing changes. Otherwise ``desired = ceil(ratio × ready pods)``.
3. **Who counts.** Only *ready* pods with a measurement of the whole period count. A pod
   still starting (or ready for less than a period) is *not ready*: left out; and if the
   pods that count ask to scale **up**, each not-ready pod is counted in as 0% busy (a new
   pod will soon take load, so Kubernetes does not over-react). A ready pod with **no**
   measurement (*missing*) counts as 100% busy when scaling **down** and 0% when scaling
   **up**: both damp the change. If filling them in flips the direction, or lands within
   the tolerance, nothing changes. With no measurement at all, nothing changes.
   (Kubernetes applies "not ready" this way for a pod's first 5 minutes, its CPU
   initialization period; an older pod that fails its readiness check still counts with
   its metric. Lab pods are young, so the first rule is the one that applies.)
4. **Stabilization window** (scale down). The HPA remembers its recommendations; it never
   goes below the highest one of the last ``scale_down_window`` seconds (Kubernetes: 300 s).
   So a short lull does not throw pods away that the next burst needs.
5. **Rate limit** (scale up). At most ``max(+4 pods, +100%)`` per period, counted from the
   replica count at the start of the period (Kubernetes' default policies: 4 pods and
   100% per 15 s, ``selectPolicy: Max``). Scale down: 100% per period, so no limit.
6. **Clamp** to ``[min, max]``. A Deployment already outside them is brought back at once;
   one scaled to 0 by hand is left alone (Kubernetes: "scaling is disabled").

**The liberty: time.** Kubernetes syncs every 15 s, its policies count per 15 s and its
stabilization window is 300 s. Here one ``period`` (default 1 s) stands for those 15 s, and
the window is ``scale_down_window`` seconds (default 5 s), so a lesson's surge fits in a
minute. The arithmetic of each step is unchanged; a real cluster is 15× slower, and a new
pod there takes seconds to minutes (image pull, start-up) before it is ready.

**Two metrics, two climbs** (``benchmarks/autoscale.py``). The lab's metric, the share of
a period a pod was busy, cannot pass 100%. At target 80% the HPA can then ask for at most
100/80 = 1.25× the pods it counts, each period: from 3 to 30 under a step load it climbs
3 → 4 → 5 → 7 → 9 → 12 → 15 → 19 → 24 → 30, nine periods, and the rate limit of rule 5
never binds (a decision at 100% says so: "100% is the cap"). CPU measured against a
*request* below the container's *limit* is not capped (250m requested, a core used: 400%):
the metric shows how far behind the pods are, and only the rate limit holds the HPA back:
3 → 7 → 14 → 28 → 30, four periods. Kubernetes is no faster for a single-threaded server
requesting one core; that is why production HPAs also scale on queue length or request
rate. In the lab a new pod also counts as not ready for its first period (rule 3), so the
real climb takes about twice as many periods as these paths (``autoscaling.py``).

(An HPA object *without* a ``behavior`` field takes an older code path in Kubernetes:
scale up to ``max(2 × current, 4)``, not ``max(current + 4, 2 × current)``. Manifests the
lab writes spell the default behaviour out, so they mean what this class does.)
"""

import math
from dataclasses import dataclass

from .. import defaults
from ..errors import BadInput

__all__ = ["HPA", "Decision"]

# Kubernetes' default scale-up policies (autoscaling/v2 defaults.go): +4 pods or +100% per
# policy period, whichever allows more (selectPolicy Max). Scale down: 100% per period.
SCALE_UP_PODS = 4
SCALE_UP_PERCENT = 100
SCALE_DOWN_PERCENT = 100


@dataclass(frozen=True, slots=True)
class Decision:
    """One period's decision.

    ``time``: lab seconds; ``replicas``: the replica count before (the Deployment's, not
    the number alive); ``ready``: pods whose utilization counted; ``unready``/``missing``:
    pods set aside (see the module doc); ``utilization``: their mean, as Kubernetes rounds
    it (None without metrics); ``desired``: the raw recommendation, before the window and
    the limits; ``new_replicas``: the count after every rule; ``arithmetic``: why, in words.
    """

    time: float
    replicas: int
    ready: int
    utilization: float | None
    desired: int
    new_replicas: int
    arithmetic: str
    unready: int = 0
    missing: int = 0

    @property
    def scaled(self):
        """True when this decision changed the replica count."""
        return self.new_replicas != self.replicas

    def __str__(self):
        return f"{self.time:8.3f}s  {self.arithmetic}"


class HPA:
    """A HorizontalPodAutoscaler: ``min``..``max`` replicas, aiming at ``target`` utilization.

    ``target`` is a fraction (0.8 = 80%; Kubernetes takes whole percents, so does this);
    ``period``: seconds between decisions (Kubernetes: 15 s); ``tolerance``: no change while
    the metric is within this fraction of the target (Kubernetes: 0.1); ``scale_down_window``:
    seconds of recommendations a scale-down respects (Kubernetes: 300 s). See the module doc.

    The lab calls ``decide`` once a period; ``decisions`` lists them all.
    """

    def __init__(self, min, max, target, period=1.0, tolerance=0.1, scale_down_window=5.0):
        for name, value in (("min", min), ("max", max)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInput(
                    f"HPA {name} must be a whole number of pods, like min=3, max=30; not {value!r}"
                )
        if min < 1:
            raise BadInput(f"HPA min must be at least 1 pod (pass e.g. min=3), not {min}")
        if max < min:
            raise BadInput(f"HPA max must be at least min: pass max ≥ {min}, not max={max}")
        if max > defaults.MAX_PODS:
            raise BadInput(
                f"HPA max can be at most {defaults.MAX_PODS} pods (the most a lab runs), not {max}"
            )
        if not _real(target) or not 0 < target <= 1:
            raise BadInput(f"HPA target is a utilization in (0, 1], like target=0.8 for 80%; not {target!r}")
        if abs(target * 100 - round(target * 100)) > 1e-9:
            raise BadInput(
                f"HPA target must be a whole percentage, as in Kubernetes (e.g. 0.8 or 0.75), not {target!r}"
            )
        if not _real(period) or not 0 < period <= defaults.MAX_TIMEOUT:
            raise BadInput(f"HPA period is seconds between decisions, > 0 (e.g. period=1.0), not {period!r}")
        if not _real(tolerance) or not 0 <= tolerance < 1:
            raise BadInput(f"HPA tolerance is a fraction in [0, 1), like tolerance=0.1; not {tolerance!r}")
        if not _real(scale_down_window) or not 0 <= scale_down_window <= defaults.MAX_TIMEOUT:
            raise BadInput(f"HPA scale_down_window is seconds ≥ 0 (e.g. 5.0), not {scale_down_window!r}")
        self.min, self.max, self.target = min, max, float(target)
        self.period, self.tolerance = float(period), float(tolerance)
        self.scale_down_window = float(scale_down_window)
        self._target_pct = int(round(target * 100))  # Kubernetes' averageUtilization (int32)
        self.decisions = []
        self._recommendations = []  # (time, desired): what the stabilization window remembers
        self._scale_events = []  # (time, change): what the rate limit counts (+up, −down)

    def __repr__(self):
        return (
            f"HPA(min={self.min}, max={self.max}, target={self.target:g}, period={self.period:g}, "
            f"tolerance={self.tolerance:g}, scale_down_window={self.scale_down_window:g})"
        )

    @property
    def next_at(self):
        """When the next decision is due: a period after the last (0.0 before the first)."""
        return self.decisions[-1].time + self.period if self.decisions else 0.0

    def decide(self, now, current, utilizations, unready=0, missing=0):
        """Decide the replica count at time ``now``; returns the ``Decision`` (also appended
        to ``decisions``). Nothing else changes: the caller scales to ``new_replicas``.

        ``current``: the replica count the Deployment is set to (``lab.scale``'s number, not
        how many are alive); ``utilizations``: each ready pod's utilization over the last
        period (a list, or ``{pod: utilization}``), only pods ready for that whole period;
        ``unready``: pods that exist but are not ready, or became ready during the period;
        ``missing``: ready pods whose utilization could not be measured. Pods being removed
        count nowhere. ``now`` is lab time; pass the scheduled tick (``next_at``), not the
        moment the loop got round to it: the rate limit counts scale events in the last
        ``period``, and a late tick would see the previous one too.
        """
        values = self._check(now, current, utilizations, unready, missing)
        if not self._recommendations:  # Kubernetes seeds the window with the current count
            self._recommendations.append((now, current))
        pct = _utilization_pct(values) if values else None
        util = None if pct is None else pct / 100
        if current == 0:
            return self._log(
                now,
                current,
                values,
                util,
                0,
                0,
                unready,
                missing,
                "0 replicas: the Deployment was scaled to 0 by hand, so the HPA is off",
            )
        if current > self.max or current < self.min:
            bound = self.max if current > self.max else self.min
            self._scale_events.append((now, bound - current))
            return self._log(
                now,
                current,
                values,
                util,
                bound,
                bound,
                unready,
                missing,
                f"{current} replicas is outside [{self.min}, {self.max}] → {bound}",
            )
        if pct is None:
            return self._log(
                now,
                current,
                values,
                None,
                current,
                current,
                unready,
                missing,
                f"no utilization from any ready pod ({unready} not ready, {missing} missing)"
                f" → stay at {current}",
            )
        desired, why = self._recommend(current, values, pct, unready, missing)
        new, limits = self._normalize(now, current, desired)
        if new != current:
            self._scale_events.append((now, new - current))
        if new == current and desired == current and not limits:
            text = f"{why} → stay at {current}"
        else:
            text = f"{why}{limits} → {new}" if new != current else f"{why}{limits} → stay at {current}"
        return self._log(now, current, values, util, desired, new, unready, missing, text)

    # ------------------------------------------------------------------ the rules
    def _recommend(self, current, values, pct, unready, missing):
        """Steps 1-3: the raw recommendation (replica_calculator.go, GetResourceReplicas)."""
        target, ready = self._target_pct, len(values)
        ratio = pct / target
        head = f"mean {pct}% of {ready} ready pod{'s' * (ready != 1)}"
        up_with_unready = unready > 0 and ratio > 1.0
        if not up_with_unready and not missing:
            if self._within(ratio):
                return (
                    current,
                    f"{head}: {pct / 100:.2f}/{target / 100:.2f} = {ratio:.2f}, within tolerance {self.tolerance:g}",
                )
            desired = math.ceil(ratio * ready)
            why = f"{head}: ceil({ready} × {pct / 100:.2f} / {target / 100:.2f}) = {desired}"
            if pct == 100:  # a busy-time metric can say no more: see "Two metrics" below
                why += f" (100% is the cap: at most ×{100 / target:.2f} a period)"
            return desired, why
        filled, notes = list(values), []
        if missing and ratio < 1.0:  # scale down: a missing pod might be busy; count it full
            filled += [max(1.0, target / 100)] * missing
            notes.append(f"{missing} missing as 100%")
        elif missing and ratio > 1.0:  # scale up: count it idle
            filled += [0.0] * missing
            notes.append(f"{missing} missing as 0%")
        if up_with_unready:
            filled += [0.0] * unready
            notes.append(f"{unready} not ready as 0%")
        new_pct = _utilization_pct(filled)
        new_ratio = new_pct / target
        counted = f"{head}; counting {', '.join(notes)}: {new_pct}% of {len(filled)}" if notes else head
        if self._within(new_ratio):
            return current, f"{counted}, within tolerance {self.tolerance:g}"
        if (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
            return current, f"{counted}, which turns the direction round"
        desired = math.ceil(new_ratio * len(filled))
        if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):
            return (
                current,
                f"{counted}: ceil({len(filled)} × {new_pct / 100:.2f} / {target / 100:.2f}) = {desired}, the wrong way",
            )
        return (
            desired,
            f"{counted}: ceil({len(filled)} × {new_pct / 100:.2f} / {target / 100:.2f}) = {desired}",
        )

    def _within(self, ratio):
        return 1.0 - self.tolerance <= ratio <= 1.0 + self.tolerance

    def _normalize(self, now, current, desired):
        """Steps 4-6 (horizontal.go, normalizeDesiredReplicasWithBehaviors): stabilize, then
        the rate limits and [min, max]. Returns the new count and the words for what bound."""
        # The window: recommendations strictly after now − window (Kubernetes' After(cutoff)).
        cutoff = now - self.scale_down_window
        window = [d for t, d in self._recommendations if t > cutoff]
        self._recommendations = [(t, d) for t, d in self._recommendations if t >= cutoff]
        self._recommendations.append((now, desired))
        highest = max([desired, *window])
        stabilized = min(max(current, desired), highest)  # up window is 0: no up stabilization
        words = ""
        if stabilized != desired:
            words = f"; highest recommendation in the last {self.scale_down_window:g} s is {highest}"
        if stabilized > current:
            start = self._period_start(now, current)
            limit = max(start + SCALE_UP_PODS, math.ceil(start * (1 + SCALE_UP_PERCENT / 100)), current)
            if stabilized > min(self.max, limit):
                if limit < self.max:
                    return (
                        limit,
                        words
                        + f", capped at +{limit - current} (max({start} + {SCALE_UP_PODS}, 2 × {start}) = {limit})",
                    )
                return self.max, words + f", capped at max {self.max}"
        elif stabilized < current:
            start = self._period_start(now, current)
            limit = min(int(start * (1 - SCALE_DOWN_PERCENT / 100)), current)
            floor = max(self.min, limit)
            if stabilized < floor:
                return floor, words + (
                    f", floored at min {self.min}"
                    if floor == self.min
                    else f", limited to −{current - floor} this period"
                )
        return stabilized, words

    def _period_start(self, now, current):
        """The replica count at the start of the policy period: events strictly after
        now − period are this period's (Kubernetes' getReplicasChangePerPeriod)."""
        cutoff = now - self.period
        self._scale_events = [(t, c) for t, c in self._scale_events if t > cutoff]
        return current - sum(c for _, c in self._scale_events)

    # ------------------------------------------------------------------ bookkeeping
    def _check(self, now, current, utilizations, unready, missing):
        if not _real(now) or now < 0:
            raise BadInput(f"now is the lab time in seconds (≥ 0), not {now!r}")
        if self.decisions and now < self.decisions[-1].time:
            raise BadInput(
                f"now={now:g} is before the last decision ({self.decisions[-1].time:g} s): time runs forward"
            )
        for name, n in (("current", current), ("unready", unready), ("missing", missing)):
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= defaults.MAX_PODS:
                raise BadInput(
                    f"{name} must be a whole number of pods from 0 to {defaults.MAX_PODS}, not {n!r}"
                )
        if isinstance(utilizations, dict):
            utilizations = list(utilizations.values())
        if isinstance(utilizations, (str, bytes)) or not hasattr(utilizations, "__iter__"):
            raise BadInput(
                f"utilizations must be a list of numbers ≥ 0 (one per ready pod), not {utilizations!r:.60}"
            )
        values = list(utilizations)
        if len(values) > defaults.MAX_PODS or not all(_real(u) and u >= 0 for u in values):
            raise BadInput(
                f"utilizations must be a list of numbers ≥ 0 (one per ready pod), not {values!r:.60}"
            )
        return values

    def _log(self, now, current, values, util, desired, new, unready, missing, text):
        decision = Decision(float(now), current, len(values), util, desired, new, text, unready, missing)
        self.decisions.append(decision)
        return decision


def _utilization_pct(values):
    """Kubernetes' integer arithmetic (metrics/utilization.go): usage in millicores, rounded
    up as the metrics client's MilliValue does, against a 1000m request per pod; the
    percentage is rounded down."""
    milli = sum(-(-round(u * 1e9) // 10**6) for u in values)  # nanocores → millicores, up
    return milli * 100 // (1000 * len(values))


def _real(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
