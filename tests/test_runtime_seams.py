"""The runtime asks the app and the stores, never imports them (issue 9, stage 3).

A lab running an app that is not FinPay sets up nothing of FinPay's: no SMS gateway, no
gateway in its pods' config, no FinPay module loaded, no audit folded into its history.
"""

import subprocess
import sys
import textwrap

import pytest

import finpay_lab as fl
from finpay_lab.runtime import store_kinds
from finpay_lab.stores import state as state_module


def _plain_app():
    app = fl.App("plain")

    @app.endpoint
    def config_keys(state):
        return sorted(fl.this_pod().config)

    @app.endpoint
    def modules(state):
        return sorted(m for m in sys.modules if m.startswith("finpay_lab.services"))

    return app


def test_a_non_finpay_lab_sets_up_nothing_of_finpays():
    with fl.Lab(pods=1, app=_plain_app(), accounts={"Ravi": 10}) as lab:
        assert lab.gateway is None
        keys = lab.call("config_keys").value
        assert "gateway" not in keys and "sms_seconds" not in keys and "state" in keys
        with pytest.raises(fl.LabError, match="no gateway"):
            lab.sms()
    with fl.Lab(pods=1) as finpay_lab:  # the FinPay lab, for contrast
        assert finpay_lab.gateway is not None and finpay_lab.sms() == []


def test_a_fresh_process_running_another_app_never_loads_finpay():
    script = textwrap.dedent("""
        import sys
        import finpay_lab as fl

        app = fl.App("plain")

        @app.endpoint
        def modules(state):
            return sorted(m for m in sys.modules if m.startswith("finpay_lab.services"))

        with fl.Lab(pods=1, app=app) as lab:
            in_the_pod = lab.call("modules").value
        in_the_lab = sorted(m for m in sys.modules if m.startswith("finpay_lab.services"))
        print(in_the_pod, in_the_lab)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


def test_a_history_without_the_apps_fold_just_drops(monkeypatch):
    monkeypatch.setattr(fl.defaults, "HISTORY_KEEP", 5)
    with fl.Lab(pods=1, app=_plain_app()) as lab:
        for _ in range(12):
            lab.call("config_keys")
        assert lab.history.dropped and lab.history.requests.promised is None
        trims = [e.detail for e in lab.history.events if e.kind == "trimmed"]
        assert trims and not any("audit" in detail for detail in trims)
    with fl.Lab(pods=1) as finpay_lab:  # FinPay folds what the audit needs
        for _ in range(12):
            finpay_lab.call("balance", user="Ravi")
        assert finpay_lab.history.requests.promised is not None


def test_the_stores_hand_the_runtime_its_store_kinds():
    assert store_kinds.state_factory() is state_module.make_state  # shipped to every pod
    with fl.Lab(pods=1, state="redis") as lab:
        assert lab.call("balance", user="Ravi").value == 20_000  # the pod opened a RedisState


class _Bare(fl.App):
    def __init__(self):  # does not call super().__init__: the declarations' defaults apply
        self.endpoints = {"ping": lambda state: "pong"}


def test_an_app_subclass_that_skips_super_init_still_runs():
    with fl.Lab(pods=1, app=_Bare()) as lab:
        assert lab.call("ping").value == "pong" and lab.accounts == {} and lab.gateway is None


def test_an_app_subclass_with_no_endpoints_table_is_refused_clearly():
    class Empty(fl.App):
        def __init__(self):
            pass

    with pytest.raises(fl.BadInput, match=r"must call super\(\).__init__"):
        fl.Lab(pods=1, app=Empty())


def test_pod_stats_of_a_paused_pod_says_it_is_paused_at_once():
    with fl.Lab(pods=2) as lab:
        lab.pause("pod-2")
        assert lab.pod_stats("pod-2", timeout=30) == {"status": "paused", "cause": "SIGSTOP"}  # no 30 s wait
        lab.resume("pod-2")
        assert lab.pod_stats("pod-2") == {"sessions": 0, "queued_sms": 0, "keys": 100}
