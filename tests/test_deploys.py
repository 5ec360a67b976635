"""One controller at a time owns the pods (runtime/deploys.py, rollout.py): while a rollout
replaces them, ``lab.scale`` and ``lab.switch_state`` refuse with a sentence that says to
wait, and the HPA holds its decisions, measuring afresh once the rollout is done."""

import pytest

import finpay_lab as fl


def versioned_app(name, startup_delay=0.0):
    app = fl.App(name, startup_delay=startup_delay)

    @app.endpoint
    def work(state, user: str):
        return user

    return app


def test_scale_and_switch_state_refuse_while_a_rollout_replaces_the_pods():
    with fl.Lab(pods=2) as lab:
        rolling = lab.rollout(wait=False)  # nothing drives the loop until the next lab call
        assert lab.rolling_out is rolling and not rolling.done
        with pytest.raises(fl.BadInput, match=r"a rollout is in progress .*: scale\(4\) would replace"):
            lab.scale(4)
        with pytest.raises(fl.BadInput, match=r"switch_state\('redis'\) .*lab\.rolling_out\.wait\(\)"):
            lab.switch_state("redis")
        assert lab.state == "memory" and lab.rolling_out is rolling  # nothing changed
        rolling.wait()
        assert [p.name for p in lab.pods] == ["pod-3", "pod-4"]  # the rollout's, and only those
        assert not any(e.kind == "scaled" or e.kind == "switched" for e in lab.history.events)
        assert len(lab.scale(3)) == 3  # once it is done, a scale goes ahead
        assert lab.switch_state("redis")[0].name == "pod-6"


def test_the_hpa_holds_while_a_rollout_replaces_the_pods():
    """The new version takes 0.6 s to get ready: for at least that long the rollout owns
    the pods, and the HPA (deciding every 0.1 s before it) decides nothing."""
    hpa = fl.HPA(min=1, max=3, target=0.5, period=0.1)
    load = [(i * 0.01, "work", {"user": f"u{i % 5}"}) for i in range(250)]  # 2.5 s
    with fl.Lab(pods=1, app=versioned_app("v1"), autoscaler=hpa) as lab:
        v2 = versioned_app("v2", startup_delay=0.6)
        run = lab.run(load, chaos=[fl.chaos.rollout(app=v2, at=0.5)])
        assert run.failed == 0
        rollout = [e for e in lab.history.events if e.kind == "rollout"]
        started, ended = rollout[0].t, rollout[-1].t
        assert "rolled out" in rollout[-1].detail and ended - started >= 0.6
        assert any(d.time < started for d in hpa.decisions)  # it was deciding before
        assert [d for d in hpa.decisions if started < d.time < ended] == []
        holding = [e for e in lab.history.events if e.kind == "autoscaler"]
        assert len(holding) == 1 and "holding while a rollout" in holding[0].detail
        assert started <= holding[0].t <= ended
