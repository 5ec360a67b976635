"""Rolling updates: new pods with new names, old pods drained only once new ones are ready,
no failed request at a steady load with max_unavailable=0; and what a rollout does to what
the pods kept in their own memory (memory mode) vs in Redis."""

import pytest

import finpay_lab as fl
from finpay_lab.runtime.history import Cause
from finpay_lab.runtime.names import pod_number

from .conftest import gone


def versioned(version):
    app = fl.App("versioned")

    @app.endpoint(name="version")
    def which(state):
        return version

    @app.endpoint
    def ping(state):
        return fl.this_pod().name

    return app


def steps(lab, since=0):
    """(kind, pod) of the rollout's events, in order."""
    return [
        (e.kind, e.pod)
        for e in lab.history.events[since:]
        if e.kind in ("started", "ready", "stopping", "stopped", "rollout")
    ]


def test_rollout_restart_replaces_every_pod_with_new_names_each_old_one_after_a_new_one_is_ready():
    with fl.Lab(pods=3, app=versioned("v1")) as lab:
        old_pids = [p.pid for p in lab.pods]
        first = len(lab.history.events)
        rollout = lab.rollout()
        assert rollout.done and rollout.error is None
        assert [p.name for p in lab.pods] == ["pod-4", "pod-5", "pod-6"]
        assert all(p.status == "ready" for p in lab.pods)
        assert all(gone(pid) for pid in old_pids)
        assert [pod_number(p.name) for p in lab.pods] == [4, 5, 6]
        # max_surge=1, max_unavailable=0: never fewer than 3 ready, never more than 4 running
        ready, running, lowest, highest = 3, 3, 3, 3
        for kind, _pod in steps(lab, first):
            if kind == "started":
                running += 1
            elif kind == "ready":
                ready += 1
            elif kind == "stopping":
                ready -= 1
            elif kind == "stopped":
                running -= 1
            lowest, highest = min(lowest, ready), max(highest, running)
        assert (lowest, highest) == (3, 4)
        order = [(k, p) for k, p in steps(lab, first) if k in ("ready", "stopping")]
        assert order == [
            ("ready", "pod-4"),
            ("stopping", "pod-1"),
            ("ready", "pod-5"),
            ("stopping", "pod-2"),
            ("ready", "pod-6"),
            ("stopping", "pod-3"),
        ]
        kinds = [e.detail for e in lab.history.events if e.kind == "rollout"]
        assert kinds[0].startswith(
            "rolling update of 3 pods to the same app (max_surge=1, max_unavailable=0)"
        )
        assert kinds[-1].endswith("pod-1, pod-2, pod-3 → pod-4, pod-5, pod-6")
        assert "→ pod-4, pod-5, pod-6, done in" in repr(rollout)


def test_rollout_of_a_new_app_serves_it_everywhere_after():
    with fl.Lab(pods=3, app=versioned("v1")) as lab:
        assert {lab.call("version").value for _ in range(3)} == {"v1"}
        v2 = versioned("v2")
        lab.rollout(app=v2, max_surge=2)
        assert [lab.call("version").value for _ in range(6)] == ["v2"] * 6
        assert lab.app is v2
        assert [p.name for p in lab.scale(4)] == ["pod-4", "pod-5", "pod-6", "pod-7"]
        assert lab.call("version", pod="pod-7").value == "v2"  # a scale-up runs the new app too


def test_max_unavailable_without_surge_removes_first_then_adds():
    with fl.Lab(pods=2, app=versioned("v1")) as lab:
        first = len(lab.history.events)
        lab.rollout(max_surge=0, max_unavailable=1)
        order = [(k, p) for k, p in steps(lab, first) if k in ("started", "stopping")]
        assert order == [
            ("stopping", "pod-1"),
            ("started", "pod-3"),
            ("stopping", "pod-2"),
            ("started", "pod-4"),
        ]
        assert [p.name for p in lab.pods] == ["pod-3", "pod-4"]


def test_a_rollout_during_a_steady_load_fails_no_request():
    shape = fl.load.constant(rps=100, seconds=2.0, mix={"add_balance": 1})
    with fl.Lab(pods=3) as lab:
        run = lab.run(shape, chaos=[fl.chaos.rollout(at=0.3)])
        assert len(run.requests) > 100 and run.failed == 0
        assert {r.pod for r in run.requests} >= {"pod-1", "pod-4", "pod-6"}  # old and new pods served
        assert [p.name for p in lab.pods] == ["pod-4", "pod-5", "pod-6"]
        done = [e for e in run.events if e.kind == "rollout" and "rolled out" in e.detail]
        assert len(done) == 1  # the run lasted until the rollout was done


def test_a_rollout_of_a_new_app_during_a_run_keeps_sending():
    with fl.Lab(pods=2, app=versioned("v1")) as lab:
        v2 = versioned("v2")
        workload = [(i * 0.01, "version", {}) for i in range(150)]  # 1.5 s at 100/s
        run = lab.run(workload, chaos=[fl.chaos.rollout(app=v2, at=0.2)])
        assert run.failed == 0
        values = [r.value for r in sorted(run.requests, key=lambda r: r.sent)]
        assert values[0] == "v1" and values[-1] == "v2" and set(values) == {"v1", "v2"}
        assert lab.app is v2


@pytest.mark.parametrize("state", ["memory", "redis"])
def test_a_rollout_logs_everyone_out_and_loses_queued_sms_in_memory_mode_not_in_redis(state):
    users = ["Ravi", "Meena", "Arjun", "Priya", "Kiran", "Anil"]
    # sms_seconds=1.5: nothing is delivered before the rollout is done (~0.1 s; each pod's
    # worker holds one SMS in hand, the others stay queued): every SMS is in the pods or in Redis
    with fl.Lab(pods=3, state=state, sms_seconds=1.5) as lab:
        sessions = {u: lab.call("login", user=u).value["session"] for u in users}
        for u in users:
            assert lab.call("notify", user=u, message="Your statement is ready").ok
        lab.rollout()
        answers = [lab.call("whoami", user=u, session=s) for u, s in sessions.items()]
        audit = lab.audit(wait=0)
        if state == "memory":  # every session and every queued SMS lived in an old pod's memory
            assert [r.ok for r in answers] == [False] * 6
            assert all("unknown session" in r.error and r.cause == Cause.REJECTED for r in answers)
            assert sorted(audit.lost_sessions) == sorted(users)
            assert (audit.notifications.enqueued, len(audit.notifications.lost)) == (6, 6)
        else:  # in Redis, nobody notices
            assert [r.value for r in answers] == users
            assert audit.lost_sessions == []
            assert (audit.notifications.enqueued, audit.notifications.lost, audit.notifications.pending) == (
                6,
                [],
                6,
            )


def test_rollout_rejects_bad_input_and_changes_nothing():
    with fl.Lab(pods=2, app=versioned("v1")) as lab:
        before = lab.pods
        for kwargs in (
            {"max_surge": 0, "max_unavailable": 0},
            {"max_surge": -1},
            {"max_surge": 1.5},
            {"max_unavailable": True},
            {"max_surge": "1"},
            {"app": "v2"},
            {"app": versioned},
        ):
            with pytest.raises(fl.BadInput):
                lab.rollout(**kwargs)
        with pytest.raises(fl.BadInput, match="max_surge=0 with max_unavailable=0"):
            fl.chaos.rollout(max_surge=0, max_unavailable=0)
        with pytest.raises(fl.BadInput):
            fl.chaos.rollout(app=42)
        assert lab.pods == before and lab.history.events[-1].kind != "rollout"
        running = lab.rollout(wait=False)
        with pytest.raises(fl.BadInput, match="already in progress"):
            lab.rollout()
        with pytest.raises(fl.BadInput, match="already in progress"):
            lab.run([("ping", {})], chaos=[fl.chaos.rollout(at=0)])
        running.wait()
        assert [p.name for p in lab.pods] == ["pod-3", "pod-4"]
        lab.rollout()  # once it is done, another may start
        assert [p.name for p in lab.pods] == ["pod-5", "pod-6"]


def test_nothing_outlives_a_lab_closed_during_a_rollout():
    lab = fl.Lab(pods=3, app=versioned("v1"))
    pids = [p.pid for p in lab.pods]
    rollout = lab.rollout(wait=False)
    lab.call("ping")  # the lab's loop moves the rollout on: a new pod starts
    pids += [p.pid for p in rollout.new]
    lab.close()
    assert len(pids) >= 4 and all(gone(pid) for pid in pids) and lab.closed


def test_a_rollout_whose_new_pod_cannot_start_stops_and_the_old_pods_keep_serving():
    broken = versioned("v2")

    @broken.startup
    def crash(state):
        raise SystemExit(3)

    with fl.Lab(pods=2, app=versioned("v1")) as lab:
        with pytest.raises(fl.PodStartError, match="pod-3 died while starting"):
            lab.rollout(app=broken)
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2"]
        assert [lab.call("version").value for _ in range(2)] == ["v1", "v1"]
        assert lab.app is not broken
