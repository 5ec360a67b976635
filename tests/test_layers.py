"""The package in layers: each layer imports only the layers below it.

    errors, defaults, numbers  <  runtime  <  stores  <  services  <  experiments  <  views  <  grading

``checks.py`` and ``examples/`` are leaves for the notebooks: nothing in the package
imports them. ``finpay_lab/__init__.py`` is the notebooks' front door and may name anything.

An "import" here is what the source says, read with ``ast`` (nothing is imported): a
module-level import, a lazy import inside a function, and a string that names a module
path (``"finpay_lab.services.finpay"`` handed to the forkserver preload imports it just the
same). No module but ``runtime/lab.py`` reaches into a lab's private parts (``lab._x``).

The allow-lists below are the violations left, each with the part of issue 9 that removes
it. They may only shrink: an entry that no longer happens fails the test too.
"""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "finpay_lab"
RANK = {"": 0, "runtime": 1, "stores": 2, "services": 3, "experiments": 4, "views": 5, "grading": 6}
TOP = {
    "finpay_lab.errors": 0,
    "finpay_lab.defaults": 0,
    "finpay_lab.numbers": 0,
    "finpay_lab.serve": 3,
    "finpay_lab.serve_pod": 3,
}  # an App over HTTP, as a pod (issue 12)
LEAVES = ("finpay_lab.checks", "finpay_lab.examples")
MODULE_PATH = re.compile(r"\bfinpay_lab(?:\.\w+)+")

# (importer, imported) -> the part of issue 9 that removes it
ALLOWED_IMPORTS = {}  # stage 3 gave the runtime seams: App declarations and the store-kinds registry


# (module, private attribute reached on a lab) -> the part of issue 9 that removes it
ALLOWED_REACHES = {}  # stage 3 gave chaos, the Redis check and the dashboard public seams


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _layer(module):
    """The rank of a module's layer, or None for the front door and the leaves."""
    if module == "finpay_lab" or module.startswith(LEAVES):
        return None
    if module in TOP:
        return TOP[module]
    parts = module.split(".")
    assert len(parts) >= 2 and parts[1] in RANK, f"{module} is in no layer: add it to tests/test_layers.py"
    return RANK[parts[1]]


def _known(name):
    """The longest prefix of a dotted name that is a module of the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module, path):
    """Every module of the package that ``module``'s source imports or names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_known(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:  # `from . import wire` imports a module by its name
                found.add(
                    _known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else _known(base)
                )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {_known(m) for m in MODULE_PATH.findall(node.value)}
    return {m for m in found if m.startswith("finpay_lab") and m != module}


def _private_reaches(path):
    """Attributes starting with ``_`` read on something named ``lab`` (``lab._x``, ``self.lab._x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if name in ("lab", "_lab"):
                yield node.attr


MODULES = dict(_modules())


def _violations():
    found = set()
    for module, path in MODULES.items():
        rank = _layer(module)
        for imported in _imports(module, path):
            into_a_leaf = imported.startswith(LEAVES) and not module.startswith(LEAVES)
            upwards = rank is not None and (_layer(imported) or 0) > rank
            if into_a_leaf or upwards:
                found.add((module, imported))
    return found


def test_the_package_is_in_layers():
    """Every module sits in a layer folder (or is errors/defaults/numbers/checks/examples)."""
    for module in MODULES:
        _layer(module)  # asserts
    assert {
        "finpay_lab.runtime.lab",
        "finpay_lab.runtime.loop",
        "finpay_lab.stores.state",
        "finpay_lab.services.finpay",
        "finpay_lab.experiments.chaos",
        "finpay_lab.views.live",
    } <= set(MODULES)


def test_imports_run_only_downwards():
    found = _violations()
    new = sorted(found - set(ALLOWED_IMPORTS))
    assert not new, "a lower layer imports a higher one:\n" + "\n".join(f"  {a} -> {b}" for a, b in new)
    gone = sorted(set(ALLOWED_IMPORTS) - found)
    assert not gone, "fixed, so remove from ALLOWED_IMPORTS:\n" + "\n".join(f"  {a} -> {b}" for a, b in gone)


def test_only_the_lab_reaches_into_the_lab():
    found = {
        (module, attr)
        for module, path in MODULES.items()
        if module != "finpay_lab.runtime.lab"
        for attr in _private_reaches(path)
    }
    new = sorted(found - set(ALLOWED_REACHES))
    assert not new, "private reaches into a lab:\n" + "\n".join(f"  {m}: lab.{a}" for m, a in new)
    gone = sorted(set(ALLOWED_REACHES) - found)
    assert not gone, "fixed, so remove from ALLOWED_REACHES:\n" + "\n".join(
        f"  {m}: lab.{a}" for m, a in gone
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from ..services.finpay import app", {"finpay_lab.services.finpay"}),
        ("def f():\n    from ..views import plots", {"finpay_lab.views.plots"}),
        ("from .. import defaults", {"finpay_lab.defaults"}),
        ("from . import wire", {"finpay_lab.runtime.wire"}),
        ("X = ['finpay_lab.services.finpay']", {"finpay_lab.services.finpay"}),
        ("import finpay_lab.views.live as live", {"finpay_lab.views.live"}),
    ],
)
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected):
    """The checker itself: lazy imports, relative ones and module paths in strings count."""
    path = tmp_path / "pods.py"
    path.write_text(source)
    assert _imports("finpay_lab.runtime.pods", path) == expected


def test_the_reader_sees_private_reaches(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(lab, self):\n    lab._lock\n    self.lab._redis.up()\n    lab.call\n    self._x\n")
    assert sorted(_private_reaches(path)) == ["_lock", "_redis"]


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_every_module_is_at_most_400_lines_as_ruff_formats_it(module):
    """One idea per module, small enough to read in one sitting; `make test` checks the format."""
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"{module} has {lines} lines: split it by concept"
