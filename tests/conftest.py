"""Shared fixtures. The default scenario is generated once per test session."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def scenario_frames() -> dict[str, pl.DataFrame]:
    """The default scenario's frames (``generate(ScenarioConfig())``), built once."""
    from backtest.market.scenario import ScenarioConfig, generate

    return generate(ScenarioConfig())


@pytest.fixture(scope="session")
def scenario_store_path(
    tmp_path_factory: pytest.TempPathFactory, scenario_frames: dict[str, pl.DataFrame]
) -> Path:
    """A DuckDB file holding the default scenario, written once per session (read-only use)."""
    from backtest.market.scenario import SOURCE, ScenarioConfig
    from backtest.market.scenario.build import TABLE_ORDER
    from backtest.market.store import Store

    path = tmp_path_factory.mktemp("scenario") / "market.duckdb"
    params = ScenarioConfig().to_params()
    with Store(path) as store, store.transaction():
        for table in TABLE_ORDER:
            store.write(table, scenario_frames[table], source=SOURCE, params=params, mode="replace")
    return path


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The shared real-data folder; skips the test when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} is absent")
    return REAL_DATA
