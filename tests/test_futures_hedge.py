"""Hedge accounting: futures P&L = index P&L + basis carry + roll, by hand and on real IC/IM."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.engine.futures_hedge import basis_table, hedge_lines, main_contracts
from backtest.market.calendar import sessions
from backtest.rules.roll import RollRule, roll_schedule

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_FUTURES = REAL / "cffex_futures_daily_2022_12_to_2024_12.csv"
DAYS = [dt.date(2024, 1, d) for d in (2, 3, 4, 5)]


def _hand_case(
    schedule_contracts: list[str | None], positions: list[int]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    schedule = pl.DataFrame(
        {"date": DAYS, "contract": schedule_contracts, "position": positions},
        schema={"date": pl.Date, "contract": pl.String, "position": pl.Int64},
    )
    futures = pl.DataFrame(
        {
            "date": DAYS[:3] + DAYS[2:],
            "contract": ["IC2401"] * 3 + ["IC2403"] * 2,
            "settle": [5000.0, 4985.0, 4980.0, 4900.0, 4930.0],
        }
    )
    index = pl.DataFrame(
        {"date": DAYS, "index_code": ["000905"] * 4, "close": [5010.0, 5000.0, 4985.0, 5000.0]}
    )
    return schedule, futures, index


def test_short_hedge_lines_by_hand_through_a_roll_into_a_deeper_discount() -> None:
    lines = hedge_lines(*_hand_case(["IC2401", "IC2401", "IC2403", "IC2403"], [-1] * 4))
    # day 2: -200 x (4985 - 5000) = 3000 futures; -200 x (5000 - 5010) = 2000 index; carry 1000
    # day 3 (roll at settle): old leg -200 x (4980 - 4985) = 1000; index 3000;
    #   roll = -200 x (b_old - b_new) = -200 x ((4980 - 4985) - (4900 - 4985)) = -16000
    #   carry = -200 x (b_new - b_prev) = -200 x (-85 - (-15)) = +14000
    # day 4: -200 x (4930 - 4900) = -6000; index -3000; carry -200 x (-70 - (-85)) = -3000
    assert lines["futures_pnl_cny"].to_list() == pytest.approx([0, 3000, 1000, -6000])
    assert lines["index_pnl_cny"].to_list() == pytest.approx([0, 2000, 3000, -3000])
    assert lines["basis_carry_cny"].to_list() == pytest.approx([0, 1000, 14000, -3000])
    assert lines["roll_cny"].to_list() == pytest.approx([0, 0, -16000, 0])
    assert lines["is_roll"].to_list() == [False, False, True, False]
    assert lines["basis_points"].to_list() == pytest.approx([-10, -15, -85, -70])


def test_opening_and_closing_days_are_not_rolls_and_flat_days_earn_nothing() -> None:
    lines = hedge_lines(*_hand_case([None, "IC2401", None, None], [0, -2, 0, 0]))
    assert lines["is_roll"].to_list() == [False] * 4
    # opened at day 2's settle, closed at day 3's: -2 x 200 x (4980 - 4985) = 2000
    assert lines["futures_pnl_cny"].to_list() == pytest.approx([0, 0, 2000, 0])


def test_holding_past_the_last_price_says_which_contract_and_date() -> None:
    schedule, futures, index = _hand_case(["IC2401"] * 4, [-1] * 4)
    with pytest.raises(ValueError, match=r"on 2024-01-05 .* IC2401 .*held past its expiry"):
        hedge_lines(schedule, futures, index)


def test_a_roll_into_another_product_is_refused() -> None:
    schedule, futures, index = _hand_case(["IC2401", "IC2401", "IM2403", "IM2403"], [-1] * 4)
    with pytest.raises(ValueError, match="a roll stays within one product"):
        hedge_lines(schedule, futures, index)


# ---------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real() -> tuple[pl.DataFrame, pl.DataFrame]:
    if not REAL_FUTURES.exists():
        pytest.skip(f"real data not present at {REAL}")
    futures = pl.read_csv(REAL_FUTURES, try_parse_dates=True)
    index = (
        futures.select("date", "product", pl.col("index_close").alias("close"))
        .unique(["date", "product"])
        .with_columns(pl.col("product").replace_strict(FUTURES_UNDERLYING).alias("index_code"))
        .drop("product")
    )
    return futures, index


@pytest.mark.real_data
def test_real_one_lot_short_ic2403_carry_in_january_2024_matches_closes(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    futures, index = real
    # the file has closes, not settles: the closes stand in for settlement prices here
    held = sessions("2023-12-29", "2024-01-31")
    schedule = pl.DataFrame(
        {"date": held, "contract": "IC2403", "position": -1},
        schema={"date": pl.Date, "contract": pl.String, "position": pl.Int64},
    )
    lines = hedge_lines(schedule, futures, index, price_column="close")
    ends = futures.filter(
        (pl.col("contract") == "IC2403")
        & pl.col("date").is_in([dt.date(2023, 12, 29), dt.date(2024, 1, 31)])
    ).sort("date")
    (f_start, f_end), (s_start, s_end) = ends["close"], ends["index_close"]
    hand = -200 * ((f_end - f_start) - (s_end - s_start))
    assert (f_start, f_end) == (5409.0, 4609.0)
    assert lines["basis_carry_cny"].sum() == pytest.approx(hand, abs=1e-6)
    assert hand == pytest.approx(13_550.2, abs=0.01)  # a short gains as the discount widens
    assert lines["futures_pnl_cny"].sum() == pytest.approx(-200 * (f_end - f_start))
    assert lines["roll_cny"].sum() == 0.0


@pytest.mark.real_data
def test_real_quarterly_hedge_lines_add_up_across_2023_2024_rolls(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    futures, index = real
    calendar = sessions("2022-12-01", "2025-12-31")
    plan = roll_schedule(RollRule(), "IM", calendar, start="2023-01-03", end="2024-12-31")
    lines = hedge_lines(
        plan.with_columns(pl.lit(-1).alias("position")), futures, index, price_column="close"
    )
    total = lines["index_pnl_cny"] + lines["basis_carry_cny"] + lines["roll_cny"]
    np.testing.assert_allclose(lines["futures_pnl_cny"], total, atol=1e-6)
    assert lines["is_roll"].sum() == 8  # quarterly rolls, Mar 2023 .. Dec 2024
    # rolling a short IM into a deeper discount cost money on balance over 2023-2024
    assert lines["roll_cny"].sum() < 0


@pytest.mark.real_data
def test_real_crash_day_annualised_basis_of_ic2403_and_im2403(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    futures, index = real
    day = futures.filter(pl.col("date") == dt.date(2024, 2, 5))
    table = basis_table(
        day, index, price_column="close", sessions=sessions("2024-01-02", "2024-12-31")
    )
    basis = dict(table.select("contract", "basis_annualised").rows())
    assert basis["IC2403"] == pytest.approx(-0.367, abs=0.002)
    assert basis["IM2403"] == pytest.approx(-0.542, abs=0.002)
    assert set(main_contracts(day)["contract"]) >= {"IC2403", "IM2403"}


#: CALIBRATION.md: main-contract annualised basis, % a year, monthly mean / low (IC, IM)
CALIBRATION_BASIS = {
    "2023-06": (-4.0, -13.1, -5.4, -12.4),
    "2023-12": (-4.5, -22.0, -8.2, -30.3),
    "2024-01": (-10.3, -30.4, -13.7, -37.0),
    "2024-02": (-9.3, -36.7, -14.6, -54.2),
    "2024-03": (-5.1, -11.6, -13.6, -43.3),
    "2024-12": (-5.4, -13.7, -8.5, -20.7),
}


@pytest.mark.real_data
def test_real_main_contract_basis_reproduces_calibration_monthly_mean_and_low(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    futures, index = real
    table = basis_table(
        futures, index, price_column="close", sessions=sessions("2022-12-01", "2025-12-31")
    )
    main = main_contracts(futures).join(
        table.select("date", "contract", "basis_annualised"), on=["date", "contract"]
    )
    monthly = main.group_by(pl.col("date").dt.strftime("%Y-%m").alias("month"), "product").agg(
        (pl.col("basis_annualised").mean() * 100).alias("mean"),
        (pl.col("basis_annualised").min() * 100).alias("low"),
    )
    figures = {(m, p): (mean, low) for m, p, mean, low in monthly.rows()}
    for month, (ic_mean, ic_low, im_mean, im_low) in CALIBRATION_BASIS.items():
        assert figures[(month, "IC")] == pytest.approx((ic_mean, ic_low), abs=0.051)
        assert figures[(month, "IM")] == pytest.approx((im_mean, im_low), abs=0.051)


@pytest.mark.real_data
def test_real_main_roll_rule_holds_the_march_quarterlies_through_the_crash(
    real: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    futures, _ = real
    calendar = sessions("2022-12-01", "2025-12-31")
    rule = RollRule(sessions_before_expiry=5, target="main")
    for product in ("IC", "IM"):
        plan = roll_schedule(
            rule, product, calendar, start="2023-12-01", end="2024-03-01", futures=futures
        )
        crash = plan.filter(pl.col("date") >= dt.date(2024, 1, 2))
        assert set(crash["contract"]) == {f"{product}2403"}
