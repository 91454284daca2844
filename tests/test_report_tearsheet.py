"""The tear sheet's figures: exact values on hand-made paths and books, twins in plain numpy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import BENCHMARK, small_market, two_books

from backtest.analytics.attribution import book_returns
from backtest.analytics.compare import benchmark_returns
from backtest.analytics.tearsheet import (
    period_returns,
    period_table,
    rolling_figures,
    worst_drawdowns,
)
from backtest.analytics.tearsheet_book import (
    exposures,
    holdings_concentration,
    pm_attribution,
    returns_pandas,
    top_holdings,
    trade_shortfall,
)
from backtest.core.ids import index_name
from backtest.engine import Benchmark, MarketData, Result

DAYS = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11)]


@pytest.fixture(scope="module")
def market() -> MarketData:
    return small_market()


@pytest.fixture(scope="module")
def results(market) -> dict[str, Result]:
    return two_books(market)


# ------------------------------------------------------------------ worst drawdowns
def test_worst_drawdowns_on_a_hand_made_path():
    # wealth 1.1, 0.99, 1.188, 1.3068, 1.04544, 1.149984, 1.3799808, 1.17298368: three
    # episodes (-10 % recovered in 2 sessions, -20 % recovered in 3, -15 % still under water)
    returns = [0.10, -0.10, 0.20, 0.10, -0.20, 0.10, 0.20, -0.15]
    table = worst_drawdowns(returns, DAYS)
    assert table.columns == ["peak", "trough", "recovery", "depth", "length_sessions", "recovered"]
    rows = table.rows(named=True)
    assert [round(r["depth"], 12) for r in rows] == [-0.2, -0.15, -0.1]
    deepest, open_one, first = rows
    assert (deepest["peak"], deepest["trough"], deepest["recovery"]) == (DAYS[3], DAYS[4], DAYS[6])
    assert deepest["length_sessions"] == 3 and deepest["recovered"]
    assert (open_one["peak"], open_one["trough"], open_one["recovery"]) == (DAYS[6], DAYS[7], None)
    assert open_one["length_sessions"] == 1 and not open_one["recovered"]
    assert (first["peak"], first["trough"], first["recovery"]) == (DAYS[0], DAYS[1], DAYS[2])
    assert first["length_sessions"] == 2


def test_worst_drawdowns_counts_the_initial_cash_as_the_first_peak():
    table = worst_drawdowns([-0.05, -0.05, 0.2], DAYS[:3])
    row = table.row(0, named=True)
    assert row["peak"] is None and row["trough"] == DAYS[1] and row["recovery"] == DAYS[2]
    assert row["depth"] == pytest.approx(0.95**2 - 1) and row["length_sessions"] == 3


def test_worst_drawdowns_keeps_the_five_deepest_and_is_empty_without_a_loss():
    saw = np.tile([-0.01, 0.02], 8) * np.repeat(np.arange(1, 9), 2)
    days = np.busday_offset(np.datetime64("2024-01-02"), np.arange(saw.size), roll="forward")
    table = worst_drawdowns(saw, days)
    assert table.height == 5
    assert table["depth"].to_list() == pytest.approx([-0.08, -0.07, -0.06, -0.05, -0.04])
    assert worst_drawdowns([0.01, 0.0, 0.02], DAYS[:3]).height == 0


# ------------------------------------------------------------------ monthly and yearly
def test_monthly_returns_compound_each_side_and_subtract():
    days = ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-03", "2024-02-01"]
    book = [0.10, 0.10, -0.10, 0.20, 0.05]
    index = [0.00, 0.05, 0.10, 0.00, -0.05]
    monthly = period_returns(days, book, index)
    assert monthly.select("year", "month", "sessions").rows() == [
        (2023, 12, 2),
        (2024, 1, 2),
        (2024, 2, 1),
    ]
    assert monthly["portfolio_return"].to_list() == pytest.approx([0.21, 0.08, 0.05])
    assert monthly["benchmark_return"].to_list() == pytest.approx([0.05, 0.10, -0.05])
    assert monthly["excess_return"].to_list() == pytest.approx([0.16, -0.02, 0.10])
    yearly = period_returns(days, book, index, period="year")
    assert yearly["portfolio_return"].to_list() == pytest.approx([0.21, 1.08 * 1.05 - 1])
    assert yearly["month"].null_count() == 2


@given(st.lists(st.floats(-0.09, 0.09), min_size=1, max_size=300))
def test_months_compound_to_their_year(returns):
    days = np.busday_offset(np.datetime64("2023-11-01"), np.arange(len(returns)), roll="forward")
    values = np.asarray(returns)
    monthly = period_returns(days, values, values / 2)
    yearly = period_returns(days, values, values / 2, period="year")
    for year, total in yearly.select("year", "portfolio_return").rows():
        months = monthly.filter(pl.col("year") == year)["portfolio_return"].to_numpy()
        assert np.prod(1 + months) - 1 == pytest.approx(total, abs=1e-12)


def test_period_table_lays_months_out_by_year_and_series():
    days = ["2023-12-29", "2024-01-02", "2024-03-01"]
    table = period_table(days, [0.1, 0.2, -0.1], [0.0, 0.1, 0.0])
    assert table.select("year", "series").rows() == [
        (2023, "book"),
        (2023, "benchmark"),
        (2023, "excess"),
        (2024, "book"),
        (2024, "benchmark"),
        (2024, "excess"),
    ]
    book_2024 = table.row(3, named=True)
    assert book_2024["Jan"] == pytest.approx(0.2) and book_2024["Mar"] == pytest.approx(-0.1)
    assert book_2024["Feb"] is None and book_2024["Dec"] is None
    assert book_2024["year_total"] == pytest.approx(1.2 * 0.9 - 1)
    assert table.row(5, named=True)["year_total"] == pytest.approx(0.08 - 0.1)


# ------------------------------------------------------------------ rolling figures
def _rolling_twin(book, index, window):
    out = {k: [] for k in ("volatility", "sharpe", "beta", "tracking_error")}
    for end in range(window, book.size + 1):
        p, b = book[end - window : end], index[end - window : end]
        out["volatility"].append(p.std(ddof=1) * np.sqrt(242))
        out["sharpe"].append(p.mean() / p.std(ddof=1) * np.sqrt(242))
        out["beta"].append(np.cov(p, b, ddof=1)[0, 1] / b.var(ddof=1))
        out["tracking_error"].append((p - b).std(ddof=1) * np.sqrt(242))
    return {k: np.asarray(v) for k, v in out.items()}


def test_rolling_figures_match_a_direct_numpy_computation():
    rng = np.random.default_rng(5)
    index = rng.normal(0.0, 0.012, 150)
    book = 1.2 * index + rng.normal(0.0004, 0.006, 150)
    figures = rolling_figures(book, index, window=60)
    twin = _rolling_twin(book, index, 60)
    for name, values in figures.items():
        assert np.all(np.isnan(values[:59])), name
        np.testing.assert_allclose(values[59:], twin[name], rtol=1e-10, err_msg=name)


def test_rolling_beta_is_missing_against_cash_and_sharpe_against_a_flat_book():
    figures = rolling_figures(np.full(10, 0.001), np.zeros(10), window=5)
    assert np.all(np.isnan(figures["beta"])) and np.all(np.isnan(figures["sharpe"]))
    assert figures["volatility"][4:] == pytest.approx(0.0, abs=1e-12)
    short = rolling_figures([0.01, 0.02], [0.0, 0.0], window=60)
    assert all(np.all(np.isnan(v)) for v in short.values())


# ------------------------------------------------------------------ holdings and exposures
def _hand_made_result(*, futures: list[float] | None = None) -> Result:
    days = DAYS[:3]
    daily = {
        "date": days,
        "equity": [100.0, 110.0, 90.0],
        "holdings_value": [80.0, 0.0, 180.0],
    }
    if futures is not None:
        daily["futures_notional"] = futures
    positions = pl.DataFrame(
        {
            "date": [days[0]] * 3 + [days[2]] * 2,
            "symbol": ["000001", "000002", "600000", "000001", "600000"],
            "shares": [100, 100, 100, 300, 100],
            "value": [40.0, 20.0, 20.0, 120.0, 60.0],
            "weight": [0.4, 0.2, 0.2, 120 / 90, 60 / 90],
        }
    )
    fills = pl.DataFrame(
        {
            "date": [days[0], days[0], days[1], days[1]],
            "symbol": ["000001", "000002", "000001", "600000"],
            "order_shares": [100, -200, -300, 100],
            "filled_shares": [100, -50, 0, 100],
            "reference_price": [2.0, 10.0, 4.0, float("nan")],
        }
    )
    empty = pl.DataFrame({"date": pl.Series([], dtype=pl.Date)})
    return Result(
        book="hand",
        strategy="Hand",
        params={},
        config={"initial_cash": 100.0},
        data_range={},
        config_hash="0" * 64,
        complete=True,
        daily=pl.DataFrame(daily),
        positions=positions,
        fills=fills,
        backlog=empty,
        status_counts=empty,
        benchmark=Benchmark.cash(),
    )


def test_exposures_of_an_unhedged_and_a_hedged_book():
    plain = exposures(_hand_made_result())
    assert plain["gross_exposure"].to_list() == pytest.approx([0.8, 0.0, 2.0])
    assert plain["net_exposure"].to_list() == pytest.approx([0.8, 0.0, 2.0])
    assert plain["hedge_ratio"].to_list() == [0.0, None, 0.0]
    hedged = exposures(_hand_made_result(futures=[-80.0, 0.0, -90.0]))
    assert hedged["gross_exposure"].to_list() == pytest.approx([1.6, 0.0, 3.0])
    assert hedged["net_exposure"].to_list() == pytest.approx([0.0, 0.0, 1.0])
    assert hedged["hedge_ratio"].to_list() == pytest.approx([1.0, None, 0.5])


def test_holdings_concentration_counts_names_top_share_and_effective_names():
    frame = holdings_concentration(_hand_made_result(), top=2)
    assert frame["holdings"].to_list() == [3, 0, 2]
    # shares 0.5, 0.25, 0.25: top two 0.75, effective names 1 / (0.25 + 2 * 0.0625) = 8/3
    assert frame["top_share"].to_list() == pytest.approx([0.75, None, 1.0])
    assert frame["effective_names"].to_list() == pytest.approx([8 / 3, None, 1 / (4 / 9 + 1 / 9)])


def test_top_holdings_lists_the_largest_positions_of_the_last_session():
    table = top_holdings(_hand_made_result(), count=1)
    assert table.rows() == [("000001", 300, 120.0, pytest.approx(120 / 90))]


def test_trade_shortfall_weighs_unfilled_orders_by_their_notional():
    frame = trade_shortfall(_hand_made_result())
    first, second, third = frame.rows(named=True)
    # day 1: bought 100 x 2 in full, sold 50 of 200 x 10: ordered 2200, filled 700
    assert first["ordered_cny"] == 2200.0 and first["filled_cny"] == 700.0
    assert first["unfilled_sell_cny"] == 1500.0 and first["unfilled_buy_cny"] == 0.0
    assert first["target_reached"] == pytest.approx(700 / 2200)
    # day 2: a locked sell of 300 x 4 and a buy without a price (counts 0)
    assert second["unfilled_sell_cny"] == 1200.0 and second["target_reached"] == 0.0
    assert third["ordered_cny"] == 0.0 and third["target_reached"] is None


# ------------------------------------------------------------------ attribution lines
def test_pm_attribution_sums_groups_and_keeps_the_identity():
    linked = pl.DataFrame(
        {
            "book": ["a"],
            "benchmark": ["000905"],
            "portfolio_return": [0.096],
            "benchmark_return": [0.04],
            "excess_return": [0.056],
            "allocation": [0.01],
            "selection": [0.05],
            "interaction": [-0.005],
            "benchmark replication": [0.001],
            "trading": [0.004],
            "costs": [-0.003],
            "hedge (index)": [0.002],
            "basis carry": [-0.001],
            "roll": [0.0],
            "financing": [-0.002],
            "other": [-0.0],
        }
    )
    lines = pm_attribution(linked)
    assert lines.columns == [
        "book",
        "benchmark",
        "portfolio_return",
        "benchmark_return",
        "excess_return",
        "stock selection",
        "trading",
        "costs",
        "hedge",
        "financing",
        "other",
    ]
    row = lines.row(0, named=True)
    assert row["stock selection"] == pytest.approx(0.055) and row["hedge"] == pytest.approx(0.001)
    assert row["other"] == pytest.approx(0.001)
    components = lines.drop("book", "benchmark", "portfolio_return", "benchmark_return")
    assert sum(components.row(0)[1:]) == pytest.approx(row["excess_return"])


# ------------------------------------------------------------------ pandas bridge
def test_returns_pandas_gives_the_book_and_its_benchmark_on_a_datetime_index(results, market):
    pd = pytest.importorskip("pandas")
    result = results["momentum"]
    returns, benchmark = returns_pandas(result, market)
    assert isinstance(returns.index, pd.DatetimeIndex) and returns.index.equals(benchmark.index)
    assert returns.name == "momentum" and benchmark.name == index_name(BENCHMARK) == "CSI 1000"
    np.testing.assert_array_equal(returns.to_numpy(), book_returns(result))
    np.testing.assert_array_equal(benchmark.to_numpy(), benchmark_returns(result, market))
    assert returns.index[0].date() == result.daily["date"][0]
    cash = result.replace(benchmark=Benchmark.cash())
    assert (returns_pandas(cash, market)[1] == 0.0).all()
