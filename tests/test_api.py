"""The notebook-facing surface: what `import finpay_lab as fl` promises."""

import inspect

import finpay_lab as fl


def test_all_lists_exactly_the_public_names():
    assert sorted(fl.__all__) == sorted(set(fl.__all__))
    for name in fl.__all__:
        assert getattr(fl, name) is not None, name
    public = {n for n, v in vars(fl).items() if not n.startswith("_") and not inspect.ismodule(v)}
    public -= {"annotations"}
    assert public == set(fl.__all__)


def test_lab_signature_matches_the_contract():
    params = inspect.signature(fl.Lab).parameters
    expected = {
        "pods": 3,
        "state": "memory",
        "balancer": "round_robin",
        "app": None,
        "redis": "fake",
        "restart": False,
        "accounts": None,
        "seed": 0,
    }
    for name, default in expected.items():
        assert params[name].default == default, name


def test_response_fields():
    r = fl.Response(ok=True, value=6000, pod="pod-1", latency=4.1e-05)
    assert (r.ok, r.value, r.error, r.pod, r.latency) == (True, 6000, None, "pod-1", 4.1e-05)
    assert "6000" in repr(r) and "pod-1" in repr(r)
