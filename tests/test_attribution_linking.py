"""Daily attribution frames and Cariño / Frongello linking over windows."""

from __future__ import annotations

import doctest
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backtest.analytics import linking
from backtest.analytics.brinson import brinson_fachler
from backtest.analytics.factors import Exposures, factor_attribution, factor_returns
from backtest.analytics.linking import (
    COST_COMPONENTS,
    FINANCING_COMPONENTS,
    HEDGE_COMPONENTS,
    AttributionIdentityError,
    attribution_frame,
    carino_coefficients,
    component_columns,
    link_attribution,
    link_components,
)

METHODS = ("carino", "frongello")


def test_docstring_examples_of_linking_run() -> None:
    result = doctest.testmod(linking, raise_on_error=False)
    assert result.attempted >= 5
    assert result.failed == 0


def test_carino_factor_takes_its_limit_when_returns_are_equal() -> None:
    assert carino_coefficients([0.05], [0.05])[0] == pytest.approx(1 / 1.05, rel=1e-15)
    nearly = carino_coefficients([0.05 + 1e-13], [0.05])[0]
    assert nearly == pytest.approx(1 / 1.05, rel=1e-12)
    direct = (math.log(1.07) - math.log(1.02)) / 0.05
    assert carino_coefficients([0.07], [0.02])[0] == pytest.approx(direct, rel=1e-14)


def test_carino_two_day_case_matches_hand_computation() -> None:
    portfolio = np.array([0.05, -0.10])
    benchmark = np.array([0.02, -0.04])
    daily = np.column_stack((portfolio - benchmark, np.zeros(2)))  # one component carries all
    k = (np.log1p(portfolio) - np.log1p(benchmark)) / (portfolio - benchmark)
    total_p, total_b = 1.05 * 0.90 - 1, 1.02 * 0.96 - 1
    big_k = (math.log1p(total_p) - math.log1p(total_b)) / (total_p - total_b)
    linked = link_components(daily, portfolio, benchmark)
    assert linked[0] == pytest.approx(((portfolio - benchmark) * k).sum() / big_k, rel=1e-13)
    assert linked[0] == pytest.approx(total_p - total_b, rel=1e-13)
    assert linked[1] == 0.0


def test_frongello_two_day_case_matches_hand_computation() -> None:
    portfolio = np.array([0.05, -0.10])
    benchmark = np.array([0.02, -0.04])
    first_day_only = np.array([[0.03], [0.0]])
    second_day_only = np.array([[0.0], [-0.06]])
    one = link_components(first_day_only, portfolio, benchmark, method="frongello")
    two = link_components(second_day_only, portfolio, benchmark, method="frongello")
    assert one[0] == pytest.approx(0.03 * (1 - 0.04))  # carried at the benchmark's growth
    assert two[0] == pytest.approx(-0.06 * (1 + 0.05))  # scaled by the portfolio's past growth


def test_one_day_window_links_to_the_daily_components() -> None:
    daily = np.array([[0.004, -0.001, 0.002]])
    for method in METHODS:
        linked = link_components(daily, [0.015], [0.01], method=method)
        np.testing.assert_allclose(linked, daily[0], rtol=1e-13)


@st.composite
def daily_attributions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days = draw(st.integers(1, 600))
    components = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.001, 0.02, 0.08]))
    benchmark = np.clip(rng.normal(0.0, scale, days), -0.5, 0.5)
    portfolio = np.clip(benchmark + rng.normal(0.0, scale / 2, days), -0.6, 0.6)
    equal_days = draw(hnp.arrays(np.bool_, days))
    portfolio = np.where(equal_days, benchmark, portfolio)  # exercise the r_p == r_b limit
    shares = rng.normal(size=(days, components))
    shares[:, -1] = 1.0 - shares[:, :-1].sum(axis=1)
    daily = shares * (portfolio - benchmark)[:, None]
    return daily, portfolio, benchmark


@settings(max_examples=80, deadline=None)
@given(daily_attributions(), st.sampled_from(METHODS))
def test_linked_components_sum_to_window_excess_on_long_windows(data, method) -> None:
    daily, portfolio, benchmark = data
    window_excess = np.prod(1 + portfolio) - np.prod(1 + benchmark)
    linked = link_components(daily, portfolio, benchmark, method=method)
    assert linked.sum() == pytest.approx(window_excess, abs=1e-10)
    path = link_components(daily, portfolio, benchmark, method=method, cumulative=True)
    running_excess = np.cumprod(1 + portfolio) - np.cumprod(1 + benchmark)
    np.testing.assert_allclose(path.sum(axis=1), running_excess, rtol=0, atol=1e-10)
    np.testing.assert_allclose(path[-1], linked, rtol=0, atol=1e-14)


def test_carino_refuses_a_total_loss_day() -> None:
    with pytest.raises(ValueError, match="frongello"):
        link_components([[0.0]], [-1.0], [0.0])
    total_loss = link_components([[-1.0]], [-1.0], [0.0], method="frongello")
    assert total_loss[0] == pytest.approx(-1.0)


def _three_day_frame() -> pl.DataFrame:
    portfolio = np.array([0.010, -0.060, 0.020])
    benchmark = np.array([0.008, -0.030, 0.015])
    excess = portfolio - benchmark
    impact = np.array([-0.0002, -0.0030, -0.0004])
    commission = np.full(3, -0.0001)
    stamp_duty = np.array([0.0, -0.0005, -0.0001])
    basis_carry = np.array([0.0001, -0.0040, 0.0])
    selection = excess - impact - commission - stamp_duty - basis_carry
    return attribution_frame(
        np.array(["2024-02-02", "2024-02-05", "2024-02-06"], dtype="datetime64[D]"),
        portfolio,
        benchmark,
        {
            "selection": selection,
            "impact": impact,
            "commission": commission,
            "stamp_duty": stamp_duty,
            "basis_carry": basis_carry,
        },
    )


def test_frame_holds_cost_and_hedge_lines_as_components() -> None:
    frame = _three_day_frame()
    assert frame.columns[:4] == ["date", "portfolio_return", "benchmark_return", "excess_return"]
    assert set(COST_COMPONENTS) <= set(component_columns(frame))
    assert "basis_carry" in HEDGE_COMPONENTS and FINANCING_COMPONENTS == ("financing",)
    assert frame["date"].dtype == pl.Date


def test_frame_whose_components_miss_a_line_is_refused_naming_the_day() -> None:
    with pytest.raises(AttributionIdentityError, match=r"2024-02-05 \(row 1\)"):
        attribution_frame(
            np.array(["2024-02-02", "2024-02-05"], dtype="datetime64[D]"),
            [0.01, -0.05],
            [0.01, -0.02],
            {"selection": [0.0, -0.02]},  # day 2 lacks -1 % of costs
        )


def test_component_named_like_a_frame_column_is_refused() -> None:
    with pytest.raises(ValueError, match="clashes"):
        attribution_frame(["2024-02-05"], [0.01], [0.0], {"excess_return": [0.01]})


@pytest.mark.parametrize("method", METHODS)
def test_linked_frame_adds_up_over_any_window(method) -> None:
    frame = _three_day_frame()
    names = component_columns(frame)
    for start, end in [(None, None), ("2024-02-05", None), (None, "2024-02-05")]:
        row = link_attribution(frame, start=start, end=end, method=method)
        assert row.height == 1
        assert row.select(names).to_numpy().sum() == pytest.approx(
            row["excess_return"][0], abs=1e-12
        )
    window = link_attribution(frame, start="2024-02-05", method=method)
    assert window["portfolio_return"][0] == pytest.approx(0.94 * 1.02 - 1)
    assert str(window["start"][0]) == "2024-02-05"


def test_cumulative_linked_frame_has_one_row_per_day() -> None:
    frame = _three_day_frame()
    path = link_attribution(frame, cumulative=True)
    assert path.height == 3
    names = component_columns(frame)
    np.testing.assert_allclose(
        path.select(names).to_numpy().sum(axis=1), path["excess_return"].to_numpy(), atol=1e-12
    )
    last = link_attribution(frame)
    np.testing.assert_allclose(
        path.select(names).to_numpy()[-1], last.select(names).to_numpy()[0], atol=1e-15
    )


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="no attribution rows"):
        link_attribution(_three_day_frame(), start="2025-01-01")


@pytest.mark.parametrize("method", METHODS)
def test_brinson_factor_and_cost_lines_link_exactly_over_the_window(method) -> None:
    rng = np.random.default_rng(2024)
    days, stocks = 30, 80
    returns = rng.normal(-0.004, 0.03, (days, stocks))
    weights_b = rng.random((days, stocks))
    weights_b /= weights_b.sum(axis=1, keepdims=True)
    weights_p = rng.random((days, stocks)) * (rng.random((days, stocks)) < 0.4)
    weights_p *= 0.95 / weights_p.sum(axis=1, keepdims=True)
    codes = rng.integers(0, 6, (days, stocks))
    costs = {
        "impact": -rng.uniform(0, 4e-4, days),
        "commission": -rng.uniform(0, 1e-4, days),
        "stamp_duty": -rng.uniform(0, 2e-4, days),
    }
    dates = np.datetime64("2024-01-02") + np.arange(days)
    by_bucket = brinson_fachler(weights_p, weights_b, returns, codes)
    net = by_bucket.portfolio_return + sum(costs.values())
    frame = attribution_frame(
        dates,
        net,
        by_bucket.benchmark_return,
        by_bucket.components(by="effect_and_bucket") | costs,
    )
    row = link_attribution(frame, start=dates[5], end=dates[25], method=method)
    names = component_columns(frame)
    assert row.select(names).to_numpy().sum() == pytest.approx(row["excess_return"][0], abs=1e-12)
    exposures = Exposures(names=("size",), values=rng.normal(size=(1, days, stocks)))
    estimated = factor_returns(returns, exposures, weighting="equal")
    by_factor = factor_attribution(weights_p, weights_b, returns, exposures, estimated)
    factor_frame = attribution_frame(
        dates, net, by_factor.benchmark_return, by_factor.components() | costs
    )
    linked = link_attribution(factor_frame, method=method)
    assert linked["excess_return"][0] == pytest.approx(row_total(linked), abs=1e-12)
    assert linked["excess_return"][0] == pytest.approx(
        np.prod(1 + net) - np.prod(1 + by_bucket.benchmark_return), abs=1e-14
    )


def row_total(frame: pl.DataFrame) -> float:
    return float(frame.select(component_columns(frame)).to_numpy().sum())
