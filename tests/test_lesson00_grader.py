"""Lesson 00's write-code exercise: a fee endpoint every pod answers, also after a kill.

The grader deploys the learner's ``fee`` on 3 real pods and SIGKILLs pod-2, so these tests
run the experiment a learner's answer meets; each wrong answer is named by what it got wrong.
"""

import pytest

import finpay_lab as fl


def fee(state, amount: int):
    return max(1, amount // 100)


def fee_rounded(state, amount: int):
    return max(1, round(amount / 100))


def fee_float(state, amount: int):
    return max(1.0, amount / 100)


def fee_without_floor(state, amount: int):
    return amount // 100


def fee_per_pod(state, amount: int):
    discount = 1 if fl.this_pod().name == "pod-1" and amount < 1000 else 0  # only pod-1's promotion
    return max(1, amount // 100) - discount


def fee_with_loyalty(state, amount: int):
    paid = state.incr("payments")  # counted in the pod's memory: each pod counts its own
    return max(1, amount // 100) - (1 if paid > 6 else 0)


def fee_raises(state, amount: int):
    return {"fee": amount / 0}


def no_state(amount: int):
    return amount


def unwritten(state, amount: int): ...


def test_the_right_fee_passes(capsys):
    assert fl.checks.first_endpoint(fee) is True
    out = capsys.readouterr().out
    assert "✅ Exercise 0.3" in out and "BROKE" not in out
    assert "after pod-2 was killed" in out and "pod-1 and pod-3" in out


@pytest.mark.parametrize(
    "answer, why",
    [
        (fee_rounded, "for ₹199 pod-1 answered 2; the fee is ₹1: that is rounded to the nearest rupee"),
        (fee_float, "for ₹5,000 pod-1 answered 50.0; the fee is ₹50: a fee is a whole number"),
        (fee_without_floor, "for ₹50 pod-1 answered 0; the fee is ₹1: the fee is never less than ₹1"),
        (fee_per_pod, "for ₹199 pod-1 answered 0"),
        (fee_raises, "for ₹5,000 pod-1 answered: fee failed: ZeroDivisionError"),
        (
            fee_with_loyalty,
            "BROKE  after pod-2 was killed, the pods left go on giving the right fees (for ₹5,000 pod-",
        ),
    ],
)
def test_a_wrong_fee_is_named(answer, why, capsys):
    assert fl.checks.first_endpoint(answer) is False
    out = capsys.readouterr().out
    assert "❌ Exercise 0.3" in out and "✅" not in out
    assert why in out


def test_pods_that_disagree_are_named(capsys):
    assert fl.checks.first_endpoint(fee_per_pod) is False
    out = capsys.readouterr().out
    assert (
        "BROKE  pod-1, pod-2, pod-3 give the same fee for the same amount (for ₹199: pod-1 said 0, pod-2 said 1"
        in out
    )


def test_a_function_without_state_says_how_to_write_it(capsys):
    assert fl.checks.first_endpoint(no_state) is False
    out = capsys.readouterr().out
    assert "BROKE  fee can run as an endpoint (fee(amount) needs the pod's state first" in out
    assert "def fee(state, amount)" in out


def test_an_unwritten_answer_gets_no_verdict(capsys):
    assert fl.checks.first_endpoint(unwritten) is False
    out = capsys.readouterr().out
    assert "Not answered yet" in out and "✅" not in out and "❌" not in out
