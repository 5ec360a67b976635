"""Graders for the write-code exercises: the learner's code runs on real pods.

A reading check (``fl.checks.check``) compares a number; a grader deploys what the learner
wrote (a handler, an ``fl.App``, a worker) on a lab, runs a seeded experiment against it
(a kill, a rescale, a Redis crash, a race, a rollout) and says in plain words what held
and what broke:

    fl.checks.visit_counter(visit)        # lesson 01: does the count agree across pods?

Each lesson's graders live in their own module here (``lesson01.py``, ``stores.py``, ...)
and list their names in ``__all__``; ``fl.checks.<name>`` finds them (see ``find``), so a
new grader needs no registration anywhere else. ``report.Report`` is the verdict they share.

Graders sit above every other layer: they use the runtime, the stores, FinPay, load and
chaos as a learner would, through ``finpay_lab``'s public names.
"""

import importlib
import pkgutil

__all__ = ["find", "names"]


def names() -> dict:
    """Every grader's name -> the module that defines it."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "report":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name in getattr(module, "__all__", ()):
            found[name] = module.__name__
    return found


def find(name: str):
    """The grader called ``name``, or AttributeError (so ``fl.checks.<typo>`` reads as usual)."""
    module = names().get(name)
    if module is None:
        raise AttributeError(f"fl.checks has no grader called {name!r}")
    return getattr(importlib.import_module(module), name)
