"""The replay table on small runs: windows the run does not cover are blank with the reason,
never +nan; the legend names every column."""

from __future__ import annotations

import math
import re

import pytest
from engine_fixtures import synthetic_market
from report_fixtures import small_market, two_books

from backtest.analytics.compare import compare
from backtest.apps.replay import LEGEND, format_table, replay_table


@pytest.fixture(scope="module")
def full():
    market = small_market()  # 2023-12-01 .. 2024-02-22: both windows hold sessions
    results = two_books(market)
    return market, results, replay_table(results, market)


@pytest.fixture(scope="module")
def late():
    market = synthetic_market(3, days=30, n=30, start="2024-01-03")  # after the crash opened
    results = two_books(market)
    return market, results, replay_table(results, market)


def test_replay_table_carries_size_volatility_sharpe_and_ir_as_compare(full):
    market, results, table = full
    headline = {row["book"]: row for row in compare(results, market).iter_rows(named=True)}
    for row in table.iter_rows(named=True):
        other = headline[row["book"]]
        assert row["size_cny"] == other["start_equity_cny"] == 1e7
        assert row["volatility"] == other["annualised_volatility"]
        assert row["sharpe"] == other["sharpe_ratio"]
        assert row["information_ratio"] == other["information_ratio"]
        assert row["margin_call_sessions"] == 0 and row["first_margin_call"] is None


def test_a_window_starting_before_the_run_is_blank_with_its_reason(full, late):
    _, _, table = full
    row = table.row(0, named=True)
    # the run starts 2023-12-01: 2023 opened on 2023-01-03 without it; the crash is covered
    assert (
        math.isnan(row["excess_2023"])
        and "after the window opened on 2023-01-03" in (row["gap_2023"])
    )
    assert math.isfinite(row["excess_crash"]) and row["gap_crash"] is None
    _, _, later = late
    row = later.row(0, named=True)
    assert row["gap_2023"].startswith("no session of the run in 2023-01-01..2023-12-29")
    assert row["gap_crash"] == "the run starts 2024-01-03, after the window opened on 2024-01-02"
    text = format_table(later)
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
    assert "crash left blank: the run starts 2024-01-03" in text
    assert "2023 left blank: no session of the run" in text


def test_replay_table_text_has_a_legend_and_benchmark_names(full):
    _, _, table = full
    text = format_table(table)
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["book", "bench", "size", "total"]
    assert "CSI 1000" in lines[3] and "000852" not in text
    for line in LEGEND:
        assert line in text
    for abbreviation in ("xs", "commis", "financ", "vol", "IR", "calls", "first call"):
        assert abbreviation in " ".join(LEGEND)
