"""DESIGN.md's contract examples, run as written."""

import finpay_lab as fl


def test_design_md_runtime_example():
    with fl.Lab(pods=3, state="redis") as lab:
        assert [p.name for p in lab.pods] == ["pod-1", "pod-2", "pod-3"]
        r = lab.call("add_balance", user="Ravi", amount=5000)
        assert (r.ok, r.value, r.error, r.pod) == (True, 6000, None, "pod-1") and r.latency > 0
        s = lab.call("login", user="Ravi").value["session"]
        assert lab.call("whoami", user="Ravi", session=s, pod="pod-3").value == "Ravi"
        lab.kill("pod-3")
        assert len(lab.scale(30)) == 30 and all(p.status == "ready" for p in lab.pods)
        run = lab.run([("add_balance", {"user": "Ravi", "amount": i}) for i in range(300)])
        assert isinstance(run, fl.Run) and run.ok == 300 and len(run.by_pod()) == 30
        assert len(lab.history) >= 303
        assert lab.audit().ok


def test_design_md_finpay_example():
    with fl.Lab(pods=3, state="redis", accounts={"Ravi": 20000, "Landlord": 0}) as lab:
        s = lab.call("login", user="Ravi").value
        assert set(s) == {"session", "token"}
        assert lab.call(
            "pay", sender="Ravi", receiver="Landlord", amount=5000, token=s["token"], key="rent-nov"
        ).ok
        assert lab.call("balance", user="Ravi").value == 15000
        assert lab.call("whoami", user="Ravi", session=s["session"]).ok
        assert lab.call("notify", user="Ravi", message="Payment Sent").ok
        run = lab.run(
            fl.load.salary_day(seconds=5, seed=1),
            chaos=[fl.chaos.kill("pod-2", after=300), fl.chaos.monkey(every=1.0)],
        )
        assert any(e.kind == "fault" and e.pod == "pod-2" for e in run.events)
        a = lab.audit()
        assert a.ok and run.audit().ok
        assert a.money_created == 0 and a.negative_balances == {} and a.double_debits == []
        assert a.divergent_balances == {} and a.lost_sessions == [] and a.wrong_balances == {}
        n = a.notifications
        # without restart=True the monkey may leave no pod to send SMS: those wait in Redis
        assert n.lost == [] and n.enqueued == n.delivered + n.pending
        assert n.pending == 0 or all(p.status == "dead" for p in lab.pods)
        assert "Audit (redis)" in str(a)
