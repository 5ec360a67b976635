"""The one number check and the one quantile (``finpay_lab/numbers.py``): no pods needed."""

import math

import pytest

from finpay_lab.numbers import is_number, is_whole, quantile


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (3, None, None, True),
        (0, 1, None, False),
        (10, None, 10, True),
        (11, None, 10, False),
        (10**100, 1, None, True),  # Python ints have no upper limit of their own
        (True, None, None, False),  # a bool is an int to Python, never to the lab
        (False, 0, 1, False),
        (3.0, None, None, False),  # a float, even a whole one
        ("3", None, None, False),
        (None, None, None, False),
    ],
)
def test_is_whole(value, low, high, expected):
    assert is_whole(value, low, high) is expected


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (0.5, 0.05, 10, True),
        (10, 0.05, 10, True),
        (0.04, 0.05, 10, False),
        (10**400, 0, None, True),  # too big for a float, still a finite number
        (math.nan, None, None, False),
        (math.inf, None, None, False),
        (-math.inf, None, 0, False),
        (True, None, None, False),
        ("1", None, None, False),
        (1j, None, None, False),
    ],
)
def test_is_number(value, low, high, expected):
    assert is_number(value, low, high) is expected


def test_quantile_is_the_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert [quantile(values, q) for q in (0, 0.5, 0.95, 0.99, 1)] == [1, 51, 96, 100, 100]
    assert quantile([7], 0.99) == 7
    assert math.isnan(quantile([], 0.5))
