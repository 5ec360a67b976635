"""The capstone: a FinPay service of your own, graded on a bad day.

    fl.checks.capstone_brief("receipts")           # what to build: endpoints and promises
    fl.checks.capstone(my_app, state="memory", practice=True)   # a try-out: no grade
    fl.checks.capstone(my_app, state="redis", db="sqlite")      # the graded run

You write an ``fl.App`` that offers what the brief asks, and choose where each piece of its
state lives: in the pod's memory (a dict in your module, or ``state`` with
``state="memory"``), in Redis (``state`` with ``state="redis"``; persistent with
``redis="real", redis_persistence="aof"``), in the lab's SQL database (a handler that names
``db``, with ``db="sqlite"``), or in a queue (``state.enqueue``/``take``/``ack``: a Redis
stream with ``state="redis"``). The harness starts your app on 3 real pods with those
choices and runs the scenario of ``capstone_run.py``: payments, retries, the chaos monkey,
a Redis crash, a rolling update, 3 → 30 pods, an overdraft. It then says which promises of
the brief held and, for each one that broke, what broke it and where the state was.

The verdict depends on your app and the seed only, never on the machine's speed (see
``capstone_run.py``), and the lab is closed whatever happens. ``practice=True`` runs the
same day and prints the same findings without a verdict: for trying a design out (and
for a lesson's Run All, which must not hand out ✅ or ❌ the learner has not earned).
"""

from dataclasses import dataclass, field

from .. import defaults
from ..errors import BadInput
from ..runtime.app import App
from ..runtime.lab import Lab
from .capstone_checks import judge
from .capstone_run import Scenario
from .capstone_specs import SPECS
from .report import Report, is_stub, unanswered

__all__ = ["capstone", "capstone_brief"]

NAME = "Capstone"
SHOWN = 12  # reasons printed (about two per broken promise); a result keeps them all in .why


def capstone_brief(spec="receipts"):
    """Print what the service of ``spec`` must offer: its endpoints and their promises."""
    print(_spec(spec).brief)


@dataclass
class Result:
    """What a capstone run found: ``passed`` (None for a practice run), each claim as
    ``(promise, held, detail)``, the reasons for what broke, and the day's steps."""

    spec: str
    passed: bool | None
    claims: list
    why: list
    steps: list
    lost_receipts: int = 0
    receipts_lost_at: dict = field(default_factory=dict)  # step title -> receipts first missed there
    unsent_sms: int = 0
    double_charges: int = 0
    wrong_balances: int = 0
    choices: dict = field(default_factory=dict)

    @property
    def broken(self):
        return [text for text, held, _ in self.claims if not held]

    def __bool__(self):
        return bool(self.passed)

    def __repr__(self):
        kept = len(self.claims) - len(self.broken)
        return f"<capstone {self.spec!r}: {kept} of {len(self.claims)} promises kept>"


def capstone(
    app,
    spec="receipts",
    *,
    state="redis",
    db=None,
    redis="fake",
    redis_persistence="none",
    practice=False,
    seed=defaults.SEED,
):
    """Run ``app`` (an ``fl.App`` offering the endpoints of ``spec``) through the capstone's
    day on a lab with the state choices given, print what held and what broke, and return
    a ``Result``; None if the app is not written yet."""
    spec = _spec(spec)
    if not isinstance(app, App):
        raise BadInput(
            f"pass your service, an fl.App with the endpoints {', '.join(spec.endpoints)}; "
            f"not {type(app).__name__}"
        )
    missing = [name for name in spec.endpoints if name not in app.endpoints]
    if missing:
        raise BadInput(
            f"your app has no endpoint {', '.join(missing)}: the {spec.name!r} brief asks for "
            f"{', '.join(spec.endpoints)} (fl.checks.capstone_brief({spec.name!r}) prints it)"
        )
    if not isinstance(practice, bool):
        raise BadInput(f"practice must be True (a try-out, no grade) or False, not {practice!r}")
    empty = [name for name in spec.endpoints if is_stub(app.endpoints[name])]
    if unanswered(f"the capstone ({', '.join(empty)} still empty)", *(app.endpoints[n] for n in empty)):
        return None
    choices = {"state": state, "db": db, "redis": redis, "redis_persistence": redis_persistence}
    with Lab(pods=3, app=app, seed=seed, **choices) as lab:  # checks the choices; closed whatever happens
        seen = Scenario(lab, spec, seed).play()
    report = Report(f"{NAME} ({spec.name})")
    why = judge(report, seen, spec)
    result = Result(
        spec.name,
        None if practice else report.passed,
        report.claims,
        why,
        [f"{s.number} {s.title}: {s.what}" for s in seen.steps],
        lost_receipts=len(seen.missing),
        receipts_lost_at=_lost_at(seen),
        unsent_sms=sum(key not in seen.sms for key in seen.paid),
        double_charges=sum(r["charged"] != 0 for r in seen.retries),
        wrong_balances=len(seen.balances),
        choices=choices,
    )
    _show(result, report, practice)
    return result


def _lost_at(seen):
    titles = {s.number: s.title for s in seen.steps}
    found = {}
    for step, _, _ in sorted(seen.missing.values(), key=lambda m: m[0]):
        found[titles[step]] = found.get(titles[step], 0) + 1
    return found


def _spec(spec):
    if isinstance(spec, str) and spec in SPECS:
        return SPECS[spec]
    raise BadInput(f"spec={spec!r:.40} is not a capstone brief; there is: {', '.join(map(repr, SPECS))}")


def _show(result, report, practice):
    where = ", ".join(f"{k}={v!r}" for k, v in result.choices.items() if v not in (None, "none", "fake"))
    if practice:
        print(
            f"📋 Practice run of the {result.spec!r} capstone ({where}): no grade. "
            f"{len(result.broken)} of {len(result.claims)} promises broke."
        )
        for text, held, detail in result.claims:
            print(f"   {'kept ' if held else 'BROKE'}  {text}" + (f" ({detail})" if detail else ""))
    else:
        report.show(
            hint=f"({where}) Read why below, move the state that broke, and run it again.",
            explain=f"({where}) Your service kept every promise through the whole day.",
        )
    if result.why:
        print("What broke, and why:")
        for sentence in result.why[:SHOWN]:
            print(f"   • {sentence}")
        if len(result.why) > SHOWN:
            print(f"   … and {len(result.why) - SHOWN} more reasons (the result's .why lists them all)")
    print("The day, step by step:")
    for line in result.steps:
        print(f"   {line}")
