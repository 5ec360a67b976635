"""PodStatus: pod statuses are values of one enum, and still print as the bare words."""

import json
import pickle

import finpay_lab as fl
from finpay_lab.runtime.pods import SERVING, PodStatus


def test_a_status_is_its_word_everywhere_it_is_shown():
    info = fl.PodInfo("pod-1", 42, PodStatus.READY)
    assert repr(info) == "PodInfo(name='pod-1', pid=42, status='ready', served=0, restarts=0)"
    assert f"{info.name} {info.status}" == "pod-1 ready"
    assert (
        f"{info.status:>7}|" == "  ready|" and format(info.status) == "ready" and str(info.status) == "ready"
    )
    assert repr({"status": PodStatus.DEAD}) == "{'status': 'dead'}"
    assert json.dumps({"status": PodStatus.PAUSED}) == '{"status": "paused"}'
    assert pickle.loads(pickle.dumps(PodStatus.BUSY)) is PodStatus.BUSY


def test_a_status_compares_and_hashes_as_its_word():
    assert (
        PodStatus.READY == "ready"
        and PodStatus.DEAD == "dead"
        and PodStatus("stopping") is PodStatus.STOPPING
    )
    assert {"ready": "green"}[PodStatus.READY] == "green"  # a view's colour table keyed by words
    assert set(SERVING) == {"ready", "busy"}
    assert {s.value for s in PodStatus} == {"starting", "ready", "busy", "stopping", "dead", "paused"}


def test_a_labs_pods_carry_the_enum():
    with fl.Lab(pods=2) as lab:
        assert [p.status for p in lab.pods] == [PodStatus.READY, PodStatus.READY]
        assert all(type(p.status) is PodStatus for p in lab.pods)
        lab.kill("pod-1")
        assert lab.pods[0].status is PodStatus.DEAD and lab.pod_stats("pod-1")["status"] is PodStatus.DEAD
        lab.pause("pod-2")
        pods, held, _ = lab.snapshot()
        assert [p.status for p in pods] == ["dead", "paused"] and held == {}
        lab.resume("pod-2")
