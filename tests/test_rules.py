"""A-share rules as dated data: costs by date, limit prices, unlimited first sessions, lots."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.rules.ashare import BOARD_CODES, BoardRules, MarketRules, limit_price_round
from backtest.rules.dated import value_on
from backtest.rules.presets import CHINA_A_2023_2024

RULES = CHINA_A_2023_2024.equities
DAY = dt.date(2024, 2, 5)
MAIN, CHINEXT, STAR, BSE = (BOARD_CODES[b] for b in ("main", "chinext", "star", "bse"))


def limits(
    pre_close: float, board: int, *, st_flag: bool = False, age: int = 100, day: dt.date = DAY
) -> tuple[float, float]:
    up, down = RULES.limit_prices(
        np.array([pre_close]), np.array([board]), np.array([st_flag]), np.array([age]), day
    )
    return float(up[0]), float(down[0])


def test_stamp_duty_halves_on_2023_08_28() -> None:
    assert RULES.stamp_duty_rate(dt.date(2023, 8, 25)) == 0.001
    assert RULES.stamp_duty_rate(dt.date(2023, 8, 27)) == 0.001
    assert RULES.stamp_duty_rate(dt.date(2023, 8, 28)) == 0.0005
    assert RULES.stamp_duty_rate(np.datetime64("2024-02-05")) == 0.0005  # type: ignore[arg-type]


def test_transfer_fee_is_one_basis_point_tenth_since_2022_04_29() -> None:
    assert RULES.transfer_fee_rate(dt.date(2023, 1, 3)) == 0.00001
    assert RULES.transfer_fee_rate(dt.date(2022, 4, 28)) == 0.00002


def test_main_board_limits_round_half_up_to_the_tick() -> None:
    assert limits(10.05, MAIN) == (11.06, 9.05)
    assert limits(5.55, MAIN) == (6.11, 5.0)  # 6.105 -> 6.11, 4.995 -> 5.00


def test_st_stocks_have_five_percent_limits_on_the_main_board_only() -> None:
    assert limits(10.0, MAIN, st_flag=True) == (10.5, 9.5)
    assert limits(10.0, CHINEXT, st_flag=True) == (12.0, 8.0)


def test_board_limits_in_2024() -> None:
    assert limits(10.0, CHINEXT) == (12.0, 8.0)
    assert limits(10.0, STAR) == (12.0, 8.0)
    assert limits(10.0, BSE) == (13.0, 7.0)


def test_chinext_limit_was_ten_percent_before_the_2020_reform() -> None:
    assert limits(10.0, CHINEXT, day=dt.date(2020, 8, 21)) == (11.0, 9.0)
    assert limits(10.0, CHINEXT, day=dt.date(2020, 8, 24)) == (12.0, 8.0)


def test_new_listings_trade_without_limit_for_their_first_sessions() -> None:
    # main board under the registration system (from 2023-04-10): 5 sessions
    assert np.isnan(limits(10.0, MAIN, age=4)[0])
    assert limits(10.0, MAIN, age=5) == (11.0, 9.0)
    assert np.isnan(limits(10.0, STAR, age=4)[1])
    # before the registration system only the listing day was unlimited
    old = dt.date(2023, 1, 5)
    assert np.isnan(limits(10.0, MAIN, age=0, day=old)[0])
    assert limits(10.0, MAIN, age=1, day=old) == (11.0, 9.0)


def test_listing_dates_pick_the_rule_of_the_listing_not_of_the_day() -> None:
    up, _ = RULES.limit_prices(
        np.array([10.0, 10.0]),
        np.array([MAIN, MAIN]),
        np.zeros(2, dtype=bool),
        np.array([2, 2]),
        dt.date(2023, 4, 12),
        list_dates=np.array(["2023-04-07", "2023-04-10"], dtype="datetime64[D]"),
    )
    assert up[0] == 11.0 and np.isnan(up[1])


def test_missing_pre_close_gives_no_limit() -> None:
    assert np.isnan(limits(float("nan"), MAIN)).all()


def test_limit_down_never_below_one_tick() -> None:
    assert limits(0.01, MAIN)[1] == 0.01


def test_star_lots_are_steps_of_one_after_a_minimum_of_200() -> None:
    lot, minimum = RULES.lot_arrays(np.array([MAIN, CHINEXT, STAR, BSE], dtype=np.int8))
    assert lot.tolist() == [100, 100, 1, 1] and minimum.tolist() == [100, 100, 200, 100]
    assert lot.dtype == np.int64 and minimum.dtype == np.int64


def test_limit_pct_reads_the_dated_board_table() -> None:
    assert RULES.limit_pct("main", False, DAY) == 0.10
    assert RULES.limit_pct(MAIN, True, DAY) == 0.05
    assert RULES.limit_pct("star", True, DAY) == 0.20


def test_a_rule_change_is_a_row_not_code() -> None:
    custom = dataclasses.replace(
        RULES,
        stamp_duty_sell=(*RULES.stamp_duty_sell, (dt.date(2030, 1, 2), 0.0)),
    )
    assert custom.stamp_duty_rate(dt.date(2030, 1, 2)) == 0.0
    assert custom.stamp_duty_rate(dt.date(2029, 12, 31)) == 0.0005


def test_rules_reject_tables_out_of_order_or_out_of_range() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        MarketRules(stamp_duty_sell=((dt.date(2023, 8, 28), 0.0005), (dt.date(2008, 9, 19), 0.001)))
    with pytest.raises(ValueError, match="commission_rate"):
        MarketRules(commission_rate=0.5)
    with pytest.raises(ValueError, match="min_buy_shares"):
        BoardRules(limit_pct=((DAY, 0.1),), limit_pct_st=((DAY, 0.05),), min_buy_shares=1)
    with pytest.raises(ValueError, match="no row in force"):
        value_on(((DAY, 0.1),), dt.date(2000, 1, 1))


def test_limit_price_round_goes_half_up() -> None:
    assert limit_price_round(np.array([1.005, 2.675, 11.055])).tolist() == [1.01, 2.68, 11.06]


@settings(max_examples=60, deadline=None)
@given(
    pre_close=st.lists(st.floats(0.5, 500.0), min_size=1, max_size=20),
    seed=st.integers(0, 2**31),
)
def test_limit_prices_match_the_source_loaders_derivation(
    pre_close: list[float], seed: int
) -> None:
    from backtest.market.derive import add_limit_prices

    rng = np.random.default_rng(seed)
    n = len(pre_close)
    calendar = np.arange(np.datetime64("2024-01-02"), np.datetime64("2024-02-06"))
    day = calendar[-1].item()
    boards = rng.choice(["main", "chinext", "star", "bse"], n)
    is_st = rng.random(n) < 0.3
    symbols = [f"{i:06d}" for i in range(n)]
    frame = pl.DataFrame(
        {"date": [day] * n, "symbol": symbols, "pre_close": pre_close, "is_st": is_st}
    )
    instruments = pl.DataFrame(
        {"symbol": symbols, "board": boards, "list_date": [None] * n},
        schema_overrides={"list_date": pl.Date},
    )
    theirs = add_limit_prices(frame, instruments, calendar)
    codes = np.array([BOARD_CODES[b] for b in boards])
    up, down = RULES.limit_prices(np.array(pre_close), codes, is_st, np.full(n, 1_000), day)
    np.testing.assert_array_equal(theirs["limit_up"].to_numpy(), up)
    np.testing.assert_array_equal(theirs["limit_down"].to_numpy(), down)
