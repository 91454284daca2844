"""The layers import downward only, and nothing imports in a circle.

The contract (also in ``backtest/__init__.py`` and ``[tool.importlinter]`` in pyproject.toml),
lowest layer first::

    backtest.core < backtest.rules < backtest.market < backtest.execution < backtest.engine
        < backtest.runs | backtest.analytics | strategies  < backtest.apps

A layer imports only the layers below it. ``runs``, ``analytics`` and ``strategies`` share a
layer and do not import each other: the analytics read results, not runs or strategies; a
run names its strategy classes as values (``runs.spec`` imports them by the path saved in the
spec, never in its code); ``strategies`` sees the engine's ``Strategy``/``Context`` and the
rules. So only ``backtest.apps`` imports ``strategies``. Imports inside functions and under
``TYPE_CHECKING`` count: a lazy import that dodges a circle is a circle (STYLE habit 13).

import-linter (the ``dev`` extra) holds the layers and the absence of circles between the
modules of each package; the tests below add what it cannot see: a module of ``backtest`` that
belongs to no layer, a module that imports its own package (a circle through ``__init__``),
and imports inside functions.

There is no allow-list: every import of the project sits at the top of its module, in its
layer, with no circle (``LAZY_ALLOWED`` is where an exception would be written, with its
reason; the test fails when an entry there no longer matches).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backtest", "strategies")

#: (file, imported module) -> why an import inside a function there is allowed for now.
LAZY_ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    """One import statement of the project: where it is and the module it names."""

    path: str  # relative to the repository, e.g. backtest/engine/strategy.py
    line: int
    module: str  # the importing module, e.g. backtest.engine.strategy
    imported: str  # the module named, e.g. backtest.engine.futures.account
    in_function: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported}"


def module_name(path: Path, root: Path) -> str:
    """``backtest/engine/__init__.py`` -> ``backtest.engine``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> Iterator[Import]:
    """Every import of a project module in ``packages`` under ``root``, with its line.

    ``from a.b import c`` names the module ``a.b.c`` when there is one, else ``a.b``.
    """
    paths = {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        relative = path.relative_to(root).as_posix()
        for found in _imports_of(tree, relative, module, path.name == "__init__.py", set(paths)):
            if found.imported.split(".")[0] in PACKAGES:
                yield found


def _imports_of(
    tree: ast.AST, path: str, module: str, is_package: bool, modules: set[str]
) -> Iterator[Import]:
    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(path, child.lineno, module, alias.name, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join([*package, *([child.module] if child.module else [])])
                named = {f"{base}.{alias.name}" for alias in child.names} & modules
                for imported in sorted(named) if named else [base]:
                    yield Import(path, child.lineno, module, imported, in_function)
            inside = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from visit(child, inside)

    yield from visit(tree, False)


def test_the_import_linter_contracts_hold() -> None:
    # a fresh interpreter on this checkout, whatever is installed: the contract of this tree
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "import sys\nfrom importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_of_backtest_sits_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    children = {
        f"backtest.{path.stem if path.suffix == '.py' else path.name}"
        for path in (ROOT / "backtest").iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert children - layered == set(), "add these to a layer in [tool.importlinter]"
    assert set(config["tool"]["importlinter"]["root_packages"]) == set(PACKAGES)


def test_no_module_imports_its_own_package() -> None:
    # ``from backtest.engine import X`` inside backtest/engine/ runs the package's __init__,
    # which imports its modules: a circle import-linter does not see
    offending = [
        str(found)
        for found in project_imports(ROOT)
        if found.module.startswith(found.imported + ".")
    ]
    assert offending == [], "\n".join(offending)


def test_no_project_import_inside_a_function() -> None:
    # a lazy import hides a dependency, and when it dodges a circle it is a circle: import at
    # the top of the module (the contracts above then check it like any other)
    seen = set()
    offending = []
    for found in project_imports(ROOT):
        if not found.in_function:
            continue
        key = (found.path, found.imported)
        if key in LAZY_ALLOWED:
            seen.add(key)
        else:
            offending.append(str(found))
    assert offending == [], "\n".join(offending)
    assert set(LAZY_ALLOWED) - seen == set(), "allowed lazy imports that are gone: remove them"


def test_the_checks_read_lazy_relative_and_type_checking_imports(tmp_path: Path) -> None:
    package = tmp_path / "backtest" / "engine"
    package.mkdir(parents=True)
    (tmp_path / "backtest" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .engine import Engine\nfrom . import book\n")
    (package / "book.py").write_text("")
    (package / "engine.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from backtest.apps.cli import main\n"
        "def run():\n"
        "    from ..market import store\n"
        "    import strategies.hedged\n"
    )
    found = {(i.imported, i.line, i.in_function) for i in project_imports(tmp_path, ("backtest",))}
    assert found == {
        ("backtest.engine.engine", 1, False),
        ("backtest.engine.book", 2, False),
        ("backtest.apps.cli", 3, False),
        ("backtest.market", 5, True),
        ("strategies.hedged", 6, True),
    }
