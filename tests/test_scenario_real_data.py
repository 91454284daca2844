"""Checks of the scenario's rules against the shared real data (skipped when it is absent)."""

import numpy as np
import polars as pl
import pytest

from backtest.market.calendar import all_sessions, sessions
from backtest.market.scenario.futures import main_contract
from backtest.rules.cffex import listed_months

pytestmark = pytest.mark.real_data


def test_main_contract_rule_matches_the_largest_real_open_interest(real_data_dir) -> None:
    real = pl.read_csv(
        real_data_dir / "cffex_futures_daily_2022_12_to_2024_12.csv", try_parse_dates=True
    )
    real = real.filter(pl.col("date") >= pl.date(2023, 1, 3))
    largest = (
        real.sort("open_interest", descending=True)
        .group_by("product", "date", maintain_order=True)
        .first()
        .select("product", "date", "contract")
    )
    days = sessions("2023-01-03", "2025-12-31")
    rule = {}
    for day in sessions("2023-01-03", "2024-12-31"):
        contracts = listed_months(day, all_sessions())
        left = [
            int(np.searchsorted(days, np.datetime64(e, "D")) - np.searchsorted(days, day))
            for *_, e in contracts
        ]
        year, month, _ = contracts[main_contract(contracts, left)]
        rule[day.astype(object)] = f"{year % 100:02d}{month:02d}"
    matched = (
        largest.with_columns(
            rule=pl.col("date").replace_strict(rule, default=None),
            month=pl.col("contract").str.slice(2, 4),
        )
        .group_by("product")
        .agg(share=(pl.col("rule") == pl.col("month")).mean())
    )
    share = dict(zip(matched["product"], matched["share"], strict=True))
    assert share["IC"] > 0.9 and share["IM"] > 0.9
    assert share["IF"] > 0.75 and share["IH"] > 0.75


def test_limit_down_share_on_2024_02_05_is_near_the_real_main_board(
    real_data_dir, scenario_frames
) -> None:
    real = pl.read_parquet(real_data_dir / "ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet")
    real = real.filter(pl.col("date").is_between(pl.date(2024, 2, 2), pl.date(2024, 2, 5))).sort(
        "symbol", "date"
    )
    real = real.with_columns(ret=pl.col("close") / pl.col("close").shift(1).over("symbol") - 1)
    real_day = real.filter(pl.col("date") == pl.date(2024, 2, 5), pl.col("ret").is_not_null())
    real_share = (real_day["ret"] < -0.095).mean()
    bars = scenario_frames["bars"].filter(
        pl.col("date") == pl.date(2024, 2, 5),
        ~pl.col("is_st"),
        pl.col("symbol").str.slice(0, 2).is_in(["60", "00"]),
        pl.col("limit_down").is_not_null(),
    )
    generated_share = (bars["close"] == bars["limit_down"]).mean()
    assert 0.5 * real_share < generated_share < 2.0 * real_share, (real_share, generated_share)


def test_generated_daily_index_volatility_is_near_the_real_one(
    real_data_dir, scenario_frames
) -> None:
    real = pl.read_csv(
        real_data_dir / "index_daily_2022_12_to_2024_12.csv",
        schema_overrides={"index_code": pl.String},
        try_parse_dates=True,
    ).filter(pl.col("date") >= pl.date(2023, 1, 3))
    generated = scenario_frames["index_bars"]
    pairs = {"000300": "000300", "000905": "000905", "000852": "000852", "932000": "932000"}
    pairs["8841431"] = "MICRO400"  # Wind microcap, the target of MICRO400
    for real_code, code in pairs.items():
        real_vol = real.filter(pl.col("index_code") == real_code)["close"].log().diff().std()
        gen_vol = generated.filter(pl.col("index_code") == code)["close"].log().diff().std()
        assert 0.8 < gen_vol / real_vol < 1.25, (code, real_vol, gen_vol)
