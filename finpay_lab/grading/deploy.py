"""What a grader does first: the learner's functions as the endpoints of an app.

    app = endpoints_app(report, "sessions", {"login": login, "whoami": whoami},
                        hint="write them as def login(state, user): ... and def whoami(state, session): ...")
    if app is None:
        return False                          # the verdict is shown: they cannot be endpoints

A function that cannot be an endpoint (not a function, or no ``state`` parameter first) is
the grader's first broken claim, "… can run as an endpoint", with ``App.endpoint``'s own
words as the reason, and the learner gets a hint instead of a traceback.

Not a grader: ``__all__`` is empty, so ``fl.checks`` lists nothing from here.
"""

__all__ = []

STORES = ("memory", "redis")  # what a grader's where= may name


def check_store(state, handlers="handler"):
    """BadInput unless ``state`` (the learner's ``where=``) names a store the lab gives its
    ``handlers``: "memory" or "redis"."""
    if state not in STORES:
        import finpay_lab as fl

        raise fl.BadInput(
            f"where must be 'memory' or 'redis' (the store the lab gives your {handlers}), not {state!r:.40}"
        )


def endpoints_app(report, app_name, functions, hint, check=None):
    """An ``fl.App`` called ``app_name`` with ``functions`` (endpoint name -> the learner's
    function) as its endpoints. If one cannot be an endpoint (``App.endpoint``, or
    ``check(function)`` first, raises TypeError), the claim "<names> can run as an
    endpoint" is recorded as broken, the verdict is shown with ``hint``, and it returns None."""
    import finpay_lab as fl

    app = fl.App(app_name)
    try:
        for name, function in functions.items():
            if check is not None:
                check(function)
            app.endpoint(function, name=name)
    except TypeError as exc:
        can = "can run as an endpoint" if len(functions) == 1 else "can run as endpoints"
        report.claim(f"{' and '.join(functions)} {can}", held=False, detail=str(exc))
        report.show(hint=hint)
        return None
    return app
