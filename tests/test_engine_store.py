"""The engine on a market loaded from a Store: a small calibrated scenario, end to end."""

from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import Momentum, MomentumParams

from backtest.core.ids import CSI1000, MICROCAP
from backtest.engine import Engine, EngineConfig, MarketData, Result
from backtest.market.store import Store


@pytest.fixture(scope="module")
def small_scenario_store():
    from backtest.market.scenario import SOURCE, ScenarioConfig, generate
    from backtest.market.scenario.build import TABLE_ORDER

    config = ScenarioConfig(n_stocks=300)
    frames = generate(config)
    store = Store(":memory:")
    with store.transaction():
        for table in TABLE_ORDER:
            store.write(table, frames[table], source=SOURCE, params=config.to_params())
    yield store
    store.close()


def test_scenario_store_loads_and_runs_with_exact_accounting(small_scenario_store):
    store = small_scenario_store
    market = MarketData.from_store(store, start="2023-12-01", end="2024-03-29")
    assert market.shape[1] == store.symbols().size
    assert {CSI1000, MICROCAP} <= set(market.index_weights)
    assert np.all(market.index_weights[MICROCAP].sum(axis=1) == pytest.approx(1.0))
    result = Engine(EngineConfig(initial_cash=1e7)).run(
        market, {"momentum": Momentum(MomentumParams(top=30, lookback=10))}
    )["momentum"]
    daily = result.daily
    assert daily.height == market.shape[0]
    np.testing.assert_allclose(
        daily["cash"] + daily["holdings_value"], daily["equity"], rtol=0, atol=1e-6
    )
    assert result.fills.height > 0 and (result.fills["filled_shares"] != 0).any()
    result.save(store, "scenario-momentum")
    assert Result.load(store, "scenario-momentum").equals(result)
