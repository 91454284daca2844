"""Hedge accounting: futures P&L = index P&L + basis carry + roll, by hand and on real IC/IM."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from backtest.analytics.basis import basis_table, main_contracts
from backtest.core.ids import FUTURES_UNDERLYING
from backtest.market.calendar import sessions
from backtest.rules.roll import RollRule, roll_schedule

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_FUTURES = REAL / "cffex_futures_daily_2022_12_to_2024_12.csv"


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
