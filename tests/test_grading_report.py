"""The graders' shared verdict, and how ``fl.checks`` finds a grader."""

import finpay_lab as fl
from finpay_lab.grading import report


def test_a_function_with_no_body_is_a_stub_and_one_with_code_is_not():
    def empty(x): ...

    def documented(x):
        """Write me."""

    def passing(x):
        pass

    def written(x):
        return x + 1

    assert report.is_stub(None) and report.is_stub(...)
    assert report.is_stub(empty) and report.is_stub(documented) and report.is_stub(passing)
    assert not report.is_stub(written)


def test_unanswered_prints_what_to_do_and_no_verdict(capsys):
    def empty(): ...

    assert report.unanswered("Exercise 9.9", empty) is True
    out = capsys.readouterr().out
    assert "Not answered yet" in out and "✅" not in out and "❌" not in out
    assert report.unanswered("Exercise 9.9", lambda: 1) is False
    assert capsys.readouterr().out == ""


def test_a_report_passes_only_when_every_claim_held(capsys):
    good = report.Report("Exercise 1")
    good.claim("counts agree", held=True, detail="5 on every pod")
    assert good.show(explain="well done") is True
    assert "✅ Exercise 1" in capsys.readouterr().out

    bad = report.Report("Exercise 2")
    bad.claim("counts agree", held=True)
    bad.claim("nothing lost", held=False, detail="3 of 10 lost")
    assert bad.show(hint="use Redis") is False
    out = capsys.readouterr().out
    assert "❌ Exercise 2" in out and "BROKE  nothing lost (3 of 10 lost)" in out

    assert report.Report("empty").passed is False  # no claim tested is not a pass


def test_checks_names_graders_and_a_typo_is_an_attribute_error():
    import pytest

    assert callable(fl.checks.check)
    with pytest.raises(AttributeError, match="no grader called 'no_such_grader'"):
        getattr(fl.checks, "no_such_grader")  # noqa: B009
