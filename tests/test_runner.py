"""runner.py: one lab.run, its items, its faults, and an interrupt at a chosen point."""

import pytest

import finpay_lab as fl
from finpay_lab.runtime.faults import Fault
from finpay_lab.runtime.runner import Runner, _progress, _unpack


def test_an_item_is_untimed_or_timed():
    assert _unpack(("balance", {"user": "Ravi"})) == ("balance", {"user": "Ravi"}, None)
    assert _unpack((0.5, "balance", {"user": "Ravi"})) == ("balance", {"user": "Ravi"}, 0.5)


def test_a_short_run_gets_no_progress_bar():
    class Shape:
        seconds, name = 1, "short"

    items = [("balance", {})]
    assert _progress(items, Shape()) is items


class _Recorder(Fault):
    """A fault that records what the runner told it."""

    def __init__(self):
        self.ticks, self.finished = [], None

    def check(self, lab):
        pass

    def bind(self, lab, started):
        return self

    def tick(self, now, sent):
        self.ticks.append(sent)

    @property
    def holds_the_run(self):
        return False

    def finish(self, now):
        self.finished = now


def test_the_runner_ticks_its_faults_and_finishes_them():
    fault = _Recorder()
    with fl.Lab(pods=2) as lab:
        run = lab.run([("balance", {"user": "Ravi"})] * 5, chaos=[fault])
        assert run.ok == 5 and fault.finished is not None
        assert [t for t in fault.ticks if t is not None][:5] == [0, 1, 2, 3, 4]


def test_an_interrupt_mid_run_leaves_no_pod_busy_and_finishes_the_faults():
    fault = _Recorder()

    def workload():
        for _ in range(20):
            yield "balance", {"user": "Ravi"}
        raise KeyboardInterrupt  # the learner presses Ctrl-C after 20 requests went out

    with fl.Lab(pods=2) as lab:
        with pytest.raises(KeyboardInterrupt):
            lab.run(workload(), chaos=[fault])
        assert fault.finished is not None
        assert all(not p.in_flight for p in lab._pods.values())
        assert [p.status for p in lab.pods] == ["ready", "ready"]
        assert lab.call("balance", user="Ravi").ok


def test_a_runner_holds_no_lab_after_its_run():
    with fl.Lab(pods=1) as lab:
        runner = Runner(lab, lab._loop, depth=4)
        run = runner.run([("balance", {"user": "Ravi"})], checked=False, chaos=())
        assert run.ok == 1 and not hasattr(lab, "_runner")  # the lab keeps no runner: no cycle
