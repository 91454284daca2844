"""RunSpec: a run as a hashable value; run(spec) is pure; the run hash covers the market."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import RandomParams, RandomTargets, synthetic_market

from backtest.core.ids import MICROCAP
from backtest.engine import Benchmark, EngineConfig, MarketData, run_backtest
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import build_scenario_file
from backtest.rules.roll import RollRule
from backtest.runs.spec import BookSpec, RunSpec, ScenarioRef, StoreRef, run, run_on
from strategies.hedged import DMA, DMAParams
from strategies.long_only import Microcap, MicrocapParams

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"n_stocks": 150, "end": "2023-02-28"}


def _microcap_spec(seed: int) -> RunSpec:
    return RunSpec(
        market=ScenarioRef(seed=seed, **SMALL),
        books=(BookSpec(name="microcap", strategy=Microcap, params=MicrocapParams(names=20)),),
        config=EngineConfig(initial_cash=1e7),
    )


def _rich_spec() -> RunSpec:
    """A spec with nested parameters: dataclasses in dataclasses, dated tuples, a series."""
    dma = DMAParams(
        futures_product="IM", leverage=3.0, roll_rule=RollRule(sessions_before_expiry=3)
    )
    series = Benchmark.from_returns("hurdle", ["2023-01-03", "2023-01-04"], [0.001, -0.002])
    return RunSpec(
        market=StoreRef(path="data/market.duckdb", content_hash="abc123", start="2023-01-03"),
        books=(
            BookSpec(name="dma", strategy=DMA, params=dma, initial_cash=5e7),
            BookSpec(name="micro", strategy=Microcap, params=MicrocapParams(), benchmark=series),
        ),
        config=EngineConfig(execution_price="vwap", participation_cap=0.05),
    )


def test_the_same_spec_built_twice_has_the_same_hash_in_any_process():
    assert _rich_spec().hash() == _rich_spec().hash()
    code = "from test_run_spec import _rich_spec; print(_rich_spec().hash())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "tests",
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "PYTHONHASHSEED": "123"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == _rich_spec().hash()


def test_a_spec_round_trips_through_json():
    spec = _rich_spec()
    again = RunSpec.from_json(spec.to_json())
    assert again == spec and again.hash() == spec.hash()
    assert again.books[0].params.roll_rule.sessions_before_expiry == 3


def test_any_difference_changes_the_spec_hash():
    spec = _microcap_spec(1)
    assert spec.hash() != _microcap_spec(2).hash()  # another seed
    other_cash = RunSpec(market=spec.market, books=spec.books, config=EngineConfig())
    assert spec.hash() != other_cash.hash()
    measured = BookSpec(
        name="microcap",
        strategy=Microcap,
        params=MicrocapParams(names=20),
        benchmark=Benchmark.index(MICROCAP),
    )
    assert spec.hash() != RunSpec(market=spec.market, books=(measured,), config=spec.config).hash()


def test_duplicate_book_names_are_refused():
    book = BookSpec(name="a", strategy=Microcap, params=MicrocapParams())
    with pytest.raises(ValueError, match="unique"):
        RunSpec(market=ScenarioRef(), books=(book, book))


@pytest.fixture(scope="module")
def seed_runs():
    return {seed: run(_microcap_spec(seed)) for seed in (1, 2)}


def test_run_twice_gives_identical_results(seed_runs):
    again = run(_microcap_spec(1))
    assert again["microcap"].equals(seed_runs[1]["microcap"])
    assert again["microcap"].benchmark == Benchmark.index(MICROCAP)  # the strategy's own


def test_two_seeds_give_two_run_hashes_for_the_microcap_book(seed_runs):
    first, second = (seed_runs[seed]["microcap"] for seed in (1, 2))
    assert first.data_range == second.data_range and first.params == second.params
    assert first.config_hash != second.config_hash


def test_run_on_refuses_a_market_the_spec_does_not_reference(seed_runs):
    market = ScenarioRef(seed=2, **SMALL).load()
    with pytest.raises(ValueError, match="not the one the spec references"):
        run_on(_microcap_spec(1), market)


def test_a_store_reference_loads_its_market_and_refuses_a_changed_store(tmp_path):
    path = tmp_path / "market.duckdb"
    build_scenario_file(path, ScenarioConfig(seed=3, **SMALL))
    spec = RunSpec(
        market=StoreRef.of(path, start="2023-02-01"),
        books=(BookSpec(name="microcap", strategy=Microcap, params=MicrocapParams(names=20)),),
    )
    market = spec.market.load()
    assert str(market.dates[0]) >= "2023-02-01"
    assert market.identity() == spec.market.identity()
    result = run(spec)["microcap"]
    assert result.equals(run_on(spec, market)["microcap"])
    build_scenario_file(path, ScenarioConfig(seed=4, **SMALL), force=True)
    with pytest.raises(ValueError, match="changed since"):
        run(spec)


def test_the_run_hash_covers_the_arrays_of_a_market_built_from_arrays():
    market = synthetic_market(5, days=12, n=6)
    strategy_params = RandomParams(seed=1)
    same = synthetic_market(5, days=12, n=6)
    close = np.array(market["close"])
    close[-1, 0] *= 1.01
    moved = MarketData.from_arrays(
        dates=market.dates,
        symbols=market.symbols,
        close=close,
        volume=np.array(market["volume"]),
        index_weights=market.index_weights,
        index_closes=market.index_closes,
    )

    def run_hash(m: MarketData) -> str:
        return run_backtest(m, RandomTargets(strategy_params)).config_hash

    assert market.identity() == same.identity() and run_hash(market) == run_hash(same)
    assert moved.identity() != market.identity() and run_hash(moved) != run_hash(market)
