"""Which pod gets the request: round robin, random, least busy, sticky (consistent hash)."""

import collections
import time

import pytest

import finpay_lab as fl
from finpay_lab.runtime.balancer import HashRing, make_balancer, moved_users


def pods_of(run):
    return [r.pod for r in sorted(run.requests, key=lambda r: r.id)]


def pay(n, users=("Ravi",)):
    return [("add_balance", {"user": users[i % len(users)], "amount": i}) for i in range(n)]


def test_round_robin_goes_in_name_order_and_skips_dead_pods():
    with fl.Lab(pods=3) as lab:
        assert [lab.call("add_balance", user="R", amount=1).pod for _ in range(4)] == [
            "pod-1",
            "pod-2",
            "pod-3",
            "pod-1",
        ]
        lab.kill("pod-2")
        assert [lab.call("add_balance", user="R", amount=1).pod for _ in range(4)] == [
            "pod-3",
            "pod-1",
            "pod-3",
            "pod-1",
        ]


def test_random_is_reproducible_under_a_seed_and_uses_every_pod():
    def picks(seed):
        with fl.Lab(pods=3, balancer="random", seed=seed) as lab:
            return [lab.call("add_balance", user="R", amount=1).pod for _ in range(30)]

    a, b, c = picks(1), picks(1), picks(2)
    assert a == b and a != c
    assert set(a) == {"pod-1", "pod-2", "pod-3"}


def test_least_busy_sends_work_away_from_a_slow_pod():
    app = fl.App("uneven")

    @app.endpoint
    def work(state):
        if fl.this_pod().name == "pod-1":
            time.sleep(0.05)  # pod-1 is slow: its requests pile up
        return fl.this_pod().name

    with fl.Lab(pods=2, app=app, balancer="least_busy") as lab:
        served = lab.run([("work", {})] * 60).by_pod()
        assert served["pod-2"] > 3 * served["pod-1"]
    with fl.Lab(pods=2, app=app, balancer="round_robin") as lab:
        served = lab.run([("work", {})] * 20).by_pod()
        assert served["pod-1"] == served["pod-2"] == 10  # round robin does not notice


def test_sticky_sends_each_user_to_one_pod():
    users = [f"user{i}" for i in range(30)]
    with fl.Lab(pods=3, balancer="sticky") as lab:
        run = lab.run(pay(300, users))
        homes = collections.defaultdict(set)
        for r in run.requests:
            homes[r.user].add(r.pod)
        assert all(len(p) == 1 for p in homes.values())
        assert len({next(iter(p)) for p in homes.values()}) == 3  # every pod gets some users


def test_sticky_keeps_sessions_working_where_round_robin_loses_them():
    with fl.Lab(pods=3, balancer="sticky") as lab:
        s = lab.call("login", user="Ravi").value["session"]
        assert all(lab.call("whoami", user="Ravi", session=s).ok for _ in range(6))
    with fl.Lab(pods=3, balancer="round_robin") as lab:
        s = lab.call("login", user="Ravi").value["session"]
        oks = [lab.call("whoami", user="Ravi", session=s).ok for _ in range(6)]
        assert oks == [False, False, True] * 2  # only pod-1 remembers the login


def test_consistent_hashing_moves_only_the_lost_or_added_pods_share():
    users = [f"user{i}" for i in range(2000)]
    three, two, four = ["pod-1", "pod-2", "pod-3"], ["pod-1", "pod-2"], ["pod-1", "pod-2", "pod-3", "pod-4"]
    ring3 = HashRing(three)
    owners3 = {u: ring3.node_for(u) for u in users}
    ring2 = HashRing(two)
    for u in users:  # removing pod-3 moves exactly pod-3's users
        if owners3[u] != "pod-3":
            assert ring2.node_for(u) == owners3[u]
    ring4 = HashRing(four)
    moved = [u for u in users if ring4.node_for(u) != owners3[u]]
    assert all(ring4.node_for(u) == "pod-4" for u in moved)  # only onto the new pod
    assert 0.15 < len(moved) / len(users) < 0.35  # about a quarter
    # modulo hashing moves most users when one pod is added
    assert moved_users(users, three, four, "sticky_modulo") / len(users) > 0.6
    assert moved_users(users, three, four, "sticky") == len(moved)


def test_sticky_lab_remaps_only_the_dead_pods_users():
    users = [f"user{i}" for i in range(60)]
    with fl.Lab(pods=3, balancer="sticky") as lab:
        before = {r.user: r.pod for r in lab.run(pay(60, users)).requests}
        lab.kill("pod-2")
        after = {r.user: r.pod for r in lab.run(pay(60, users)).requests}
        for u in users:
            if before[u] != "pod-2":
                assert after[u] == before[u]
            else:
                assert after[u] in ("pod-1", "pod-3")


def test_pod_argument_bypasses_the_balancer():
    with fl.Lab(pods=3, balancer="sticky") as lab:
        assert {lab.call("add_balance", user="Ravi", amount=1, pod="pod-2").pod for _ in range(5)} == {
            "pod-2"
        }


def test_unknown_balancer_is_a_clear_error():
    with pytest.raises(fl.BadInput, match="round_robin"):
        make_balancer("fastest")
    with pytest.raises(fl.BadInput):
        fl.Lab(balancer="fastest")
