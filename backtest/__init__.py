"""A-share crowding-crash backtester: replay 2023-2024 through the books the industry ran.

The entry points of a notebook or a script, importable from here:

- :class:`Engine`: run strategies over a market, one :class:`Result` per book;
- :class:`EngineConfig`: the engine's frozen, hashed settings (costs, participation cap, ...);
- :class:`Strategy`: the base class of a strategy: implement ``on_bar(ctx)``;
- :class:`Context`: what ``on_bar`` sees: history arrays ending today, the portfolio, orders;
- :class:`Result`: one book's daily equity, positions, fills and summary;
- :class:`MarketData`: the arrays a run reads, loaded from a store (``MarketData.from_store``);
- :class:`Store`: the DuckDB market store (``with Store(path, read_only=True) as store``).

Analytics (``compare``, attribution, the report, metrics) live in :mod:`backtest.analytics`;
the ``backtest`` command, the replay, the report command and the notebooks' helpers in
:mod:`backtest.apps`.

The layers, lowest first; each imports only the layers below it (``tests/test_layering.py``
holds this with import-linter, ``[tool.importlinter]`` in pyproject.toml)::

    core < rules < market < execution < engine < runs | analytics | strategies < apps

``runs``, ``analytics`` and the top-level ``strategies`` package share a layer and do not import
each other, so ``backtest.apps`` is the only part of ``backtest`` that imports ``strategies``.
No module imports in a circle, and no import hides inside a function.

>>> from backtest import Engine, EngineConfig, MarketData, Store
>>> Engine.__module__, Store.__module__
('backtest.engine.engine', 'backtest.market.store')
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtest.engine import Context, Engine, EngineConfig, MarketData, Result, Strategy
    from backtest.market.store import Store

__version__ = "0.1.0"

# Every ``import backtest.<anything>`` runs this file first, so it imports nothing heavy: the
# entry points (and numba, polars, duckdb behind them) load on first use. Only this package
# points down at its layers; none of them imports it, so this is no import circle.
_LOADED_ON_FIRST_USE = {
    "Context": "backtest.engine",
    "Engine": "backtest.engine",
    "EngineConfig": "backtest.engine",
    "MarketData": "backtest.engine",
    "Result": "backtest.engine",
    "Store": "backtest.market.store",
    "Strategy": "backtest.engine",
}


def __getattr__(name: str) -> Any:
    """Return an entry point, importing its module on first use."""
    module = _LOADED_ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """List the package's names, the entry points loaded on first use included."""
    return sorted({*globals(), *_LOADED_ON_FIRST_USE})


__all__ = [
    "Context",
    "Engine",
    "EngineConfig",
    "MarketData",
    "Result",
    "Store",
    "Strategy",
]
