"""Self-checks for the course's exercises: a plain-words verdict on the learner's answer.

    answer = None            # the learner replaces None
    fl.checks.check(answer, expected=1300, hint="pod-2 started from 1000 too",
                    explain="each pod keeps its own balance")

An unanswered exercise (``None`` or ``...``) is not an error: the check says what to do,
so a notebook run top to bottom (by a learner or by CI) never breaks on it, and never
prints a verdict the learner did not earn. Solutions live in ``notebooks/solutions/``; a
lesson loads one only when the learner asks (``%load solutions/01_exercise_1.py``).

Predictions are recorded the same way, and shown beside what the lab measured:

    prediction = None        # the learner writes a guess before running the experiment
    fl.checks.reveal(prediction, measured=(first.value, second.value))
"""

import math
from collections.abc import Iterable

__all__ = ["check", "reveal", "to_review"]

UNANSWERED = (None, Ellipsis)


def check(answer, expected, *, hint, explain="", name="this exercise", tolerance=None) -> bool:
    """Print a verdict and return True if ``answer`` is right.

    ``expected`` is a value, or a function ``answer -> bool`` for answers with many right
    forms. ``tolerance`` allows numbers within that relative distance of ``expected``.
    """
    if any(answer is u for u in UNANSWERED):
        print(
            f"✏️  Not answered yet: set answer for {name} in the cell above, run it, then run this "
            "cell again. (Stuck? The cell after this one can load a solution.)"
        )
        return False
    try:
        if callable(expected):
            right = bool(expected(answer))
        elif tolerance is not None and isinstance(answer, int | float) and isinstance(expected, int | float):
            right = math.isclose(answer, expected, rel_tol=tolerance)
        else:
            right = _same(answer, expected)
    except Exception as exc:  # an answer of a shape the check did not expect
        print(f"❌ That answer could not be checked ({type(exc).__name__}: {exc}). {hint}")
        return False
    if right:
        print(f"✅ Right. {explain}".rstrip())
    else:
        print(f"❌ Not quite. {hint}")
    return right


def reveal(prediction, measured) -> None:
    """Print the learner's prediction beside what the lab measured, with no verdict: a
    prediction is for thinking, not for marks. An empty one (``None`` or ``...``) says so."""
    if any(prediction is u for u in UNANSWERED):
        print("🤔 No prediction recorded (set prediction = ... before running the experiment).")
    else:
        print(f"🤔 You predicted:     {prediction!r}")
    print(f"🔬 The lab measured: {measured!r}")


def to_review(answer, expected: dict) -> list:
    """The keys of ``expected`` whose value ``answer`` (a dict) gets wrong, compared the way
    ``check`` compares: a hint that names them agrees with the verdict."""
    given = {_normal(k): v for k, v in answer.items()} if isinstance(answer, dict) else {}
    return [k for k in expected if _normal(k) not in given or not _same(given[_normal(k)], expected[k])]


def _same(answer, expected):
    """``answer`` equals ``expected`` as a person means it. Where the expected answer is a
    set, any collection of the same items is right: the list ``['Meena', 'Anil']`` too."""
    if (
        isinstance(expected, set | frozenset)
        and isinstance(answer, Iterable)
        and not isinstance(answer, str | bytes | dict)
    ):
        return sorted((_normal(v) for v in answer), key=repr) == _normal(expected)
    return _normal(answer) == _normal(expected)


def _normal(value):
    """Compare the way a person would: case and surrounding spaces of words don't matter,
    nor the order of a set of names."""
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, set | frozenset):
        return sorted((_normal(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {_normal(k): _normal(v) for k, v in value.items()}
    return value


def __getattr__(name):
    """``fl.checks.<grader>``: the write-code exercises' graders, found in ``finpay_lab.grading``."""
    if name.startswith("_"):
        raise AttributeError(name)
    from finpay_lab import grading

    return grading.find(name)
