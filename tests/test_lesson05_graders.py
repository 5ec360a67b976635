"""Lesson 05's grader (``fl.checks.hpa_desired``): a right answer passes on real pods, wrong
ones fail and name the rule they broke, an unanswered one gets no verdict."""

import math

import pytest

import finpay_lab as fl
from finpay_lab.grading import lesson05


def right(current, utilizations, target):
    mean = sum(utilizations) // len(utilizations)
    ratio = mean / target
    if 0.9 <= ratio <= 1.1:
        return current
    wanted = min(math.ceil(current * ratio), max(current + 4, 2 * current))
    return max(3, min(30, wanted))


def no_rate_limit(current, utilizations, target):
    """Forgets Kubernetes' scale-up policies: fine while the metric is capped at 100%."""
    ratio = (sum(utilizations) // len(utilizations)) / target
    if 0.9 <= ratio <= 1.1:
        return current
    return max(3, min(30, math.ceil(current * ratio)))


def float_mean(current, utilizations, target):
    """Averages in floats: Kubernetes rounds the mean down to a whole percent first."""
    ratio = sum(utilizations) / len(utilizations) / target
    if 0.9 <= ratio <= 1.1:
        return current
    return max(3, min(30, min(math.ceil(current * ratio), max(current + 4, 2 * current))))


def test_the_right_answer_passes_on_real_pods(capsys):
    assert fl.checks.hpa_desired(right) is True
    out = capsys.readouterr().out
    assert "✅ Exercise 5.3" in out and "❌" not in out and "BROKE" not in out
    # the real-pods claim compared at least the quiet start, where 3 pods stay 3
    compared = int(out.split("every period these rules decide (")[1].split(" of")[0])
    assert compared >= 1


def test_forgetting_the_rate_limit_fails_and_names_it(capsys):
    assert fl.checks.hpa_desired(no_rate_limit, surge_seconds=1.5) is False
    out = capsys.readouterr().out
    assert "❌ Exercise 5.3" in out and "✅" not in out
    broke = [line for line in out.splitlines() if "BROKE" in line]
    assert len(broke) == 1 and "at most max(current + 4, 2 × current)" in broke[0]
    assert "desired(3, [400, 400, 400], 80) gave 15, Kubernetes: 7" in broke[0]


def test_a_mean_in_floats_fails_on_the_rounding_rule(capsys):
    assert fl.checks.hpa_desired(float_mean, surge_seconds=1.5) is False
    broke = [line for line in capsys.readouterr().out.splitlines() if "BROKE" in line]
    assert broke and "rounded down" in broke[0] and "gave 20, Kubernetes: 19" in broke[0]


def test_a_function_that_raises_is_graded_not_crashed(capsys):
    def broken(current, utilizations, target):
        return current // 0

    assert fl.checks.hpa_desired(broken, surge_seconds=1.0) is False
    out = capsys.readouterr().out
    assert "❌" in out and "ZeroDivisionError" in out


@pytest.mark.parametrize("answer", [None, ...])
def test_unanswered_prints_what_to_do_and_no_verdict(answer, capsys):
    def stub(current, utilizations, target):
        """Your code here."""
        ...

    for code in (answer, stub):
        assert fl.checks.hpa_desired(code) is False
        out = capsys.readouterr().out
        assert "Not answered yet" in out and "✅" not in out and "❌" not in out


def test_not_a_function_is_a_clear_verdict(capsys):
    assert fl.checks.hpa_desired(7) is False
    assert "must be a function desired(current, utilizations, target)" in capsys.readouterr().out


def test_the_hand_worked_cases_are_kubernetes_rules():
    # fl.HPA on each case, worked by hand: the grader's reference is the rules, not a copy of them
    assert [lesson05.kubernetes(c, u, t) for _, c, u, t in lesson05.CASES] == [
        4,
        6,
        19,
        10,
        10,
        7,
        28,
        10,
        3,
        30,
    ]
    assert [right(c, u, t) for _, c, u, t in lesson05.CASES] == [4, 6, 19, 10, 10, 7, 28, 10, 3, 30]
