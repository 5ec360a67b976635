"""No checked claim depends on how fast the learner reads.

Each lesson runs once (tests/course_runs.py) with a reader's pause before every code cell:
it lets every lab finish all its background work (SMS workers draining their queues, a
survivor reclaiming a dead pod's messages, a crashed pod's restart), which is all that
reading time can change. Every checked cell (tagged nbval-check-output) must then show exactly
what it shows in the committed lesson, compared as nbval compares (same sanitizers).
"""

import pytest

from tests.course_runs import LESSONS, committed, executed, sanitized, text_of

NAMES = [p.name for p in LESSONS]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lesson", NAMES)
def test_a_slow_reader_sees_every_checked_claim(lesson):
    ran = [c for c in executed(lesson).cells if "inserted" not in c.metadata]
    shipped = committed(lesson)
    assert len(ran) == len(shipped)
    checked = 0
    for i, (cell, expected) in enumerate(zip(ran, shipped, strict=True)):
        if not expected.metadata.get("keep_output"):
            continue
        checked += 1
        assert sanitized(text_of(cell)) == sanitized(text_of(expected)), (
            f"{lesson} cell {i} changed for a slow reader"
        )
    assert checked
