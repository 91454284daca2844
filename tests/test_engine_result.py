"""Results: frames, summary, and an exact save/load round trip through DuckDB."""

from __future__ import annotations

import polars as pl
import pytest
from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets, synthetic_market

from backtest.engine import Engine, EngineConfig, Result
from backtest.market.store import Store


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    market = synthetic_market(42, days=20, n=12)
    return Engine(EngineConfig(initial_cash=5e6)).run(
        market,
        {"momentum": Momentum(MomentumParams(top=4)), "random": RandomTargets(RandomParams())},
    )


def test_result_round_trips_exactly_through_a_duckdb_file(tmp_path, results):
    path = tmp_path / "results.duckdb"
    for name, result in results.items():
        result.save(path, run_id=f"run-{name}")
    loaded = Result.load(path, "run-random")
    assert loaded.equals(results["random"])
    assert Result.load(path, "run-momentum").equals(results["momentum"])


def test_saving_again_under_the_same_run_id_replaces_the_rows(tmp_path, results):
    with Store(tmp_path / "market.duckdb") as store:
        results["random"].save(store, "r1")
        results["momentum"].save(store, "r1")
        loaded = Result.load(store, "r1")
        count = store.sql("SELECT count(*) AS n FROM result_runs WHERE run_id = 'r1'")["n"][0]
    assert loaded.equals(results["momentum"])
    assert count == 1


def test_loading_an_unknown_run_id_names_the_saved_ones(tmp_path, results):
    path = tmp_path / "results.duckdb"
    results["random"].save(path, run_id="known")
    with pytest.raises(KeyError, match="known"):
        Result.load(path, "unknown")


def test_frames_have_the_documented_columns_and_sorted_rows(results):
    result = results["momentum"]
    assert result.daily.columns[:5] == [
        "date",
        "equity",
        "cash",
        "holdings_value",
        "gross_exposure",
    ]
    assert {"impact", "commission", "stamp_duty", "transfer_fee", "turnover", "n_positions"} <= set(
        result.daily.columns
    )
    assert result.positions.columns == ["date", "symbol", "shares", "value", "weight"]
    assert (result.positions["shares"] != 0).all()
    assert result.fills.equals(result.fills.sort("date", "symbol"))
    assert result.status_counts.width == 11
    assert result.status_counts.drop("date").sum_horizontal().sum() == result.fills.height
    assert result.daily["date"].dtype == pl.Date


def test_summary_mentions_book_equity_costs_and_hash(results):
    text = results["momentum"].summary()
    assert "book momentum (Momentum)" in text
    assert "max drawdown" in text and "stamp_duty" in text
    assert results["momentum"].config_hash[:12] in text


def test_long_frames_are_built_once_on_first_access_and_match_a_fresh_run():
    market = synthetic_market(7, days=15, n=10)
    first = Engine(EngineConfig(initial_cash=5e6)).run(market, {"m": Momentum(MomentumParams())})
    again = Engine(EngineConfig(initial_cash=5e6)).run(market, {"m": Momentum(MomentumParams())})
    result = first["m"]
    assert result.positions is result.positions  # memoised, not rebuilt
    assert result.equals(again["m"])  # builds every frame of both and compares them


def test_result_is_immutable_and_replace_returns_a_changed_copy(results):
    result = results["random"]
    with pytest.raises(AttributeError, match="immutable"):
        result.book = "other"  # type: ignore[misc]
    renamed = result.replace(book="other")
    assert renamed.book == "other" and result.book == "random"
    assert renamed.fills.equals(result.fills)
    with pytest.raises(TypeError, match="no attributes"):
        result.replace(bogus=1)
