"""The scenario's price limits are the market rules' (one home: :mod:`backtest.rules.ashare`)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest.market.calendar import all_sessions
from backtest.market.scenario import ScenarioConfig, generate
from backtest.rules.ashare import BOARD_CODES
from backtest.rules.presets import CHINA_A_2023_2024


@pytest.fixture(scope="module")
def small_bars() -> pl.DataFrame:
    frames = generate(ScenarioConfig(n_stocks=600, seed=3, end="2023-12-29"))
    instruments = frames["instruments"].select("symbol", "board", "list_date")
    return frames["bars"].join(instruments, on="symbol").sort("date", "symbol")


def test_scenario_limits_equal_the_rules_limit_prices_on_every_day_and_stock(
    small_bars: pl.DataFrame,
) -> None:
    calendar = all_sessions()
    rules = CHINA_A_2023_2024.equities
    for (day,), rows in small_bars.group_by("date", maintain_order=True):
        list_dates = rows["list_date"].to_numpy().astype("datetime64[D]")
        age = np.searchsorted(calendar, np.datetime64(day, "D")) - np.searchsorted(
            calendar, list_dates
        )
        up, down = rules.limit_prices(
            rows["pre_close"].to_numpy(),
            np.array([BOARD_CODES[b] for b in rows["board"]]),
            rows["is_st"].to_numpy(),
            age,
            day,
            list_dates=list_dates,
        )
        np.testing.assert_array_equal(rows["limit_up"].fill_null(np.nan).to_numpy(), up)
        np.testing.assert_array_equal(rows["limit_down"].fill_null(np.nan).to_numpy(), down)


def test_small_scenario_covers_st_off_the_main_board_and_unlimited_listings(
    small_bars: pl.DataFrame,
) -> None:
    # the cases where the scenario's private limits once drifted from the rules
    st_elsewhere = small_bars.filter(pl.col("is_st") & (pl.col("board") != "main"))
    assert set(st_elsewhere["board"]) == {"chinext", "star", "bse"}
    ratio = (st_elsewhere["limit_up"] / st_elsewhere["pre_close"] - 1.0).drop_nulls()
    assert ratio.min() > 0.15  # 20 % or 30 %, not the main board's ST 5 %
    unlimited = small_bars.filter(pl.col("limit_up").is_null() & pl.col("pre_close").is_not_null())
    assert unlimited.height > 0
