"""Bars of the default scenario: rules, consistency and the realism the issue asks for."""

import numpy as np
import polars as pl
import pytest
from scenario_checks import bar_violations

from backtest.core.ids import board_of

LIMITS = {"main": 0.10, "chinext": 0.20, "star": 0.20, "bse": 0.30}


def _with_board(frame: pl.DataFrame) -> pl.DataFrame:
    boards = {s: board_of(s)[1] for s in frame["symbol"].unique().to_list()}
    return frame.with_columns(board=pl.col("symbol").replace_strict(boards))


def test_every_bar_respects_ohlc_order_limits_lots_and_suspension(scenario_frames) -> None:
    violations = bar_violations(scenario_frames["bars"])
    assert violations == dict.fromkeys(violations, 0)


def test_limit_prices_follow_the_board_rules(scenario_frames) -> None:
    # ST is 5 % on the main board only (ChiNext and STAR keep 20 %, BSE 30 %), and limit prices
    # round half up to the tick (rules.ashare); tests/test_scenario_limits.py holds them exactly
    bars = _with_board(scenario_frames["bars"].filter(pl.col("limit_up").is_not_null()))
    board_pct = pl.col("board").replace_strict(LIMITS)
    pct = pl.when(pl.col("is_st") & (pl.col("board") == "main")).then(0.05).otherwise(board_pct)

    def tick(price: pl.Expr) -> pl.Expr:
        return (price * 100 + 0.5 + 1e-7).floor() / 100

    expected_up = tick(pl.col("pre_close") * (1 + pct))
    expected_down = tick(pl.col("pre_close") * (1 - pct)).clip(lower_bound=0.01)
    wrong = bars.filter(
        ((pl.col("limit_up") - expected_up).abs() > 1e-9)
        | ((pl.col("limit_down") - expected_down).abs() > 1e-9)
    )
    assert wrong.height == 0, wrong.head()
    st_elsewhere = bars.filter(pl.col("is_st") & (pl.col("board") != "main"))
    assert st_elsewhere.height > 0


def test_new_listings_trade_without_limit_for_their_boards_first_sessions(scenario_frames) -> None:
    # no limit for 5 sessions on STAR, ChiNext and (listed from 2023-04-10) the main board; for
    # 1 session (the listing day) on the BSE and for earlier main-board listings (rules.ashare)
    listings = scenario_frames["instruments"].filter(pl.col("list_date") >= pl.date(2023, 1, 3))
    assert 280 <= listings.filter(pl.col("list_date").dt.year() == 2023).height <= 320
    assert 80 <= listings.filter(pl.col("list_date").dt.year() == 2024).height <= 120
    one_session = (pl.col("board") == "bse") | (
        (pl.col("board") == "main") & (pl.col("list_date") < pl.date(2023, 4, 10))
    )
    spell = pl.when(one_session).then(1).otherwise(5)
    listings = listings.with_columns(spell=spell)
    assert set(listings["spell"]) == {1, 5}
    bars = scenario_frames["bars"].join(listings.select("symbol", "spell"), on="symbol")
    numbered = bars.sort("date").with_columns(session=pl.int_range(pl.len()).over("symbol"))
    early = numbered.filter(pl.col("session") < pl.col("spell"))
    later = numbered.filter(pl.col("session") >= pl.col("spell"))
    assert early["limit_up"].null_count() == early.height
    assert later["limit_up"].null_count() == 0
    first = numbered.filter(pl.col("session") == 0)
    assert (first["close"] / first["pre_close"] - 1).median() > 0.3  # the first-day pop


def test_pre_close_is_the_previous_close(scenario_frames) -> None:
    bars = scenario_frames["bars"].sort("symbol", "date")
    previous = bars["close"].shift(1)
    same = bars["symbol"] == bars["symbol"].shift(1)
    gaps = (bars["pre_close"] - previous).abs().filter(same)
    assert gaps.max() == 0.0


def test_universe_has_realistic_boards_caps_st_and_delistings(scenario_frames) -> None:
    instruments = scenario_frames["instruments"]
    assert instruments.height == 5000
    shares = instruments["board"].value_counts(normalize=True)
    share = dict(zip(shares["board"], shares["proportion"], strict=True))
    assert share["main"] == pytest.approx(0.60, abs=0.05)
    assert share["chinext"] == pytest.approx(0.25, abs=0.04)
    assert share["star"] == pytest.approx(0.10, abs=0.03)
    assert share["bse"] == pytest.approx(0.05, abs=0.02)
    assert all(board_of(s)[1] == b for s, b in instruments.select("symbol", "board").iter_rows())
    assert 30 <= instruments["delist_date"].drop_nulls().len() <= 50
    first = scenario_frames["bars"].filter(pl.col("date") == pl.date(2023, 1, 3))
    assert 80e12 <= first["total_cap"].sum() <= 90e12
    assert 1.5e12 <= first["total_cap"].max() <= 2.5e12
    assert first["total_cap"].min() < 1e9
    assert first["is_st"].mean() == pytest.approx(0.03, abs=0.01)
    ratio = first["float_cap"] / first["total_cap"]
    assert ratio.min() >= 0.15 - 1e-9 and ratio.max() <= 1.0 + 1e-9  # new listings: 0.15-0.35


def test_on_2024_02_05_many_stocks_close_limit_down_after_trading_heavily(scenario_frames) -> None:
    bars = (
        scenario_frames["bars"]
        .sort("symbol", "date")
        .with_columns(average_volume=pl.col("volume").rolling_mean(20).shift(1).over("symbol"))
    )
    day = bars.filter(pl.col("date") == pl.date(2024, 2, 5), ~pl.col("suspended"))
    locked = day.filter(pl.col("close") == pl.col("limit_down"))
    assert locked.height / day.height > 0.20
    # liquidity dried up in prices, not in volume (issue 11): few locks on thin volume
    thin = (locked["volume"] < 0.5 * locked["average_volume"]).mean()
    assert thin < 0.2
    assert (day["close"] / day["pre_close"] - 1).median() < -0.07


def _quintile_returns(frames, start, end, by: str) -> pl.DataFrame:
    bars = frames["bars"]
    before = bars.filter(pl.col("date").is_between(pl.date(2023, 10, 1), pl.date(2023, 12, 29)))
    character = before.group_by("symbol").agg(
        turnover=(pl.col("amount") / pl.col("float_cap")).mean(), amount=pl.col("amount").mean()
    )
    start_close = bars.filter(pl.col("date") == start).select("symbol", start=pl.col("pre_close"))
    end_close = bars.filter(pl.col("date") == end).select("symbol", end=pl.col("close"))
    return (
        character.join(start_close, on="symbol")
        .join(end_close, on="symbol")
        .with_columns(
            change=pl.col("end") / pl.col("start") - 1,
            quintile=(pl.col(by).rank("ordinal") - 1) * 5 // pl.len(),
        )
        .group_by("quintile")
        .agg(pl.col("change").mean())
        .sort("quintile")
    )


def test_least_liquid_quintile_falls_more_in_the_crash(scenario_frames) -> None:
    # liquidity as an exit sees it: average daily amount (CNY) in Q4 2023
    result = _quintile_returns(scenario_frames, pl.date(2024, 1, 2), pl.date(2024, 2, 7), "amount")
    changes = result["change"].to_list()
    assert changes == sorted(changes)  # the less liquid, the deeper the fall
    assert changes[0] < changes[-1] - 0.2


def test_amount_rises_with_cap_and_turnover_falls_with_size(scenario_frames) -> None:
    month = scenario_frames["bars"].filter(
        pl.col("date").is_between(pl.date(2023, 5, 4), pl.date(2023, 6, 1)), ~pl.col("suspended")
    )
    averages = month.group_by("symbol").agg(
        cap=pl.col("float_cap").mean(), amount=pl.col("amount").mean()
    )
    ranks = averages.select(
        cap=pl.col("cap").rank(),
        amount=pl.col("amount").rank(),
        turnover=(pl.col("amount") / pl.col("cap")).rank(),
    )
    assert np.corrcoef(ranks["cap"], ranks["amount"])[0, 1] > 0.5
    # -0.2, not stronger: stock-level volume spells (bars.py) blur a month's size gradient
    assert np.corrcoef(ranks["cap"], ranks["turnover"])[0, 1] < -0.2


def test_market_amount_is_plausible(scenario_frames) -> None:
    daily = scenario_frames["bars"].group_by("date").agg(pl.col("amount").sum())
    assert 0.5e12 < daily["amount"].median() < 1.5e12
