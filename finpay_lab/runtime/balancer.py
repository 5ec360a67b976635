"""The load balancer: which pod gets the next request.

Each strategy is one method, ``choose(pods, endpoint, params)``, given the pods in
rotation (ready or busy, in name order; dead and stopping pods are never offered).

* ``round_robin``: pod-1, pod-2, pod-3, pod-1, ... Stateless services need nothing more.
* ``random``: a seeded random pick.
* ``least_busy``: the pod with the fewest requests in flight (ties: the first).
* ``sticky``: the same user always goes to the same pod, so a pod can keep that
  user's session in its memory. Which parameter names the user is the app's to say
  (``App.user_params``; ``user`` unless it says otherwise, FinPay adds a payment's
  ``sender``); the lab tells its balancer (``user_params``). It uses **consistent hashing**: each pod owns many
  points on a ring, a user goes to the next point after the hash of their name, and when
  a pod dies or is added only the users on *its* arcs move. (``sticky_modulo`` hashes
  ``user % N`` instead: add one pod and almost every user moves. Lesson 03 compares them.)
"""

import bisect
import hashlib
import random as _random

from .. import defaults
from ..errors import BadInput
from .history import request_user


def _hash(text: str) -> int:
    # A stable hash (Python's hash() changes per process), so lessons are reproducible.
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class Balancer:
    name = "?"
    load_aware = False  # True: when its pick is full, ask again once any pod has room
    user_params = ("user",)  # the parameters that name a request's user (the lab sets its app's)

    def choose(self, pods, endpoint, params):
        """Return the pod for this request, or None if no pod is in rotation."""
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__}>"


class RoundRobin(Balancer):
    name = "round_robin"

    def __init__(self, seed=None):
        self._last = 0  # the number of the pod chosen last

    def choose(self, pods, endpoint, params):
        if not pods:
            return None
        # Take the first pod numbered after the last one chosen, so a pod joining or
        # leaving does not reset the rotation.
        for pod in pods:
            if pod.index > self._last:
                self._last = pod.index
                return pod
        self._last = pods[0].index
        return pods[0]


class Random(Balancer):
    name = "random"

    def __init__(self, seed=None):
        self.random = _random.Random(seed)

    def choose(self, pods, endpoint, params):
        return self.random.choice(pods) if pods else None


class LeastBusy(Balancer):
    name = "least_busy"
    load_aware = True

    def __init__(self, seed=None):
        pass

    def choose(self, pods, endpoint, params):
        return min(pods, key=lambda p: len(p.in_flight)) if pods else None


class HashRing:
    """A consistent-hash ring: each node owns ``vnodes`` points; a key goes clockwise."""

    def __init__(self, nodes, vnodes=defaults.HASH_RING_VNODES):
        self.nodes = tuple(nodes)
        points = sorted((_hash(f"{node}#{i}"), node) for node in self.nodes for i in range(vnodes))
        self._keys = [h for h, _ in points]
        self._nodes = [n for _, n in points]

    def node_for(self, key: str):
        if not self._keys:
            return None
        i = bisect.bisect(self._keys, _hash(key)) % len(self._keys)
        return self._nodes[i]


class Sticky(Balancer):
    """Same user, same pod (consistent hashing on the user's name)."""

    name = "sticky"

    def __init__(self, seed=None):
        self._ring = HashRing(())
        self._fallback = RoundRobin()

    def owner(self, user, pod_names):
        """The pod name ``user`` maps to among ``pod_names``."""
        if tuple(pod_names) != self._ring.nodes:
            self._ring = HashRing(pod_names)
        return self._ring.node_for(user)

    def choose(self, pods, endpoint, params):
        user = request_user(params, self.user_params)
        if not pods:
            return None
        if user is None:  # nothing to stick to: spread it like round robin
            return self._fallback.choose(pods, endpoint, params)
        name = self.owner(user, [p.name for p in pods])
        return next(p for p in pods if p.name == name)


class StickyModulo(Sticky):
    """Same user, same pod, by ``hash(user) % number of pods``: simple, but rescaling
    moves almost every user to a different pod."""

    name = "sticky_modulo"

    def owner(self, user, pod_names):
        return pod_names[_hash(user) % len(pod_names)] if pod_names else None


STRATEGIES = {cls.name: cls for cls in (RoundRobin, Random, LeastBusy, Sticky, StickyModulo)}


def make_balancer(name, seed=None) -> Balancer:
    if isinstance(name, Balancer):
        return name
    if not isinstance(name, str) or name not in STRATEGIES:
        raise BadInput(f"balancer={name!r}: choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name](seed=seed)


def moved_users(users, before, after, balancer="sticky"):
    """How many of ``users`` map to a different pod when the pods go from ``before`` to
    ``after`` (lists of pod names), under a sticky strategy."""
    old, new = make_balancer(balancer), make_balancer(balancer)  # one ring each, built once
    return sum(old.owner(u, list(before)) != new.owner(u, list(after)) for u in users)
