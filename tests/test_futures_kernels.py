"""Futures kernels: hand cases, and each numba kernel equal to its plain-Python twin."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import invariant_settings

from backtest.analytics import basis
from backtest.engine.futures import fills, kernels, settlement
from backtest.engine.futures.kernels import (
    FILL_NO_ORDER,
    FILL_NOT_TRADABLE,
    FILL_OK,
    SETTLE_FINAL,
    SETTLE_NO_PRICE,
    SETTLE_OK,
    fill_nb,
    fill_py,
    settle_nb,
    settle_py,
)

PROFILE = invariant_settings(60)


def _settle(**overrides: object) -> tuple[np.ndarray, ...]:
    args: dict[str, object] = {
        "position_overnight": np.array([-2], dtype=np.int64),
        "traded_today": np.array([0], dtype=np.int64),
        "trade_price": np.array([np.nan]),
        "settle_previous": np.array([5409.0]),
        "settle_today": np.array([5300.0]),
        "multiplier": np.array([200.0]),
        "margin_rate": np.array([0.12]),
        "expiring": np.array([False]),
    }
    args.update(overrides)
    return settle_nb(*args.values())


# ------------------------------------------------------------------- settlement, by hand
def test_short_position_gains_variation_margin_when_settle_falls() -> None:
    variation, margin_cny, after, status = _settle()
    # -2 contracts x 200 CNY/pt x (5300 - 5409) pt = +43,600 CNY
    assert variation[0] == pytest.approx(43_600.0)
    # |-2| x 5300 x 200 x 12 % = 254,400 CNY
    assert margin_cny[0] == pytest.approx(254_400.0)
    assert after[0] == -2 and status[0] == SETTLE_OK


def test_todays_trade_is_marked_from_its_fill_price_not_yesterdays_settle() -> None:
    variation, margin_cny, after, _ = _settle(
        position_overnight=np.array([0], dtype=np.int64),
        traded_today=np.array([3], dtype=np.int64),
        trade_price=np.array([5310.4]),
    )
    assert variation[0] == pytest.approx(3 * 200.0 * (5300.0 - 5310.4))
    assert after[0] == 3
    assert margin_cny[0] == pytest.approx(3 * 5300.0 * 200.0 * 0.12)


def test_overnight_and_traded_lots_are_marked_separately() -> None:
    variation, _, after, _ = _settle(
        position_overnight=np.array([-2], dtype=np.int64),
        traded_today=np.array([1], dtype=np.int64),
        trade_price=np.array([5350.0]),
    )
    expected = -2 * 200.0 * (5300.0 - 5409.0) + 1 * 200.0 * (5300.0 - 5350.0)
    assert variation[0] == pytest.approx(expected)
    assert after[0] == -1


def test_expiring_contract_is_settled_to_final_price_and_closed_without_margin() -> None:
    variation, margin_cny, after, status = _settle(
        settle_today=np.array([5399.1]), expiring=np.array([True])
    )
    assert variation[0] == pytest.approx(-2 * 200.0 * (5399.1 - 5409.0))
    assert after[0] == 0 and margin_cny[0] == 0.0 and status[0] == SETTLE_FINAL


def test_missing_settle_books_no_variation_and_keeps_margin_at_last_settle() -> None:
    variation, margin_cny, after, status = _settle(settle_today=np.array([np.nan]))
    assert variation[0] == 0.0 and after[0] == -2 and status[0] == SETTLE_NO_PRICE
    assert margin_cny[0] == pytest.approx(2 * 5409.0 * 200.0 * 0.12)


def test_settle_session_refuses_overnight_position_without_previous_settle() -> None:
    with pytest.raises(ValueError, match=r"IC2403.*settle_previous is NaN"):
        settlement.settle_session(
            contracts=("IC2403",),
            position_overnight=np.array([-1]),
            traded_today=np.array([0]),
            trade_price=np.array([np.nan]),
            settle_previous=np.array([np.nan]),
            settle_today=np.array([5300.0]),
            multiplier=np.array([200.0]),
            margin_rate=np.array([0.12]),
            expiring=np.array([False]),
        )


# --------------------------------------------------------------------- fills, by hand
FEES = (0.23e-4, 0.23e-4, 2.3e-4)


def _fill(order: int, held: int, today: int, close_today_first: bool = True) -> tuple:
    return fill_nb(
        np.array([order], dtype=np.int64),
        np.array([5000.0]),
        np.array([True]),
        np.array([held], dtype=np.int64),
        np.array([today], dtype=np.int64),
        np.array([200.0]),
        np.array([0.2]),
        1,
        *FEES,
        close_today_first,
    )


def test_sell_opening_a_short_pays_one_tick_and_the_open_fee() -> None:
    filled, price, fee, closed_overnight, closed_today, opened, status = _fill(-3, 0, 0)
    assert (filled[0], price[0], opened[0], status[0]) == (-3, 4999.8, -3, FILL_OK)
    assert closed_overnight[0] == 0 and closed_today[0] == 0
    assert fee[0] == pytest.approx(3 * 4999.8 * 200.0 * 0.23e-4)


def test_buy_through_a_short_closes_it_then_opens_a_long() -> None:
    filled, price, fee, closed_overnight, _, opened, _ = _fill(5, -2, 0)
    assert price[0] == pytest.approx(5000.2)
    assert (closed_overnight[0], opened[0], filled[0]) == (2, 3, 5)
    assert fee[0] == pytest.approx(5 * 5000.2 * 200.0 * 0.23e-4)


def test_closing_lots_opened_today_pays_the_close_today_fee_first() -> None:
    _, price, fee, closed_overnight, closed_today, opened, _ = _fill(3, -2, -2)
    assert (closed_today[0], closed_overnight[0], opened[0]) == (2, 1, 0)
    lot = price[0] * 200.0
    assert fee[0] == pytest.approx(lot * (2 * 2.3e-4 + 1 * 0.23e-4))
    _, _, fee_old_first, closed_overnight, closed_today, _, _ = _fill(3, -2, -2, False)
    assert (closed_overnight[0], closed_today[0]) == (2, 1)
    assert fee_old_first[0] < fee[0]


def test_untradable_contract_and_empty_order_fill_nothing() -> None:
    out = fill_nb(
        np.array([0, -1, -1], dtype=np.int64),
        np.array([5000.0, np.nan, 5000.0]),
        np.array([True, True, False]),
        np.zeros(3, np.int64),
        np.zeros(3, np.int64),
        np.full(3, 200.0),
        np.full(3, 0.2),
        1,
        *FEES,
        True,
    )
    assert list(out[0]) == [0, 0, 0]
    assert list(out[6]) == [FILL_NO_ORDER, FILL_NOT_TRADABLE, FILL_NOT_TRADABLE]


# ------------------------------------------------------------- kernels equal their twins
prices = st.floats(1000.0, 8000.0, allow_nan=False)
maybe_prices = st.one_of(prices, st.just(float("nan")))
lots = st.integers(-50, 50)


@PROFILE
@given(
    st.lists(
        st.tuples(lots, lots, prices, maybe_prices, maybe_prices, st.booleans(), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_settle_kernel_equals_twin(rows: list[tuple]) -> None:
    held, traded, trade_price, previous, today, expiring, is_im = map(
        np.array, zip(*rows, strict=True)
    )
    previous = np.where(held != 0, np.nan_to_num(previous, nan=5000.0), previous)
    args = (
        held.astype(np.int64),
        traded.astype(np.int64),
        trade_price.astype(float),
        previous.astype(float),
        today.astype(float),
        np.where(is_im, 200.0, 300.0),
        np.where(is_im, 0.15, 0.12),
        expiring.astype(bool),
    )
    for fast, slow in zip(settle_nb(*args), settle_py(*args), strict=True):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-6)


@PROFILE
@given(
    st.lists(st.tuples(lots, maybe_prices, st.booleans(), lots, lots), min_size=1, max_size=12),
    st.integers(0, 3),
    st.booleans(),
)
def test_fill_kernel_equals_twin(rows: list[tuple], slippage: int, today_first: bool) -> None:
    order, price, tradable, held, today = map(np.array, zip(*rows, strict=True))
    today = np.where(np.sign(today) == -np.sign(held), 0, today)  # a net book: same signs
    args = (
        order.astype(np.int64),
        price.astype(float),
        tradable.astype(bool),
        held.astype(np.int64),
        today.astype(np.int64),
        np.full(len(rows), 200.0),
        np.full(len(rows), 0.2),
        slippage,
        *FEES,
        today_first,
    )
    fast, slow = fill_nb(*args), fill_py(*args)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    filled, _, _, closed_overnight, closed_today, opened, _ = fast
    np.testing.assert_array_equal(closed_overnight + closed_today + opened, filled)


@pytest.mark.parametrize("module", [fills, basis, kernels, settlement])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
