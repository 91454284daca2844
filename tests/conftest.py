"""Shared fixtures and the hypothesis profiles. The default scenario is generated once per
test session. ``HYPOTHESIS_PROFILE`` (``dev`` by default, ``ci`` in CI) picks the profile;
``--hypothesis-profile`` on the pytest line overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import settings
from hypothesis_profiles import register_profiles

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

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


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory, real_data_dir: Path):
    """The real main-board panel imported into a DuckDB store once per session.

    Returns ``(store, import_report, seconds)``. The panel's prices are forward-adjusted and
    its volume is in lots; it has no amount, caps or ST flags (the report says so).
    """
    import time

    from backtest.market.importer import ImportSpec, import_file
    from backtest.market.store import Store

    bars = real_data_dir / "ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet"
    store = Store(tmp_path_factory.mktemp("real") / "real.duckdb")
    began = time.perf_counter()
    spec = ImportSpec(column_map=(("volume_lots", "volume"),), volume_unit="lots", prices="forward")
    report = import_file(store, bars, spec)
    yield store, report, time.perf_counter() - began
    store.close()


@pytest.fixture(scope="session")
def default_replay(scenario_store_path: Path):
    """The six default books replayed once over the default scenario.

    Returns ``(market, results)`` (:func:`backtest.apps.replay.run_replay`; each result carries its
    book's benchmark).
    """
    from backtest.apps.replay import run_replay
    from backtest.engine import MarketData
    from backtest.market.store import Store

    with Store(scenario_store_path, read_only=True) as store:
        market = MarketData.from_store(store)
    return market, run_replay(market)
