"""Named behaviours of the fill kernel through its validating wrapper ``fill_orders``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import invariant_settings

from backtest.execution.fills import FillBatch, FillStatus, fill_orders
from backtest.rules.ashare import BOARD_CODES
from backtest.rules.presets import CHINA_A_2023_2024


def one(
    order: int,
    *,
    held: int = 0,
    sellable: int | None = None,
    reference: float = 10.0,
    volume: float = 1e6,
    volatility: float = 0.02,
    board: str = "main",
    limit_up: float = math.nan,
    limit_down: float = math.nan,
    cash: float = 1e7,
    **scalars: Any,
) -> FillBatch:
    """Fill a single stock's order (no costs and no impact unless given)."""
    lot, minimum = CHINA_A_2023_2024.equities.lot_arrays(np.array([BOARD_CODES[board]]))
    settings: dict[str, Any] = {
        "impact_coefficient": 0.0,
        "commission_rate": 0.0,
        "min_commission": 0.0,
        "stamp_duty_rate": 0.0,
        "transfer_fee_rate": 0.0,
    } | scalars
    flags = {
        k: np.array([settings.pop(k)])
        for k in ("locked_up", "locked_down", "suspended")
        if k in settings
    }
    return fill_orders(
        order_shares=np.array([order]),
        held_shares=np.array([held]),
        sellable_shares=np.array([held if sellable is None else sellable]),
        reference_price=np.array([reference]),
        day_volume=np.array([volume]),
        volatility=np.array([volatility]),
        limit_up=np.array([limit_up]),
        limit_down=np.array([limit_down]),
        lot_size=lot,
        min_lot=minimum,
        cash_available=cash,
        **flags,
        **settings,
    )


def status(batch: FillBatch) -> FillStatus:
    return batch.statuses(0)[0]


def test_limit_down_locked_sell_does_not_fill() -> None:
    batch = one(-1_000, held=1_000, locked_down=True)
    assert batch.filled_shares[0, 0] == 0 and status(batch) == FillStatus.LOCKED_LIMIT_DOWN


def test_limit_up_locked_buy_does_not_fill_but_a_sell_does() -> None:
    assert status(one(1_000, locked_up=True)) == FillStatus.LOCKED_LIMIT_UP
    assert one(-1_000, held=1_000, locked_up=True).filled_shares[0, 0] == -1_000


def test_suspended_stock_never_fills() -> None:
    for order in (1_000, -1_000):
        batch = one(order, held=1_000, suspended=True)
        assert batch.filled_shares[0, 0] == 0 and status(batch) == FillStatus.SUSPENDED


def test_missing_price_or_zero_volume_reports_no_price() -> None:
    assert status(one(1_000, reference=math.nan)) == FillStatus.NO_PRICE
    assert status(one(1_000, volume=0.0)) == FillStatus.NO_PRICE


def test_t_plus_one_shares_bought_today_are_not_sellable() -> None:
    batch = one(-1_000, held=1_000, sellable=0)
    assert batch.filled_shares[0, 0] == 0 and status(batch) == FillStatus.NOT_SELLABLE


def test_sell_is_cut_to_the_sellable_shares() -> None:
    batch = one(-1_000, held=1_000, sellable=400)
    assert batch.filled_shares[0, 0] == -400 and status(batch) == FillStatus.NOT_SELLABLE


def test_participation_cap_leaves_the_rest_unfilled() -> None:
    batch = one(5_000, volume=12_345.0, participation_cap=0.1)
    assert batch.filled_shares[0, 0] == 1_200  # floor(1234.5) rounded down to the lot
    assert status(batch) == FillStatus.PARTIAL_CAP


def test_cap_wins_over_sellable_when_both_bind_equally() -> None:
    batch = one(-1_000, held=1_000, sellable=500, volume=5_000.0, participation_cap=0.1)
    assert batch.filled_shares[0, 0] == -500 and status(batch) == FillStatus.PARTIAL_CAP


def test_odd_lot_sells_only_when_emptying_the_sellable_position() -> None:
    assert one(-150, held=150).filled_shares[0, 0] == -150
    batch = one(-150, held=250)
    assert batch.filled_shares[0, 0] == -100 and status(batch) == FillStatus.BELOW_LOT
    remainder = one(-50, held=250)
    assert remainder.filled_shares[0, 0] == 0 and status(remainder) == FillStatus.BELOW_LOT


def test_odd_lot_buy_rounds_down_to_the_lot_and_reports_below_lot() -> None:
    batch = one(150)
    assert batch.filled_shares[0, 0] == 100 and status(batch) == FillStatus.BELOW_LOT
    assert status(one(99)) == FillStatus.BELOW_LOT and one(99).filled_shares[0, 0] == 0


def test_star_buys_need_200_shares_then_steps_of_one() -> None:
    assert one(150, board="star").filled_shares[0, 0] == 0
    assert one(201, board="star").filled_shares[0, 0] == 201
    assert one(-150, held=150, board="star").filled_shares[0, 0] == -150  # remainder sold whole
    assert one(-150, held=1_000, board="star").filled_shares[0, 0] == 0


def test_cash_limited_buy_takes_the_most_lots_the_cash_pays_for() -> None:
    settings = {"commission_rate": 0.00025, "min_commission": 5.0, "transfer_fee_rate": 0.00001}
    batch = one(10_000, cash=50_000.0, impact_coefficient=0.8, **settings)
    bought = int(batch.filled_shares[0, 0])
    assert status(batch) == FillStatus.CASH_LIMITED and bought % 100 == 0 and bought > 0
    assert batch.cash_after[0] >= 0.0
    more = one(bought + 100, cash=50_000.0, impact_coefficient=0.8, **settings)
    assert more.filled_shares[0, 0] == bought  # one more lot would not fit


def test_sells_fund_buys_in_the_same_session() -> None:
    batch = fill_orders(
        order_shares=np.array([1_000, -1_000]),
        held_shares=np.array([0, 1_000]),
        sellable_shares=np.array([0, 1_000]),
        reference_price=np.array([10.0, 10.0]),
        day_volume=np.array([1e6, 1e6]),
        lot_size=np.array([100, 100]),
        min_lot=np.array([100, 100]),
        cash_available=0.0,
        impact_coefficient=0.0,
        commission_rate=0.0,
        min_commission=0.0,
        stamp_duty_rate=0.0,
        transfer_fee_rate=0.0,
    )
    assert batch.filled_shares[0].tolist() == [1_000, -1_000]
    assert batch.cash_after[0] == 0.0


def test_impact_follows_the_square_root_law_and_grows_with_size_and_volatility() -> None:
    small = one(1_000, volume=1e5, impact_coefficient=0.8, volatility=0.02)
    large = one(4_000, volume=1e5, impact_coefficient=0.8, volatility=0.02)
    wild = one(1_000, volume=1e5, impact_coefficient=0.8, volatility=0.05)
    expected = 10.0 * (1.0 + 0.8 * 0.02 * math.sqrt(1_000 / 1e5))
    assert small.fill_price[0, 0] == pytest.approx(expected, rel=1e-12)
    assert large.fill_price[0, 0] > small.fill_price[0, 0]
    assert wild.fill_price[0, 0] > small.fill_price[0, 0]
    assert large.impact_cost[0, 0] == pytest.approx((large.fill_price[0, 0] - 10.0) * 4_000)
    sell = one(-1_000, held=1_000, volume=1e5, impact_coefficient=0.8, volatility=0.02)
    assert sell.fill_price[0, 0] == pytest.approx(10.0 * (1.0 - 0.8 * 0.02 * math.sqrt(0.01)))


def test_missing_volatility_uses_the_fallback() -> None:
    fallback = one(1_000, volatility=math.nan, impact_coefficient=1.0, fallback_volatility=0.03)
    explicit = one(1_000, volatility=0.03, impact_coefficient=1.0)
    assert fallback.fill_price[0, 0] == explicit.fill_price[0, 0]


def test_impact_never_pushes_the_price_past_the_limit() -> None:
    buy = one(100_000, volume=1e5, impact_coefficient=2.0, volatility=0.3, limit_up=10.5)
    sell = one(
        -100_000,
        held=100_000,
        volume=1e5,
        impact_coefficient=2.0,
        volatility=0.3,
        limit_down=9.5,
        participation_cap=1.0,
    )
    assert buy.fill_price[0, 0] == 10.5
    assert sell.fill_price[0, 0] == 9.5


def test_minimum_commission_applies_to_small_orders() -> None:
    batch = one(100, commission_rate=0.00025, min_commission=5.0)  # notional 1,000 -> 0.25
    assert batch.commission[0, 0] == 5.0
    big = one(100_000, commission_rate=0.00025, min_commission=5.0)
    assert big.commission[0, 0] == pytest.approx(0.00025 * 1e6)


@pytest.mark.parametrize(
    ("day", "rate"), [(dt.date(2023, 8, 25), 0.001), (dt.date(2023, 8, 28), 0.0005)]
)
def test_stamp_duty_on_sells_follows_the_dated_rule(day: dt.date, rate: float) -> None:
    rules = CHINA_A_2023_2024.equities
    sell = one(
        -1_000,
        held=1_000,
        stamp_duty_rate=rules.stamp_duty_rate(day),
        transfer_fee_rate=rules.transfer_fee_rate(day),
    )
    assert sell.stamp_duty[0, 0] == pytest.approx(rate * 10_000.0, rel=1e-12)
    assert sell.transfer_fee[0, 0] == pytest.approx(0.1, rel=1e-12)
    buy = one(1_000, stamp_duty_rate=rules.stamp_duty_rate(day))
    assert buy.stamp_duty[0, 0] == 0.0


def test_sell_whose_fees_exceed_proceeds_is_refused_without_cash() -> None:
    batch = one(-100, held=100, reference=0.02, cash=0.0, min_commission=5.0)
    assert batch.filled_shares[0, 0] == 0 and status(batch) == FillStatus.CASH_LIMITED


def test_wrapper_rejects_sellable_above_held_naming_the_stock() -> None:
    with pytest.raises(ValueError, match=r"sellable_shares\[1\]"):
        fill_orders(
            order_shares=np.array([0, -100]),
            held_shares=np.array([0, 100]),
            sellable_shares=np.array([0, 200]),
            reference_price=np.array([10.0, 10.0]),
            day_volume=np.array([1e6, 1e6]),
            lot_size=np.array([100, 100]),
            min_lot=np.array([100, 100]),
            cash_available=0.0,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reference_price": np.array([10.0])}, "reference_price has shape"),
        ({"order_shares": np.array([1.5, 0.0])}, "whole numbers"),
        ({"participation_cap": 1.5}, "participation_cap"),
        ({"cash_available": math.inf}, "cash_available"),
        ({"lot_size": np.array([0, 100])}, r"lot_size\[0\]"),
        ({"suspended": np.array([0, 1])}, "boolean"),
    ],
)
def test_wrapper_rejects_bad_inputs_with_a_named_error(change: dict, message: str) -> None:
    inputs: dict[str, Any] = {
        "order_shares": np.array([100, 0]),
        "held_shares": np.array([0, 0]),
        "sellable_shares": np.array([0, 0]),
        "reference_price": np.array([10.0, 10.0]),
        "day_volume": np.array([1e6, 1e6]),
        "lot_size": np.array([100, 100]),
        "min_lot": np.array([100, 100]),
        "cash_available": 1e5,
    } | change
    with pytest.raises(ValueError, match=message):
        fill_orders(**inputs)


def test_batch_becomes_a_frame_of_the_orders() -> None:
    batch = fill_orders(
        order_shares=np.array([1_000, 0, -100]),
        held_shares=np.array([0, 0, 100]),
        sellable_shares=np.array([0, 0, 0]),
        reference_price=np.array([10.0, 10.0, 10.0]),
        day_volume=np.array([1e6, 1e6, 1e6]),
        lot_size=np.array([100, 100, 100]),
        min_lot=np.array([100, 100, 100]),
        cash_available=1e6,
    )
    frame = batch.to_frame(["600000", "600001", "600002"], dt.date(2024, 2, 5))
    assert frame.columns[:3] == ["date", "symbol", "order_shares"]
    assert frame["symbol"].to_list() == ["600000", "600002"]
    assert frame["status_name"].to_list() == ["FILLED", "NOT_SELLABLE"]
    assert frame["date"].dtype == pl.Date
    with pytest.raises(ValueError, match="2 symbols for 3 stocks"):
        batch.to_frame(["a", "b"])


@invariant_settings(80)
@given(
    shares=st.lists(st.integers(1, 500), min_size=2, max_size=2, unique=True),
    sigmas=st.lists(st.floats(0.0, 0.2), min_size=2, max_size=2, unique=True),
)
def test_buy_price_never_falls_as_size_or_volatility_grows(
    shares: list[int], sigmas: list[float]
) -> None:
    small, large = sorted(shares)
    calm, wild = sorted(sigmas)

    def price(lots: int, sigma: float) -> float:
        batch = one(lots * 100, volume=1e6, volatility=sigma, impact_coefficient=0.8)
        return float(batch.fill_price[0, 0])

    assert price(small, calm) <= price(large, calm)
    assert price(small, calm) <= price(small, wild)
    assert price(small, calm) >= 10.0
