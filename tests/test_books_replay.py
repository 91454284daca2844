"""The six books on the default scenario: the 2023 boom and the 2024-01-01..02-07 crash.

One replay (``backtest.apps.replay.run_replay``) shared by every test of the module; the ranges are
the stories of DESIGN.md, not tuned to the digit.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from backtest.analytics.compare import compare
from backtest.apps.replay import CRASH_END, YEAR_END_2023, default_books, format_table, replay_table
from backtest.core.ids import CSI500, CSI1000, MICROCAP
from backtest.engine import Benchmark
from backtest.runs import RunStore

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def replay(default_replay):
    market, results = default_replay
    table = replay_table(results, market)
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
    _, results, rows, table = replay
    assert _window(results["dma_ic"], "margin_call") >= 1
    calls = results["dma_ic"].daily.filter(pl.col("margin_call") == 1.0)["date"]
    assert calls.min() >= dt.date(2024, 1, 2)
    assert rows["dma_ic"]["first_margin_call"] == calls.min()
    assert rows["dma_ic"]["margin_call_sessions"] == calls.len()
    assert str(calls.min()) in format_table(table)


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


def test_every_built_in_book_declares_its_benchmark():
    declared = {book.name: book.benchmark for book in default_books()}
    assert declared == {
        "tracker_csi500": Benchmark.index(CSI500),
        "microcap": Benchmark.index(MICROCAP),
        "enhanced_csi500": Benchmark.index(CSI500),
        "enhanced_csi1000": Benchmark.index(CSI1000),
        "neutral_ic": Benchmark.cash(),
        "dma_ic": Benchmark.cash(),
    }
    # the strategies declare the same by themselves (a Book without its own benchmark)
    for book in default_books():
        assert book.strategy.benchmark() == book.benchmark


def test_a_saved_microcap_book_is_measured_against_the_microcap_index(replay, tmp_path):
    market, results, rows, _ = replay
    with RunStore(tmp_path / "runs.duckdb") as runs:
        runs.save("crash", {"microcap": results["microcap"]})
        loaded = runs.load("crash").results["microcap"]
    assert loaded.benchmark == Benchmark.index(MICROCAP)  # not CSI 500, as once guessed
    row = compare([loaded], market).row(0, named=True)
    closes = market.index_closes[MICROCAP]
    assert row["benchmark"] == MICROCAP
    assert row["benchmark_return"] == pytest.approx(closes[-1] / closes[0] - 1.0, abs=1e-12)
    assert row["excess_2023"] == rows["microcap"]["excess_2023"]
    assert abs(row["excess_2023"]) < 0.1  # against CSI 500 it showed about +54 %


def test_replay_compare_and_summary_share_one_excess_and_one_drawdown(replay):
    market, results, rows, _ = replay
    for row in compare(results, market).iter_rows(named=True):
        table = rows[row["book"]]
        assert table["benchmark"] == row["benchmark"]
        assert table["excess_2023"] == row["excess_2023"]
        assert table["excess_crash"] == row["excess_crash_2024"]
        assert table["max_drawdown"] == row["max_drawdown"]
        assert f"max drawdown {row['max_drawdown']:.2%}" in results[row["book"]].summary()


def _percent(cell: str) -> float:
    return float(re.match(r"[+−-]?\d+\.\d", cell).group().replace("−", "-")) / 100.0


def test_the_readme_replay_figures_are_the_replays(replay):
    _, _, rows, _ = replay
    books = {
        "enhanced CSI 500": "enhanced_csi500",
        "enhanced CSI 1000": "enhanced_csi1000",
        "market-neutral (IC)": "neutral_ic",
        "DMA (IC, 4x)": "dma_ic",
    }
    checked = 0
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in books:
            row = rows[books[cells[0]]]
            figures = (row["excess_2023"], row["excess_crash"], row["max_drawdown"])
            for cell, value in zip(cells[1:], figures, strict=True):
                assert _percent(cell) == pytest.approx(round(value, 3), abs=1e-9), cells
            checked += 1
    assert checked == len(books)
