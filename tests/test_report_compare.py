"""compare(): every book side by side, one polars row each."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from report_fixtures import BENCHMARK, small_market, two_books

from backtest.analytics.attribution import book_returns
from backtest.analytics.compare import compare
from backtest.analytics.metrics import tracking_error
from backtest.engine import Benchmark, MarketData, Result


@pytest.fixture(scope="module")
def market() -> MarketData:
    return small_market()


@pytest.fixture(scope="module")
def results(market: MarketData) -> dict[str, Result]:
    return two_books(market)


@pytest.fixture(scope="module")
def headline(results, market) -> pl.DataFrame:
    return compare(results, market)


def test_compare_has_one_row_per_book_in_order(headline):
    assert headline["book"].to_list() == ["momentum", "random"]
    assert headline["strategy"].to_list() == ["Momentum", "RandomTargets"]
    assert headline["sessions"].to_list() == [60, 60]


def test_compare_returns_match_the_ledger_and_the_index(headline, results, market):
    closes = market.index_closes[BENCHMARK]
    benchmark = np.concatenate(([0.0], closes[1:] / closes[:-1] - 1.0))
    for row in headline.iter_rows(named=True):
        result = results[row["book"]]
        equity = result.daily["equity"].to_numpy()
        assert row["total_return"] == pytest.approx(equity[-1] / 1e7 - 1.0, abs=1e-14)
        assert row["benchmark_return"] == pytest.approx(closes[-1] / closes[0] - 1.0, abs=1e-14)
        assert row["excess_return"] == pytest.approx(
            row["total_return"] - row["benchmark_return"], abs=1e-15
        )
        assert row["tracking_error"] == pytest.approx(
            tracking_error(book_returns(result), benchmark)
        )


def test_window_excess_compounds_each_side_over_the_window(headline, results, market):
    dates = market.dates
    inside = (dates >= np.datetime64("2024-01-01")) & (dates <= np.datetime64("2024-02-07"))
    closes = market.index_closes[BENCHMARK]
    benchmark = np.concatenate(([0.0], closes[1:] / closes[:-1] - 1.0))[inside]
    for row in headline.iter_rows(named=True):
        portfolio = book_returns(results[row["book"]])[inside]
        expected = np.prod(1.0 + portfolio) - np.prod(1.0 + benchmark)
        assert row["excess_crash_2024"] == pytest.approx(expected, abs=1e-14)
        assert row["excess_2023"] is not None


def test_costs_by_kind_sum_to_the_ledger_costs(headline, results):
    for row in headline.iter_rows(named=True):
        daily = results[row["book"]].daily
        kinds = ("impact", "commission", "stamp_duty", "transfer_fee")
        for kind in kinds:
            assert row[f"{kind}_cny"] == pytest.approx(float(daily[kind].sum()))
        assert row["costs_cny"] == pytest.approx(sum(row[f"{k}_cny"] for k in kinds))
        assert row["cost_drag"] > 0.0


def test_sessions_that_could_not_trade_what_they_wanted_are_counted(headline, results):
    for row in headline.iter_rows(named=True):
        counts = results[row["book"]].status_counts
        locked = int(((counts["locked_limit_up"] + counts["locked_limit_down"]) > 0).sum())
        assert row["sessions_locked"] == locked > 0
        assert row["sessions_locked"] <= row["sessions_constrained"] <= row["sessions"]
        assert 0.0 < row["fill_rate"] < 1.0
        assert row["max_backlog_orders"] == results[row["book"]].daily["backlog_orders"].max()


def test_without_market_the_benchmark_columns_are_null(results):
    frame = compare(list(results.values()))
    assert frame["excess_return"].null_count() == 2
    assert frame["excess_crash_2024"].null_count() == 2
    assert frame["total_return"].null_count() == 0


def test_windows_without_sessions_are_null_and_benchmarks_can_differ(results, market):
    frame = compare(
        [results["momentum"], results["random"].replace(benchmark=Benchmark.cash())],
        market,
        windows={"2022": ("2022-01-01", "2022-12-31"), "all": ("2023-01-01", "2024-12-31")},
    )
    assert frame["excess_2022"].null_count() == 2
    random = frame.filter(pl.col("book") == "random").row(0, named=True)
    assert random["benchmark"] == "cash" and random["benchmark_return"] == 0.0
    assert random["excess_all"] == pytest.approx(random["total_return"], abs=1e-15)


def test_compare_refuses_duplicate_book_names(results):
    twin = results["random"].replace(book="momentum")
    with pytest.raises(ValueError, match="unique"):
        compare([results["momentum"], twin])
