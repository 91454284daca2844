"""Property tests: the generator's invariants on small random universes and seeds."""

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_checks import bar_violations, close_errors

from backtest.core.ids import MICROCAP
from backtest.market.indices import IndexSizes
from backtest.market.scenario import ScenarioConfig, generate
from backtest.market.scenario.returns import (
    ABOVE_REACH,
    BELOW_REACH,
    SOLVED,
    solve_shift_nb,
    solve_shift_py,
)


@st.composite
def bucket(draw):
    size = draw(st.integers(1, 30))
    floats = st.floats(-0.3, 0.3, allow_nan=False)
    raw = np.array(draw(st.lists(floats, min_size=size, max_size=size)))
    weight = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=size, max_size=size)))
    pct = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3]), min_size=size, max_size=size))
    )
    target = draw(st.floats(-0.4, 0.4))
    return raw, weight, -pct, pct, target


@settings(max_examples=200, deadline=None)
@given(bucket())
def test_shift_kernel_agrees_with_its_python_twin(case) -> None:
    raw, weight, lower, upper, target = case
    fast = solve_shift_nb(raw, weight, lower, upper, target)
    slow = solve_shift_py(raw, weight, lower, upper, target)
    assert fast[1] == slow[1]
    assert abs(fast[0] - slow[0]) < 1e-12
    if fast[1] == SOLVED:
        achieved = float(weight @ np.clip(raw + fast[0], lower, upper))
        assert abs(achieved - target) < 1e-9
    elif fast[1] == BELOW_REACH:
        assert float(weight @ lower) >= target - 1e-12
    elif fast[1] == ABOVE_REACH:
        assert float(weight @ upper) <= target + 1e-12


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    n_stocks=st.integers(200, 800),
    seed=st.integers(0, 2**32 - 1),
    end=st.sampled_from(["2023-06-30", "2024-03-01", "2024-12-31"]),
)
def test_generated_market_is_calibrated_and_lawful(n_stocks, seed, end) -> None:
    config = ScenarioConfig(n_stocks=n_stocks, seed=seed, end=end)
    frames = generate(config)
    assert frames["instruments"].height == n_stocks
    assert frames["calendar"]["date"].max() == pl.Series([end]).str.to_date()[0]
    assert close_errors(frames)["error"].max() < 0.005
    violations = bar_violations(frames["bars"])
    assert violations == dict.fromkeys(violations, 0)
    sums = frames["index_weights"].group_by("date", "index_code").agg(pl.col("weight").sum())
    assert np.allclose(sums["weight"].to_numpy(), 1.0)
    micro = frames["index_weights"].filter(pl.col("index_code") == MICROCAP).group_by("date").len()
    assert micro["len"].max() == IndexSizes.scaled(n_stocks).microcap
    assert not frames["bars"].select(pl.struct("date", "symbol").is_duplicated().any()).item()


def test_scenario_doctests_pass() -> None:
    import doctest

    from backtest.market import scenario
    from backtest.market.scenario import futures, returns

    for module in (scenario, futures, returns):
        assert doctest.testmod(module).failed == 0, module.__name__
