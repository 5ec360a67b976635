"""Numbers the lab accepts, and the one quantile every report and figure uses.

Python says ``True`` is an ``int`` (``True + True == 2``), and a float can be ``nan`` or
``inf``. Neither is a number of pods, seconds or rupees, so every argument check in the
package asks these two questions instead of ``isinstance``:

* ``is_whole(value, low, high)``: an ``int`` (never a ``bool``) from ``low`` to ``high``;
* ``is_number(value, low, high)``: an ``int`` or ``float`` (never a ``bool``), finite,
  from ``low`` to ``high``.

Bounds are inclusive and optional. The caller writes the error, because only the caller
knows what the number is for ("refresh must be seconds between 0.05 and 10, not 0"): the
message says what to pass.

``quantile(sorted_values, q)`` is the nearest-rank quantile of ``run.summary()``'s p50,
p95 and p99 and of the latency figure: a value that really occurred, never a mix of two.
"""

import math

__all__ = ["is_number", "is_whole", "quantile"]


def is_whole(value, low=None, high=None) -> bool:
    """True if ``value`` is an ``int`` (not a ``bool``) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (low is None or low <= value) and (high is None or value <= high)


def is_number(value, low=None, high=None) -> bool:
    """True if ``value`` is a finite ``int`` or ``float`` (not a ``bool``) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (low is None or low <= value) and (high is None or value <= high)


def quantile(sorted_values, q):
    """The ``q``-quantile (0 ≤ q ≤ 1) of ``sorted_values`` by nearest rank: the value with
    ``int(q * n)`` values below it (the largest for q = 1). NaN if there are none."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
