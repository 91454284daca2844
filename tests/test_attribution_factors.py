"""Style exposures, cross-sectional factor returns and factor attribution."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.analytics import factors
from backtest.analytics.factors import (
    FACTOR_NAMES,
    REGRESSION_OK,
    REGRESSION_RANK_DEFICIENT,
    REGRESSION_TOO_FEW_STOCKS,
    ExposureConfig,
    Exposures,
    factor_attribution,
    factor_returns,
    market_returns,
    raw_style_exposures,
    standardise,
    style_exposures,
)

SMALL_WINDOWS = ExposureConfig(
    beta_window=10,
    beta_min_sessions=5,
    liquidity_window=5,
    liquidity_min_sessions=3,
    reversal_window=5,
    reversal_min_sessions=3,
)


def _market(days: int, stocks: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    caps = np.exp(rng.normal(22.0, 1.0, (1, stocks))) * np.exp(
        np.cumsum(rng.normal(0.0, 0.02, (days, stocks)), axis=0)
    )
    returns = rng.normal(0.0, 0.02, (days, stocks))
    returns[rng.random((days, stocks)) < 0.03] = np.nan
    amounts = caps * np.exp(rng.normal(-4.0, 0.5, (days, stocks)))
    return returns, caps, amounts


def test_docstring_examples_of_factors_run() -> None:
    result = doctest.testmod(factors, raise_on_error=False)
    assert result.attempted >= 8
    assert result.failed == 0


def test_one_factor_market_recovers_factor_return_and_leaves_no_specific() -> None:
    # r_i = 0.5 % + 2 % x_i exactly: the regression must return (0.005, 0.02)
    exposure = np.array([[[-1.5, -0.5, 0.0, 0.5, 1.5, 1.0]]])
    returns = 0.005 + 0.02 * exposure[0]
    x = Exposures(names=("size",), values=exposure)
    estimated = factor_returns(returns, x, weighting="equal", min_stocks=3)
    np.testing.assert_allclose(estimated.values[0], [0.005, 0.02], atol=1e-15)
    assert estimated.r_squared[0] == pytest.approx(1.0)
    assert estimated.status.tolist() == [REGRESSION_OK]
    # the book overweights high-exposure stocks by 0.4 units of exposure
    weights_p = np.array([[0.0, 0.1, 0.2, 0.2, 0.3, 0.2]])
    weights_b = np.full((1, 6), 1 / 6)
    result = factor_attribution(weights_p, weights_b, returns, x, estimated)
    active = float(((weights_p - weights_b) * exposure[0]).sum())
    assert result.active_exposure[0, 0] == pytest.approx(active)
    assert result.contribution[0, 0] == pytest.approx(active * 0.02)
    assert result.market[0] == pytest.approx(0.0, abs=1e-15)
    assert result.specific[0] == pytest.approx(0.0, abs=1e-15)
    assert result.excess_return[0] == pytest.approx(active * 0.02)


def test_cash_in_the_book_is_a_market_timing_contribution() -> None:
    exposure = np.array([[[-1.0, 0.0, 1.0]]])
    returns = -0.03 + 0.01 * exposure[0]  # a falling market
    x = Exposures(names=("size",), values=exposure)
    estimated = factor_returns(returns, x, weighting="equal", min_stocks=3)
    result = factor_attribution(
        [[0.3, 0.3, 0.3]], [[1 / 3, 1 / 3, 1 / 3]], returns, x, estimated, cash_return=0.0001
    )
    assert result.market[0] == pytest.approx((0.9 - 1.0) * (-0.03 - 0.0001))
    assert result.specific[0] == pytest.approx(0.0, abs=1e-15)


def test_cap_weighted_regression_matches_weighted_least_squares() -> None:
    rng = np.random.default_rng(3)
    stocks = 40
    exposure = rng.normal(size=(2, 2, stocks))
    returns = rng.normal(0, 0.02, (2, stocks))
    caps = rng.uniform(1e9, 1e11, (2, stocks))
    x = Exposures(names=("size", "beta"), values=exposure)
    estimated = factor_returns(returns, x, caps, weighting="cap")
    design = np.column_stack((np.ones(stocks), exposure[:, 1].T))
    root = np.sqrt(caps[0])  # day 1 uses the caps of day 0
    expected, *_ = np.linalg.lstsq(design * root[:, None], returns[1] * root, rcond=None)
    np.testing.assert_allclose(estimated.values[1], expected, rtol=1e-9, atol=1e-14)
    assert np.isnan(estimated.values[0]).all()  # no previous caps on the first day
    assert estimated.status[0] == REGRESSION_TOO_FEW_STOCKS


def test_factor_nobody_has_yet_gets_zero_return_and_flags_the_day() -> None:
    rng = np.random.default_rng(5)
    exposure = np.stack((rng.normal(size=(1, 30)), np.full((1, 30), np.nan)))
    returns = rng.normal(0, 0.02, (1, 30))
    estimated = factor_returns(
        returns, Exposures(names=("size", "beta"), values=exposure), weighting="equal"
    )
    assert estimated.status.tolist() == [REGRESSION_RANK_DEFICIENT]
    assert estimated.values[0, 2] == 0.0
    one_factor = factor_returns(
        returns, Exposures(names=("size",), values=exposure[:1]), weighting="equal"
    )
    np.testing.assert_allclose(estimated.values[0, :2], one_factor.values[0], atol=1e-12)


def test_market_return_weights_by_previous_close_cap() -> None:
    returns = [[0.5, 0.5], [0.10, -0.10], [0.02, 0.04]]
    caps = [[3.0, 1.0], [1.0, 1.0], [9.0, 9.0]]
    result = market_returns(returns, caps)
    assert np.isnan(result[0])
    assert result[1:].tolist() == pytest.approx([0.05, 0.03])


def test_raw_exposures_match_hand_computation() -> None:
    days, stocks = 12, 3
    market = np.linspace(-0.02, 0.03, days)
    returns = np.column_stack((market, 2.0 * market, 0.5 * market + 0.001))
    caps = np.full((days, stocks), 1e9)
    amounts = np.column_stack(
        (np.full(days, 1e7), np.full(days, 2e7), np.linspace(1e6, 1.2e7, days))
    )
    raw = raw_style_exposures(returns, caps, amounts, config=SMALL_WINDOWS)
    day = 11
    assert raw.factor("size")[day].tolist() == pytest.approx([np.log(1e9)] * 3)
    # equal caps: the market is the mean return, and each stock is an exact multiple of it
    mean_return = returns.mean(axis=1)
    window = slice(day - 10, day)
    slopes = [
        np.polyfit(mean_return[1:][window.start - 1 : window.stop - 1], returns[window, i], 1)[0]
        for i in range(stocks)
    ]
    assert raw.factor("beta")[day] == pytest.approx(slopes, rel=1e-9)
    assert raw.factor("liquidity")[day, :2] == pytest.approx([np.log(0.01), np.log(0.02)])
    assert raw.factor("liquidity")[day, 2] == pytest.approx(np.log(amounts[6:11, 2].mean() / 1e9))
    assert raw.factor("reversal")[day] == pytest.approx(np.prod(1 + returns[6:11], axis=0) - 1)
    assert np.isnan(raw.factor("beta")[4]).all()  # fewer than 5 sessions of market returns


def test_beta_of_a_stock_twice_the_market_is_two() -> None:
    rng = np.random.default_rng(11)
    days = 30
    market = rng.normal(0, 0.01, days)
    returns = np.column_stack((market, market, 2.0 * market))
    caps = np.array([[1e12, 1e12, 1.0]] * days)  # the market is the two big stocks
    raw = raw_style_exposures(returns, caps, caps * 0.01, config=SMALL_WINDOWS)
    assert raw.factor("beta")[-1, 2] == pytest.approx(2.0, rel=1e-6)
    assert raw.factor("beta")[-1, 0] == pytest.approx(1.0, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(8, 24), st.integers(0, 10_000))
def test_exposures_use_only_data_before_the_day(cut, seed) -> None:
    returns, caps, amounts = _market(26, 30, seed)
    before = style_exposures(returns, caps, amounts, config=SMALL_WINDOWS)
    rng = np.random.default_rng(seed + 1)
    changed = [array.copy() for array in (returns, caps, amounts)]
    for array in changed:
        array[cut:] *= rng.uniform(0.5, 2.0, array[cut:].shape)
    after = style_exposures(*changed, config=SMALL_WINDOWS)
    np.testing.assert_array_equal(before.values[:, : cut + 1], after.values[:, : cut + 1])
    assert not np.array_equal(before.values[:, cut + 1 :], after.values[:, cut + 1 :])


def test_standardised_exposures_have_cap_weighted_mean_zero_and_unit_spread() -> None:
    returns, caps, amounts = _market(40, 200, 1)
    raw = raw_style_exposures(returns, caps, amounts, config=SMALL_WINDOWS)
    z = standardise(raw, caps, winsorise_at=np.inf)
    previous_caps = caps[38]
    for k, name in enumerate(FACTOR_NAMES):
        today = z.values[k, 39]
        valid = np.isfinite(today)
        assert valid.sum() > 150, name
        weighted_mean = (today[valid] * previous_caps[valid]).sum() / previous_caps[valid].sum()
        assert weighted_mean == pytest.approx(0.0, abs=1e-12)
        assert today[valid].std() == pytest.approx(1.0, rel=1e-12)
    clipped = standardise(raw, caps, winsorise_at=1.0)
    assert np.nanmax(np.abs(clipped.values)) <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from(["cap", "sqrt_cap", "equal"]),
    st.floats(0.5, 1.5),
    st.floats(-0.001, 0.001),
)
def test_contributions_add_up_to_the_excess_return_on_random_books(
    seed, weighting, invested, cash_return
) -> None:
    days, stocks = 20, 60
    returns, caps, amounts = _market(days, stocks, seed)
    x = style_exposures(returns, caps, amounts, config=SMALL_WINDOWS)
    estimated = factor_returns(returns, x, caps, weighting=weighting, min_stocks=10)
    rng = np.random.default_rng(seed)
    tradable = np.isfinite(returns)
    weights_p = rng.uniform(-0.2, 1.0, (days, stocks)) * (rng.random((days, stocks)) < 0.3)
    weights_p *= tradable
    totals = weights_p.sum(axis=1, keepdims=True)
    weights_p = np.divide(weights_p, totals, out=np.zeros_like(weights_p), where=totals != 0)
    weights_p *= invested
    weights_b = rng.random((days, stocks)) * tradable
    weights_b /= weights_b.sum(axis=1, keepdims=True)
    result = factor_attribution(
        weights_p, weights_b, returns, x, estimated, cash_return=cash_return
    )
    total = sum(result.components().values())
    np.testing.assert_allclose(total, result.excess_return, rtol=0, atol=1e-10)
    names = list(result.components())
    assert names == ["market", *FACTOR_NAMES, "specific"]


def test_held_stock_without_a_return_is_refused() -> None:
    x = Exposures(names=("size",), values=np.zeros((1, 1, 2)))
    estimated = factor_returns([[0.0, 0.0]], x, weighting="equal", min_stocks=3)
    with pytest.raises(ValueError, match="NaN on day 0, stock column 1"):
        factor_attribution([[0.5, 0.5]], [[0.5, 0.5]], [[0.01, np.nan]], x, estimated)


def test_factor_returns_from_other_exposures_are_refused() -> None:
    x = Exposures(names=("size",), values=np.zeros((1, 1, 3)))
    other = Exposures(names=("beta",), values=np.zeros((1, 1, 3)))
    estimated = factor_returns([[0.0, 0.0, 0.0]], other, weighting="equal", min_stocks=3)
    with pytest.raises(ValueError, match="same exposures"):
        factor_attribution([[1.0, 0, 0]], [[0, 1.0, 0]], [[0.0, 0.0, 0.0]], x, estimated)


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"beta_window": 1}, "beta_window must be >= 2"),
        ({"beta_min_sessions": 200}, "beta_min_sessions must be in 2..beta_window=120"),
        ({"reversal_window": 0, "reversal_min_sessions": 0}, "reversal_window must be >= 1"),
        ({"winsorise_at": 0.0}, "winsorise_at must be > 0"),
    ],
)
def test_invalid_exposure_config_names_the_parameter(settings_, message) -> None:
    with pytest.raises(ValueError, match=message):
        ExposureConfig(**settings_)


def test_regression_needs_more_stocks_than_parameters() -> None:
    x = Exposures(names=("size",), values=np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match="min_stocks must be >= 3"):
        factor_returns([[0.0, 0.0, 0.0]], x, weighting="equal", min_stocks=2)
