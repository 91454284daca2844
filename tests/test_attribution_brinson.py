"""Brinson-Fachler by cap bucket: textbook answers, edge buckets, exact sums, kernel twin."""

from __future__ import annotations

import doctest
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backtest.analytics import brinson
from backtest.analytics.brinson import (
    BUCKET_NAMES,
    CASH_BUCKET,
    STATUS_BUCKET_OUT_OF_RANGE,
    STATUS_NAN_RETURN_WITH_WEIGHT,
    STATUS_NON_FINITE_WEIGHT,
    brinson_fachler,
    brinson_fachler_day,
    bucket_totals_nb,
    bucket_totals_python,
    cap_bucket_codes,
)

TWO_SECTORS = ("equity", "bonds")


def _effects_total(result: brinson.BrinsonAttribution) -> np.ndarray:
    return (result.allocation + result.selection + result.interaction).sum(axis=1)


def test_docstring_examples_of_brinson_run() -> None:
    result = doctest.testmod(brinson, raise_on_error=False)
    assert result.attempted >= 4
    assert result.failed == 0


def test_textbook_two_sector_example_gives_known_effects() -> None:
    # sector A: W_p 0.6, W_b 0.5, R_p 10 %, R_b 8 %; sector B: W_p 0.4, W_b 0.5, R_p 2 %, R_b 3 %
    # R_p = 6.8 %, R_b = 5.5 %, excess 1.3 %
    result = brinson_fachler_day(
        [0.6, 0.0, 0.4, 0.0],
        [0.0, 0.5, 0.0, 0.5],
        [0.10, 0.08, 0.02, 0.03],
        [0, 0, 1, 1],
        bucket_names=TWO_SECTORS,
    )
    assert result.bucket_names == ("equity", "bonds", CASH_BUCKET)
    assert result.portfolio_return[0] == pytest.approx(0.068)
    assert result.benchmark_return[0] == pytest.approx(0.055)
    np.testing.assert_allclose(result.allocation[0], [0.0025, 0.0025, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.selection[0], [0.010, -0.005, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.interaction[0], [0.002, 0.001, 0.0], atol=1e-15)
    np.testing.assert_allclose(result.portfolio_bucket_return[0, :2], [0.10, 0.02])
    np.testing.assert_allclose(result.benchmark_bucket_return[0, :2], [0.08, 0.03])
    assert _effects_total(result)[0] == pytest.approx(0.013, abs=1e-15)


def test_out_of_benchmark_sleeve_without_market_shows_as_interaction() -> None:
    # benchmark all in CSI 500 (code 1); the book puts 20 % into microcap (code 4)
    result = brinson_fachler_day([0.4, 0.4, 0.2], [0.5, 0.5, 0.0], [0.01, -0.01, -0.08], [1, 1, 4])
    microcap = BUCKET_NAMES.index("microcap")
    benchmark_return = 0.0
    assert result.benchmark_bucket_return[0, microcap] == pytest.approx(benchmark_return)
    assert result.allocation[0, microcap] == pytest.approx(0.0)
    assert result.selection[0, microcap] == pytest.approx(0.0)
    assert result.interaction[0, microcap] == pytest.approx(0.2 * (-0.08 - benchmark_return))
    assert _effects_total(result)[0] == pytest.approx(result.excess_return[0], abs=1e-15)


def test_out_of_benchmark_sleeve_with_market_splits_bucket_bet_and_picks() -> None:
    # microcap market: the held stock (-8 %, weight 1) and an unheld one (-2 %, weight 3)
    result = brinson_fachler_day(
        [0.4, 0.4, 0.2, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.01, -0.01, -0.08, -0.02],
        [1, 1, 4, 4],
        market_weights=[10.0, 10.0, 1.0, 3.0],
    )
    microcap = BUCKET_NAMES.index("microcap")
    market_return = (1 * -0.08 + 3 * -0.02) / 4
    assert result.benchmark_bucket_return[0, microcap] == pytest.approx(market_return)
    assert result.allocation[0, microcap] == pytest.approx(0.2 * (market_return - 0.0))
    assert result.selection[0, microcap] == pytest.approx(0.0, abs=1e-16)
    assert result.interaction[0, microcap] == pytest.approx(0.2 * (-0.08 - market_return))
    assert _effects_total(result)[0] == pytest.approx(result.excess_return[0], abs=1e-15)


def test_bucket_the_book_does_not_hold_is_pure_allocation() -> None:
    result = brinson_fachler_day(
        [1.0, 0.0], [0.6, 0.4], [0.02, -0.03], [0, 1], bucket_names=TWO_SECTORS
    )
    benchmark_return = 0.6 * 0.02 + 0.4 * -0.03
    assert result.portfolio_bucket_return[0, 1] == pytest.approx(-0.03)
    assert result.allocation[0, 1] == pytest.approx(-0.4 * (-0.03 - benchmark_return))
    assert result.selection[0, 1] == 0.0
    assert result.interaction[0, 1] == 0.0


def test_uninvested_cash_is_an_allocation_line() -> None:
    result = brinson_fachler_day(
        [0.9], [1.0], [-0.05], [0], bucket_names=("stocks",), cash_return=0.0001
    )
    assert result.portfolio_weight[0].tolist() == pytest.approx([0.9, 0.1])
    assert result.portfolio_return[0] == pytest.approx(0.9 * -0.05 + 0.1 * 0.0001)
    assert result.allocation[0, 1] == pytest.approx(0.1 * (0.0001 - -0.05))
    assert result.selection[0, 1] == 0.0 and result.interaction[0, 1] == 0.0
    assert _effects_total(result)[0] == pytest.approx(result.excess_return[0], abs=1e-16)


def test_long_short_bucket_with_zero_net_weight_goes_to_selection() -> None:
    result = brinson_fachler_day(
        [0.5, 0.5, 1.0, -1.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.01, 0.02, 0.05, -0.03],
        [0, 0, 1, 1],
        bucket_names=TWO_SECTORS,
    )
    assert result.portfolio_weight[0, 1] == 0.0
    assert result.interaction[0, 1] == 0.0
    assert result.selection[0, 1] == pytest.approx(0.08)
    assert _effects_total(result)[0] == pytest.approx(result.excess_return[0], abs=1e-15)


@st.composite
def random_books(draw: st.DrawFn) -> dict[str, np.ndarray]:
    days = draw(st.integers(1, 6))
    stocks = draw(st.integers(1, 25))
    shape = (days, stocks)
    unit = st.floats(0.0, 1.0)
    held_p = draw(hnp.arrays(np.bool_, shape))
    held_b = draw(hnp.arrays(np.bool_, shape))
    weight_p = draw(hnp.arrays(np.float64, shape, elements=st.floats(-0.5, 1.0))) * held_p
    weight_b = draw(hnp.arrays(np.float64, shape, elements=unit)) * held_b
    if draw(st.booleans()):  # a fully invested benchmark, as index weights are
        totals = weight_b.sum(axis=1, keepdims=True)
        weight_b = np.divide(weight_b, totals, out=np.zeros(shape), where=totals > 0)
    returns = draw(hnp.arrays(np.float64, shape, elements=st.floats(-0.3, 0.3)))
    returns = np.where(held_p | held_b, returns, np.nan)  # unheld stocks may lack a return
    # few codes, so zero-weight and out-of-benchmark buckets are common
    codes = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 5)))
    market = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 100.0)))
    return {
        "portfolio_weights": weight_p,
        "benchmark_weights": weight_b,
        "stock_returns": returns,
        "bucket_codes": codes,
        "market_weights": market,
        "cash_return": np.asarray(draw(st.floats(-0.001, 0.001))),
    }


@settings(max_examples=150, deadline=None)
@given(random_books(), st.booleans())
def test_effects_add_up_to_the_excess_return_on_random_books(book, use_market) -> None:
    result = brinson_fachler(
        book["portfolio_weights"],
        book["benchmark_weights"],
        book["stock_returns"],
        book["bucket_codes"],
        market_weights=book["market_weights"] if use_market else None,
        cash_return=float(book["cash_return"]),
    )
    safe_returns = np.nan_to_num(book["stock_returns"])
    cash = float(book["cash_return"])
    weights_p, weights_b = book["portfolio_weights"], book["benchmark_weights"]
    expected_p = (weights_p * safe_returns).sum(axis=1) + (1 - weights_p.sum(axis=1)) * cash
    expected_b = (weights_b * safe_returns).sum(axis=1) + (1 - weights_b.sum(axis=1)) * cash
    np.testing.assert_allclose(result.portfolio_return, expected_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.benchmark_return, expected_b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_effects_total(result), result.excess_return, rtol=0, atol=1e-10)
    assert np.all(np.isfinite(result.allocation))
    assert np.all(np.isfinite(result.selection))


@settings(max_examples=100, deadline=None)
@given(random_books(), st.booleans(), st.booleans())
def test_bucket_kernel_agrees_with_python_twin(book, use_market, corrupt) -> None:
    codes = book["bucket_codes"].copy()
    weights_p = book["portfolio_weights"].copy()
    if corrupt:  # exercise the status codes
        codes[0, 0] = 9
        weights_p[-1, -1] = np.nan
    market = book["market_weights"] if use_market else np.zeros((0, 0))
    arguments = (weights_p, book["benchmark_weights"], market, book["stock_returns"], codes, 6)
    totals_nb, status_nb, bad_nb = bucket_totals_nb(*arguments)
    totals_py, status_py, bad_py = bucket_totals_python(*arguments)
    np.testing.assert_allclose(totals_nb, totals_py, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(status_nb, status_py)
    np.testing.assert_array_equal(bad_nb, bad_py)


def test_nan_return_of_a_held_stock_names_date_and_symbol() -> None:
    with pytest.raises(ValueError, match=r"2024-02-05 \(day 1\), stock 600000") as caught:
        brinson_fachler(
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.01, 0.02], [np.nan, 0.02]],
            [[0, 1], [0, 1]],
            dates=np.array(["2024-02-02", "2024-02-05"], dtype="datetime64[D]"),
            symbols=["600000", "000001"],
        )
    assert "NaN" in str(caught.value)


@pytest.mark.parametrize(
    ("weights", "codes", "status"),
    [
        ([[0.5, 0.5]], [[0, 7]], STATUS_BUCKET_OUT_OF_RANGE),
        ([[0.5, np.nan]], [[0, 1]], STATUS_NON_FINITE_WEIGHT),
    ],
)
def test_invalid_weights_or_codes_are_refused(weights, codes, status) -> None:
    with pytest.raises(ValueError, match=brinson.STATUS_MESSAGES[status][:20]):
        brinson_fachler(weights, [[0.5, 0.5]], [[0.01, 0.02]], codes)


def test_nan_return_with_weight_has_its_own_status() -> None:
    _, status, bad = bucket_totals_python(
        np.array([[0.0, 1.0]]),
        np.array([[0.0, 0.0]]),
        np.zeros((0, 0)),
        np.array([[np.nan, np.nan]]),
        np.array([[0, 0]]),
        6,
    )
    assert status.tolist() == [STATUS_NAN_RETURN_WITH_WEIGHT]
    assert bad.tolist() == [1]


def test_cap_bucket_codes_take_the_first_index_in_priority_order() -> None:
    csi300 = [[True, False, False, False]]
    csi500 = [[True, True, False, False]]
    microcap = [[False, False, True, False]]
    codes = cap_bucket_codes([csi300, csi500, microcap])
    assert codes.tolist() == [[0, 1, 2, 3]]


def test_frame_and_components_are_labelled_by_bucket() -> None:
    result = brinson_fachler_day([0.6, 0.4], [0.5, 0.5], [0.1, 0.02], [0, 1])
    frame = result.to_frame(["2024-02-05"])
    assert frame.height == len(BUCKET_NAMES) + 1
    assert frame["bucket"].to_list() == [*BUCKET_NAMES, CASH_BUCKET]
    by_effect = result.components()
    assert sorted(by_effect) == ["allocation", "interaction", "selection"]
    detailed = result.components(by="effect_and_bucket")
    assert "selection_microcap" in detailed and "allocation_cash" in detailed
    assert sum(v[0] for v in detailed.values()) == pytest.approx(result.excess_return[0])


def test_full_market_two_years_attributes_well_under_a_second() -> None:
    rng = np.random.default_rng(7)
    days, stocks = 484, 5000
    weights_p = rng.random((days, stocks)) * (rng.random((days, stocks)) < 0.1)
    weights_p /= weights_p.sum(axis=1, keepdims=True)
    weights_b = rng.random((days, stocks)) * (rng.random((days, stocks)) < 0.2)
    weights_b /= weights_b.sum(axis=1, keepdims=True)
    returns = rng.normal(0.0, 0.02, (days, stocks))
    codes = rng.integers(0, 6, (days, stocks)).astype(np.int8)
    caps = rng.random((days, stocks))
    brinson_fachler(weights_p[:2], weights_b[:2], returns[:2], codes[:2])  # load the kernel
    started = time.perf_counter()
    result = brinson_fachler(weights_p, weights_b, returns, codes, market_weights=caps)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    np.testing.assert_allclose(_effects_total(result), result.excess_return, atol=1e-12)
