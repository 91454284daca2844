"""Find, build and open the market store the notebooks read.

The notebooks under ``notebooks/`` call :func:`load_market` once each. The store is the file
named by the environment variable ``BACKTEST_STORE`` when it is set (the test suite points it
at its session store, so CI builds the scenario once), else the commands' default store
(:data:`backtest.market.store.DEFAULT_STORE`) under the repository root. A missing or empty store is
filled with the calibrated 2023-2024 scenario, the same way ``backtest replay`` does
(:func:`backtest.market.scenario.store_file.ensure_scenario_file`); after that the store is opened
read-only, so that several processes (a test session and a notebook kernel) may read it at once:
DuckDB lets many processes open a file read-only, but only one process open it read-write.

>>> (repository_root() / "backtest" / "apps" / "notebook.py").is_file()
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from backtest.market.panel import MarketData
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import ensure_scenario_file
from backtest.market.store import DEFAULT_STORE, Store

__all__ = [
    "STORE_VARIABLE",
    "ensure_store",
    "load_market",
    "open_store",
    "repository_root",
    "store_path",
]

#: Environment variable naming the DuckDB store the notebooks read.
STORE_VARIABLE = "BACKTEST_STORE"


def repository_root() -> Path:
    """Return the folder that holds the ``backtest`` package (the repository in a checkout)."""
    return Path(__file__).resolve().parents[2]


def store_path() -> Path:
    """Return ``$BACKTEST_STORE`` if set, else ``<repository>/data/market.duckdb``.

    The default is the commands' (:data:`backtest.market.store.DEFAULT_STORE`), resolved
    against the repository rather than the working folder, as a notebook's kernel starts in
    ``notebooks/``.
    """
    named = os.environ.get(STORE_VARIABLE, "").strip()
    if named:
        return Path(named).expanduser()
    return repository_root() / DEFAULT_STORE


def ensure_store(
    path: Path | None = None,
    *,
    config: ScenarioConfig | None = None,
    progress: bool = False,
) -> Path:
    """Return the store's path, building the scenario there first if it is missing or blank.

    Parameters
    ----------
    path
        The store file; default :func:`store_path`.
    config
        The scenario to build when the store is missing or holds no rows; default
        ``ScenarioConfig()``, the calibrated 2023-2024 market. A store that holds anything is
        used as it is. The build is atomic (:func:`backtest.market.atomic.replace_store`).
    progress
        Show the scenario's progress bar while building.
    """
    target = store_path() if path is None else Path(path)
    ensure_scenario_file(target, config, progress=progress)
    return target


def open_store(path: Path | None = None) -> Store:
    """Open the (built if needed) store read-only; close it when done (it is a context manager)."""
    return Store(ensure_store(path), read_only=True)


def load_market(path: Path | None = None, **window: Any) -> MarketData:
    """Load the whole market (or ``start=`` / ``end=`` of it) for a backtest, then close the store.

    Keyword arguments go to :meth:`backtest.market.panel.MarketData.from_store`.
    """
    with open_store(path) as store:
        return MarketData.from_store(store, **window)
