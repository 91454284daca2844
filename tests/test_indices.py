import doctest

import numpy as np
import polars as pl
import pytest

from backtest.core.ids import MICROCAP
from backtest.market import indices
from backtest.market.calendar import sessions
from backtest.market.indices import (
    IndexSizes,
    build_index_weights,
    index_levels_from_weights,
    microcap_members,
    review_dates,
    review_tiers,
)
from backtest.market.schema import INDEX_WEIGHTS


def test_doctests_pass() -> None:
    assert doctest.testmod(indices).failed == 0


def test_reviews_take_effect_after_the_second_friday_of_june_and_december() -> None:
    days = sessions("2022-12-30", "2024-12-31")
    effective = [str(d) for d in days[review_dates(days)]]
    assert effective == ["2022-12-30", "2023-06-12", "2023-12-11", "2024-06-17", "2024-12-16"]


def test_sizes_scale_with_the_universe_and_keep_a_minimum() -> None:
    assert IndexSizes.scaled(5000) == IndexSizes()
    small = IndexSizes.scaled(100, minimum=4)
    assert (small.csi300, small.csi2000, small.microcap, small.sse50) == (6, 40, 8, 4)
    with pytest.raises(ValueError, match="csi300"):
        IndexSizes(csi300=0)


def test_buffer_keeps_an_incumbent_that_slipped_a_little() -> None:
    sizes = IndexSizes(csi300=3, csi500=3, csi1000=3, csi2000=3, microcap=2, sse50=1, buffer=1.5)
    caps = np.array([100.0, 90.0, 80.0, 79.0, 50.0, 40.0, 30.0, 20.0, 10.0, 9.0, 8.0, 7.0])
    eligible = np.ones(12, dtype=bool)
    previous = np.array([1, 1, 2, 1, 2, 2, 3, 3, 3, 4, 4, 4], dtype=np.int8)
    tiers = review_tiers(caps, eligible, previous, sizes)
    # stock 3 (rank 4, an incumbent) stays in the top tier over stock 2 (rank 3, a newcomer)
    assert tiers.tolist()[:4] == [1, 1, 2, 1]
    fresh = review_tiers(caps, eligible, np.zeros(12, dtype=np.int8), sizes)
    assert fresh.tolist()[:4] == [1, 1, 1, 2]


def test_ineligible_stocks_get_no_tier() -> None:
    sizes = IndexSizes(csi300=1, csi500=1, csi1000=1, csi2000=1, microcap=1, sse50=1)
    eligible = np.array([False, True, True, True, True])
    tiers = review_tiers(np.array([5.0, 4, 3, 2, 1]), eligible, np.zeros(5, np.int8), sizes)
    assert tiers.tolist() == [0, 1, 2, 3, 4]


def test_microcap_takes_the_smallest_eligible() -> None:
    caps = np.array([3.0, 1.0, 2.0, 0.5, 4.0])
    eligible = np.array([True, True, True, False, True])
    assert np.flatnonzero(microcap_members(caps, eligible, 2)).tolist() == [1, 2]


def test_levels_chain_previous_close_weights_and_member_returns() -> None:
    weights = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]])
    returns = np.array([[np.nan, np.nan], [0.04, -0.02], [0.10, np.nan]])
    levels = index_levels_from_weights(weights, returns, 1000.0)
    expected_1 = 1000.0 * (1 + 0.25 * 0.04 - 0.75 * 0.02)
    assert levels == pytest.approx([1000.0, expected_1, expected_1 * 1.10])


def test_build_index_weights_matches_the_scenario_membership() -> None:
    from backtest.market.scenario.config import ScenarioConfig
    from backtest.market.scenario.industries import load_industry_targets
    from backtest.market.scenario.simulate import INDEX_SLOTS, simulate
    from backtest.market.scenario.targets import index_target_paths, load_targets
    from backtest.market.scenario.universe import make_universe

    config = ScenarioConfig(n_stocks=400, seed=7, end="2023-12-29")
    days = sessions("2022-12-30", config.end)
    generator = np.random.Generator(np.random.PCG64(7))
    targets = index_target_paths(load_targets(), days)
    universe = make_universe(config, days, generator, load_industry_targets())
    paths = simulate(config, universe, days, targets, generator)
    frame = build_index_weights(
        days,
        universe.symbols,
        paths.total_cap,
        paths.float_cap,
        np.broadcast_to(universe.is_st, paths.close.shape),
        paths.trading,
        paths.suspended,
        seasoned=universe.list_row == 0,
    )
    assert frame.columns == INDEX_WEIGHTS.names
    sums = frame.group_by("date", "index_code").agg(pl.col("weight").sum())
    assert sums["weight"].to_numpy() == pytest.approx(1.0)
    for code in INDEX_SLOTS:
        rows, members, weight = paths.weights[code]
        expected = pl.DataFrame(
            {
                "date": pl.Series(days[rows]).cast(pl.Date),
                "symbol": universe.symbols[members],
                "weight": weight,
            }
        ).sort("date", "symbol")
        got = frame.filter(pl.col("index_code") == code).drop("index_code")
        assert got.select("date", "symbol").equals(expected.select("date", "symbol")), code
        assert got["weight"].to_numpy() == pytest.approx(expected["weight"].to_numpy(), rel=1e-12)
    micro_count = frame.filter(pl.col("index_code") == MICROCAP).group_by("date").len()
    assert micro_count["len"].max() == IndexSizes.scaled(400).microcap
