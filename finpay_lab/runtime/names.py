"""Pod names: ``pod-1``, ``pod-2``... A lab never reuses a name, except for a replacement
(``restart=True``), which keeps the name of the pod it replaces."""


def pod_number(name) -> int | None:
    """The number in a pod's name (``pod-10`` → 10), so pod-10 sorts after pod-9; None if
    the name ends in no number."""
    tail = str(name).rsplit("-", 1)[-1]
    return int(tail) if tail.isdecimal() else None
