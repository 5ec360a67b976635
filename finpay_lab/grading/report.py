"""The verdict a grader prints: each claim the experiment tested, whether it held, and why.

    report = Report("Exercise 1.3")
    report.claim("every pod gives the same count", held=counts == {5}, detail=f"pods said {counts}")
    return report.show(hint="keep the counter where every pod can see it")

An exercise the learner has not written yet (``None``, ``...``, or a function whose body is
only ``...``/``pass``/a docstring) is not graded: ``unanswered`` says what to do, so Run All
of a lesson as shipped prints no verdict the learner did not earn (no ✅, no ❌).
"""

from dataclasses import dataclass, field

__all__ = ["Report", "is_stub", "unanswered"]


def _empty(): ...


def _documented():
    """A docstring and nothing else."""


_STUB_CODES = {_empty.__code__.co_code, _documented.__code__.co_code}


def is_stub(code) -> bool:
    """True for an answer not written yet: ``None``, ``...``, or a function with no body."""
    if code is None or code is Ellipsis:
        return True
    function = getattr(code, "__func__", code)
    body = getattr(function, "__code__", None)
    if body is None or body.co_code not in _STUB_CODES:
        return False
    constants = list(body.co_consts)
    if constants and function.__doc__ is not None and constants[0] == function.__doc__:
        constants = constants[1:]  # the docstring
    return all(c is None for c in constants)  # ``return None``, not ``return 1``


def unanswered(name: str, *codes) -> bool:
    """Print what to do and return True when any of ``codes`` is not written yet."""
    if not any(is_stub(c) for c in codes):
        return False
    print(
        f"✏️  Not answered yet: write the code for {name} in the cell above, run it, then run "
        "this cell again. (Stuck? The cell after this one can load a solution.)"
    )
    return True


@dataclass
class Report:
    """Claims an experiment tested, printed as one verdict."""

    name: str
    claims: list = field(default_factory=list)

    def claim(self, text: str, *, held: bool, detail: str = "") -> bool:
        self.claims.append((text, bool(held), detail))
        return bool(held)

    @property
    def passed(self) -> bool:
        return bool(self.claims) and all(held for _, held, _ in self.claims)

    def show(self, *, hint: str = "", explain: str = "") -> bool:
        """Print the verdict, one line per claim, and return whether every claim held."""
        if self.passed:
            print(f"✅ {self.name}: every claim held. {explain}".rstrip())
        else:
            print(f"❌ {self.name}: not yet. {hint}".rstrip())
        for text, held, detail in self.claims:
            mark = "held " if held else "BROKE"
            print(f"   {mark}  {text}" + (f" ({detail})" if detail else ""))
        return self.passed
