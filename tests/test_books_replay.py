"""The six books on the default scenario: the 2023 boom and the 2024-01-01..02-07 crash.

One replay (``backtest.replay.run_replay``) shared by every test of the module; the ranges are
the stories of DESIGN.md, not tuned to the digit.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from backtest.replay import CRASH_END, YEAR_END_2023, format_table, replay_table


@pytest.fixture(scope="module")
def replay(default_replay):
    market, results, benchmarks = default_replay
    table = replay_table(results, benchmarks, market)
    return market, results, {row["book"]: row for row in table.iter_rows(named=True)}, table


def _window(result, column: str) -> float:
    daily = result.daily.filter((pl.col("date") > YEAR_END_2023) & (pl.col("date") <= CRASH_END))
    return float(daily[column].sum())


def test_index_tracker_follows_its_benchmark(replay):
    _, _, rows, _ = replay
    assert abs(rows["tracker_csi500"]["excess_2023"]) < 0.02
    assert abs(rows["tracker_csi500"]["excess_crash"]) < 0.02


def test_microcap_book_gains_strongly_in_2023_and_loses_what_its_index_lost(replay):
    market, _, rows, _ = replay
    micro = rows["microcap"]
    assert micro["ret_2023"] > 0.25
    closes = market.index_closes["MICRO400"]
    dates = market.dates.tolist()
    index_crash = closes[dates.index(CRASH_END)] / closes[dates.index(YEAR_END_2023)] - 1.0
    assert index_crash < -0.3
    assert micro["ret_crash"] == pytest.approx(index_crash, abs=0.08)


@pytest.mark.parametrize("book", ["enhanced_csi500", "enhanced_csi1000"])
def test_enhanced_books_earn_excess_in_2023_and_lose_it_in_the_crash(replay, book):
    _, _, rows, _ = replay
    assert rows[book]["excess_2023"] > 0.05  # 2023 enhanced products earned about 10 %
    assert rows[book]["excess_crash"] < -0.05


def test_neutral_and_dma_draw_down_in_the_crash_from_excess_and_basis_dma_the_most(replay):
    _, results, rows, _ = replay
    neutral, dma = rows["neutral_ic"], rows["dma_ic"]
    assert neutral["ret_crash"] < -0.05
    assert dma["ret_crash"] < 2.0 * neutral["ret_crash"]
    assert dma["max_drawdown"] < neutral["max_drawdown"] < -0.05
    # the long basket lost against the index it was hedged with (the excess collapsed) ...
    assert rows["enhanced_csi500"]["excess_crash"] < -0.05
    # ... and the hedge's basis cost money over the window
    for book in ("neutral_ic", "dma_ic"):
        basis = _window(results[book], "basis_carry") + _window(results[book], "roll")
        assert basis < 0.0


def test_default_dma_book_meets_a_margin_call_in_the_crash(replay):
    _, results, _, _ = replay
    assert _window(results["dma_ic"], "margin_call") >= 1
    calls = results["dma_ic"].daily.filter(pl.col("margin_call") == 1.0)["date"]
    assert calls.min() >= dt.date(2024, 1, 2)


def test_replay_table_prints_every_book_with_units(replay):
    _, _, _, table = replay
    text = format_table(table)
    assert "CNY million" in text
    for book in ("tracker_csi500", "microcap", "neutral_ic", "dma_ic", "enhanced_csi1000"):
        assert book in text


def test_neutral_book_rolls_its_ic_hedge_on_the_real_calendar_roll_dates(replay):
    from backtest.market.calendar import sessions
    from backtest.rules.roll import RollRule, roll_schedule

    market, results, _, _ = replay
    plan = roll_schedule(
        RollRule(), "IC", sessions(str(market.dates[0]), "2025-06-30"), end=str(market.dates[-1])
    )
    expected = plan.filter(pl.col("is_roll"))["date"].to_list()
    rolled = results["neutral_ic"].daily.filter(pl.col("roll") != 0)["date"].to_list()
    assert rolled == expected
    assert len(rolled) == 8  # one roll a quarter, 5 sessions before the quarterly expiry
    assert dt.date(2024, 3, 8) in rolled
