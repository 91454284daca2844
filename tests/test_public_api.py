"""The flat public shell: what ``backtest`` and ``backtest.analytics`` export, and how fast."""

from __future__ import annotations

import importlib
import inspect
import pydoc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import backtest
import backtest.analytics

REPOSITORY = Path(__file__).resolve().parents[1]

ENTRY_POINTS = {
    "Context": "backtest.engine.strategy",
    "Engine": "backtest.engine.engine",
    "EngineConfig": "backtest.engine.config",
    "MarketData": "backtest.market.panel",
    "Result": "backtest.engine.result",
    "Store": "backtest.market.store",
    "Strategy": "backtest.engine.strategy",
}

ANALYTICS_FUNCTIONS = {
    "compare": "backtest.analytics.compare",
    "attribute_book": "backtest.analytics.attribution",
    "attribute_books": "backtest.analytics.attribution",
    "book_returns": "backtest.analytics.attribution",
    "write_report": "backtest.analytics.report",
    "render_report": "backtest.analytics.report",
    "cumulative_excess_figure": "backtest.analytics.plots",
    "drawdowns_figure": "backtest.analytics.plots",
    "active_size_exposure_figure": "backtest.analytics.plots",
    "crash_trading_figure": "backtest.analytics.plots",
    "cumulative_return": "backtest.analytics.metrics",
    "cumulative_returns": "backtest.analytics.metrics",
    "annualised_return": "backtest.analytics.metrics",
    "annualised_volatility": "backtest.analytics.metrics",
    "sharpe_ratio": "backtest.analytics.metrics",
    "drawdowns": "backtest.analytics.metrics",
    "max_drawdown": "backtest.analytics.metrics",
    "max_drawdown_details": "backtest.analytics.metrics",
    "excess_returns": "backtest.analytics.metrics",
    "cumulative_excess_return": "backtest.analytics.metrics",
    "cumulative_excess_returns": "backtest.analytics.metrics",
    "tracking_error": "backtest.analytics.metrics",
    "information_ratio": "backtest.analytics.metrics",
    "daily_turnover": "backtest.analytics.metrics",
    "annualised_turnover": "backtest.analytics.metrics",
    "hit_rate": "backtest.analytics.metrics",
    "performance_summary": "backtest.analytics.metrics",
}


def _run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.mark.parametrize(("name", "module"), sorted(ENTRY_POINTS.items()))
def test_top_level_package_exports_the_notebook_entry_points(name: str, module: str) -> None:
    exported = getattr(backtest, name)
    assert exported is getattr(importlib.import_module(module), name)
    assert name in backtest.__all__
    assert name in dir(backtest)
    assert f":class:`{name}`" in (backtest.__doc__ or "")


def test_top_level_package_exports_only_the_entry_points() -> None:
    assert sorted(backtest.__all__) == sorted(ENTRY_POINTS)


def test_unknown_top_level_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Engin'"):
        _ = backtest.Engin  # type: ignore[attr-defined]


def test_readme_strategy_imports_come_from_the_top_level_package() -> None:
    out = _run_python(
        """
        from backtest import Context, Engine, EngineConfig, MarketData, Store, Strategy
        print(Store.__name__, Engine.__name__)
        """
    )
    assert out == "Store Engine"


def test_import_backtest_is_fast_and_loads_no_heavy_dependency() -> None:
    # measured about 2-5 ms; the bound only catches an import of the engine (about 1 s)
    out = _run_python(
        """
        import sys, time
        start = time.perf_counter()
        import backtest
        elapsed = time.perf_counter() - start
        heavy = ("numba", "polars", "duckdb", "numpy", "matplotlib", "backtest.engine")
        print(f"{elapsed:.4f}", ",".join(m for m in heavy if m in sys.modules) or "-")
        """
    )
    elapsed, loaded = out.split()
    assert loaded == "-"
    assert float(elapsed) < 0.25


def test_importing_the_engine_and_analytics_compiles_no_numba_kernel() -> None:
    out = _run_python(
        """
        import sys
        import backtest.analytics, backtest.engine, backtest.market.store
        from numba.core.registry import CPUDispatcher
        kernels = compiled = 0
        for name, module in list(sys.modules.items()):
            if not name.startswith("backtest"):
                continue
            for value in vars(module).values():
                if isinstance(value, CPUDispatcher):
                    kernels += 1
                    compiled += bool(value.signatures)
        print(kernels > 0, compiled, "matplotlib" in sys.modules)
        """
    )
    assert out == "True 0 False"


@pytest.mark.parametrize(
    "code",
    [
        "from backtest.analytics import compare",
        "import backtest.analytics.compare as m\nfrom backtest.analytics import compare",
        "import backtest.analytics.compare\nfrom backtest.analytics import compare",
        "from backtest.analytics.compare import compare_row\n"
        "from backtest.analytics import compare",
        "import backtest.analytics.report\nfrom backtest.analytics import compare",
        "from backtest.analytics import write_report, compare",
    ],
    ids=[
        "package-first",
        "submodule-as-alias-first",
        "submodule-first",
        "from-submodule-first",
        "report-first",
        "lazy-report-with-compare",
    ],
)
def test_compare_from_the_package_is_the_function_in_any_import_order(code: str) -> None:
    out = _run_python(
        code
        + "\nimport inspect, sys\n"
        + "print(inspect.isfunction(compare), compare.__module__,"
        + " inspect.ismodule(sys.modules['backtest.analytics.compare']))"
    )
    assert out == "True backtest.analytics.compare True"


def test_import_of_the_compare_submodule_as_an_alias_gives_the_function() -> None:
    # documented in the package docstring: the package attribute is the function
    out = _run_python(
        """
        import inspect
        import backtest.analytics.compare as m
        print(inspect.isfunction(m))
        """
    )
    assert out == "True"


def test_compare_submodule_stays_reachable_through_sys_modules() -> None:
    module = sys.modules["backtest.analytics.compare"]
    assert inspect.ismodule(module)
    assert module.compare is backtest.analytics.compare


@pytest.mark.parametrize(("name", "module"), sorted(ANALYTICS_FUNCTIONS.items()))
def test_analytics_exports_each_public_function(name: str, module: str) -> None:
    exported = getattr(backtest.analytics, name)
    assert inspect.isfunction(exported)
    assert exported is getattr(importlib.import_module(module), name)
    assert name in backtest.analytics.__all__


@pytest.mark.parametrize("name", sorted(ANALYTICS_FUNCTIONS))
def test_analytics_docstring_describes_each_function_in_one_line(name: str) -> None:
    lines = (backtest.analytics.__doc__ or "").splitlines()
    described = [line for line in lines if line.startswith("- ") and f":func:`{name}`" in line]
    assert len(described) == 1
    assert len(described[0].split(":", 3)[-1].strip()) > 10


def test_help_of_analytics_lists_every_public_function() -> None:
    text = pydoc.render_doc(backtest.analytics, renderer=pydoc.plaintext)
    functions = text[text.index("FUNCTIONS") :]
    for name in ANALYTICS_FUNCTIONS:
        assert f"\n    {name}(" in functions, name


def test_every_name_in_analytics_all_exists() -> None:
    missing = [n for n in backtest.analytics.__all__ if not hasattr(backtest.analytics, n)]
    assert missing == []
