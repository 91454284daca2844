"""Same seed, same market to the bit; another seed, another market, still calibrated."""

import json

import numpy as np
import polars as pl
import pytest
from scenario_checks import close_errors

from backtest.market.scenario import SOURCE, ScenarioConfig, build_scenario, generate
from backtest.market.scenario.build import TABLE_ORDER
from backtest.market.store import Store

SMALL = ScenarioConfig(n_stocks=300, seed=11, end="2024-03-01")


def test_same_config_gives_identical_store_contents(tmp_path) -> None:
    contents = []
    for name in ("a.duckdb", "b.duckdb"):
        with Store(tmp_path / name) as store:
            written = build_scenario(store, SMALL)
            assert set(written) == set(TABLE_ORDER)
            assert all(rows > 0 for rows in written.values())
            contents.append({t: store.read(t) for t in TABLE_ORDER})
    for table in TABLE_ORDER:
        assert contents[0][table].equals(contents[1][table]), table


def test_build_records_the_config_as_provenance(tmp_path) -> None:
    with Store(tmp_path / "p.duckdb") as store:
        build_scenario(store, SMALL)
        provenance = store.read("provenance").filter(pl.col("source") == SOURCE)
        assert set(provenance["table_name"]) == set(TABLE_ORDER)
        assert json.loads(provenance["params"][0]) == SMALL.to_params()


def test_a_different_seed_changes_stock_paths_but_stays_calibrated() -> None:
    first = generate(SMALL)
    other = generate(ScenarioConfig(n_stocks=300, seed=12, end="2024-03-01"))
    assert not first["bars"].equals(other["bars"])
    assert not first["instruments"]["symbol"].equals(other["instruments"]["symbol"])
    for frames in (first, other):
        assert close_errors(frames)["error"].max() < 0.005
    a = first["index_bars"].filter(pl.col("date") == pl.date(2023, 3, 15))["close"].to_numpy()
    b = other["index_bars"].filter(pl.col("date") == pl.date(2023, 3, 15))["close"].to_numpy()
    assert np.allclose(a, b, rtol=1e-3)  # every session's target is the real close


def test_config_rejects_out_of_range_settings() -> None:
    with pytest.raises(ValueError, match="n_stocks"):
        ScenarioConfig(n_stocks=10)
    with pytest.raises(ValueError, match="end"):
        ScenarioConfig(end="2025-06-30")
    with pytest.raises(ValueError, match="locked_volume_fraction"):
        ScenarioConfig(locked_volume_fraction=(0.5, 0.1))
    with pytest.raises(ValueError, match="st_share"):
        ScenarioConfig(st_share=0.5)


def test_default_store_panels_load_for_the_engine(scenario_store_path) -> None:
    with Store(scenario_store_path, read_only=True) as store:
        panel = store.panel(["close", "volume", "suspended"])
        assert panel.values["close"].shape == (484, 5000)
        assert panel.values["suspended"].dtype == np.bool_
        weights = store.index_weight_panel("000852", start="2024-02-05", end="2024-02-05")
        assert weights.values["weight"].sum() == pytest.approx(1.0)
        assert store.calendar().shape == (484,)
