"""Attribution of real engine output: every decomposition adds up to the excess within 1e-10."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from engine_fixtures import RandomParams, RandomTargets, synthetic_market
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_fixtures import BENCHMARK, SMALL_MARKET_CONFIG, small_market, two_books

from backtest.analytics.attribution import (
    BookAttribution,
    attribute_book,
    attribute_books,
    book_returns,
)
from backtest.analytics.attribution_market import DEFAULT_WINDOWS, prepare_market
from backtest.analytics.compare import compare
from backtest.analytics.linking import AttributionIdentityError, component_columns
from backtest.engine import (
    Benchmark,
    Context,
    EngineConfig,
    MarketData,
    Result,
    Strategy,
    run_backtest,
)

TOLERANCE = 1e-10
KINDS = ("brinson", "brinson_by_bucket", "factors")


@pytest.fixture(scope="module")
def market() -> MarketData:
    return small_market()


@pytest.fixture(scope="module")
def results(market: MarketData) -> dict[str, Result]:
    return two_books(market)


@pytest.fixture(scope="module")
def attributions(results, market) -> dict[str, BookAttribution]:
    return attribute_books(results, market, config=SMALL_MARKET_CONFIG)


def _gap(frame: pl.DataFrame) -> float:
    total = frame.select(component_columns(frame)).to_numpy().sum(axis=1)
    return float(np.max(np.abs(frame["excess_return"].to_numpy() - total)))


def _frame(attribution: BookAttribution, kind) -> pl.DataFrame:
    return attribution.frame(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_every_daily_decomposition_of_engine_output_adds_up_within_1e10(attributions, kind):
    for attribution in attributions.values():
        frame = _frame(attribution, kind)
        assert frame.height == 60
        assert _gap(frame) <= TOLERANCE
        # the lines are itemised from the ledger: nothing is left unexplained
        assert float(frame["other"].abs().max()) <= TOLERANCE
        # and the books did trade, pay costs and hold stocks (the test is not vacuous)
        assert float(frame["impact"].min()) < 0.0 and float(frame["stamp_duty"].min()) < 0.0
        assert float(frame["trading"].abs().max()) > 1e-4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["carino", "frongello"])
def test_linked_windows_add_up_to_the_window_excess(attributions, results, market, kind, method):
    headline = compare(results, market)
    for name, attribution in attributions.items():
        linked = attribution.linked(kind=kind, method=method)
        assert linked["window"].to_list() == list(DEFAULT_WINDOWS)
        names = component_columns(linked.drop("window"))
        sums = linked.select(names).to_numpy().sum(axis=1)
        assert np.max(np.abs(linked["excess_return"].to_numpy() - sums)) <= TOLERANCE
        row = headline.filter(pl.col("book") == name)
        for label, excess in zip(linked["window"], linked["excess_return"], strict=True):
            assert excess == pytest.approx(row[f"excess_{label}"][0], abs=1e-12)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    market_seed=st.integers(0, 10_000),
    strategy_seed=st.integers(0, 10_000),
    gross=st.floats(0.3, 1.0),
    impact=st.floats(0.0, 2.0),
    lock_probability=st.floats(0.0, 0.3),
    benchmark=st.sampled_from([Benchmark.index(BENCHMARK), Benchmark.cash()]),
)
def test_any_engine_run_decomposes_exactly(
    market_seed, strategy_seed, gross, impact, lock_probability, benchmark
):
    market = synthetic_market(
        market_seed, days=25, n=12, lock_probability=lock_probability, start="2024-01-02"
    )
    strategy = RandomTargets(RandomParams(seed=strategy_seed, gross=gross))
    config = EngineConfig(initial_cash=2e6, impact_coefficient=impact)
    result = run_backtest(market, strategy, config=config).replace(benchmark=benchmark)
    attribution = attribute_book(result, market, config=SMALL_MARKET_CONFIG)
    for kind in KINDS:
        frame = attribution.frame(kind)
        assert _gap(frame) <= TOLERANCE
        assert float(frame["other"].abs().max()) <= TOLERANCE
        linked = attribution.linked({"all": ("2024-01-01", "2024-12-31")}, kind=kind)
        sums = linked.select(component_columns(linked.drop("window"))).to_numpy().sum(axis=1)
        assert abs(float(linked["excess_return"][0] - sums[0])) <= TOLERANCE


def test_portfolio_return_is_the_ledger_equity_return(attributions, results):
    for name, result in results.items():
        equity = result.daily["equity"].to_numpy()
        expected = equity / np.concatenate(([1e7], equity[:-1])) - 1.0
        got = attributions[name].brinson["portfolio_return"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(book_returns(result), got)


def test_start_of_day_weights_are_previous_close_holdings_over_previous_equity(
    attributions, results
):
    for name, result in results.items():
        weights = attributions[name].bucket_weights.filter(pl.col("bucket") != "cash")
        invested = weights.group_by("date", maintain_order=True).agg(
            pl.col("portfolio_weight").sum()
        )["portfolio_weight"]
        daily = result.daily
        expected = (daily["holdings_value"] / daily["equity"]).shift(1).fill_null(0.0)
        np.testing.assert_allclose(invested.to_numpy(), expected.to_numpy(), atol=1e-12)


def test_benchmark_return_follows_the_index_closes(attributions, market):
    closes = market.index_closes[BENCHMARK]
    expected = np.concatenate(([0.0], closes[1:] / closes[:-1] - 1.0))
    for attribution in attributions.values():
        got = attribution.brinson["benchmark_return"].to_numpy()
        np.testing.assert_allclose(got, expected, atol=1e-15)


class BuyOnce(Strategy[None]):
    """Targets half the book in the only stock at the first close, then holds."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index == 0:
            ctx.order_target_weights(np.array([0.5]))


def test_hand_checked_single_stock_trading_cost_and_brinson_lines():
    close = np.array([[10.0], [10.4], [10.2], [10.6]])
    market = MarketData.from_arrays(
        dates=["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01"],
        symbols=["600000"],
        close=close,
        open=np.array([[10.0], [10.1], [10.3], [10.5]]),
        volume=np.full((4, 1), 1e8),
        float_cap=np.full((4, 1), 1e10),
        amount=np.full((4, 1), 1e9),
        index_weights={BENCHMARK: np.ones((4, 1))},
        index_closes={BENCHMARK: close[:, 0] * 100.0},
    )
    config = EngineConfig(initial_cash=1e6, impact_coefficient=0.5)
    result = run_backtest(market, BuyOnce(None), config=config)
    attribution = attribute_book(
        result.replace(benchmark=Benchmark.index(BENCHMARK)), market, config=SMALL_MARKET_CONFIG
    )
    frame = attribution.brinson
    fill = result.fills.row(0, named=True)
    quantity, price = fill["filled_shares"], fill["fill_price"]
    # day 1: bought at the open; earns close - fill price, impact is inside the fill price
    assert frame["trading"][1] == pytest.approx((quantity * (10.4 - price) + fill["impact"]) / 1e6)
    assert frame["impact"][1] == pytest.approx(-fill["impact"] / 1e6)
    assert frame["commission"][1] == pytest.approx(-fill["commission"] / 1e6)
    # the book started in cash while the benchmark (the stock) rose 4 %: all allocation
    assert frame["selection"][1] == 0.0 and frame["allocation"][1] == pytest.approx(-0.04)
    # day 2: held from the close of day 1, weight = value / equity at that close
    equity_1 = result.daily["equity"][1]
    weight = quantity * 10.4 / equity_1
    stock_return = 10.2 / 10.4 - 1.0
    assert frame["trading"][2] == 0.0 and frame["impact"][2] == 0.0
    # the cash sleeve (1 - w) missed the stock's return: allocation (1 - w)(0 - r)
    assert frame["allocation"][2] == pytest.approx((1.0 - weight) * (0.0 - stock_return))
    assert frame["selection"][2] == pytest.approx(0.0, abs=1e-15)
    assert frame["benchmark_replication"].abs().max() < 1e-15
    assert _gap(frame) <= TOLERANCE


def test_corporate_action_fractions_are_itemised_so_nothing_is_left_over():
    close = np.array([[10.0], [10.4], [10.2], [9.9], [10.1]])
    adj_factor = np.array([[1.0], [1.0], [1.0], [1.03371], [1.03371]])
    market = MarketData.from_arrays(
        dates=["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"],
        symbols=["600000"],
        close=close,
        adj_factor=adj_factor,
        volume=np.full((5, 1), 1e8),
        index_weights={BENCHMARK: np.ones((5, 1))},
        index_closes={BENCHMARK: close[:, 0] * adj_factor[:, 0]},
    )
    result = run_backtest(market, BuyOnce(None), config=EngineConfig(initial_cash=1e6))
    shares = result.positions["shares"].to_list()
    assert shares[2] * 1.03371 != shares[3]  # the ledger rounded the scaled holding down
    frame = attribute_book(
        result.replace(benchmark=Benchmark.index(BENCHMARK)), market, config=SMALL_MARKET_CONFIG
    ).brinson
    assert frame["corporate_action"][3] != 0.0
    assert abs(frame["other"][3]) <= 1e-15
    assert _gap(frame) <= TOLERANCE


def _with_hedge_lines(result: Result, seed: int) -> Result:
    """Add futures and financing P&L columns (CNY) and put their cash into equity and cash."""
    rng = np.random.default_rng(seed)
    days = result.daily.height
    basis_carry = rng.normal(0.0, 5e3, days)
    roll = np.where(rng.random(days) < 0.1, rng.normal(-2e3, 1e3, days), 0.0)
    index_pnl = rng.normal(0.0, 5e4, days)
    financing = np.full(days, 300.0)  # a cost: positive CNY, as the engine books it
    futures_fees = np.where(rng.random(days) < 0.2, 50.0, 0.0)
    futures_pnl = index_pnl + basis_carry + roll
    cumulative = np.cumsum(futures_pnl - futures_fees - financing)
    daily = result.daily.with_columns(
        pl.col("equity") + cumulative,
        pl.col("cash") + cumulative,
        pl.Series("futures_pnl", futures_pnl),
        pl.Series("basis_carry", basis_carry),
        pl.Series("roll", roll),
        pl.Series("futures_fees", futures_fees),
        pl.Series("financing", financing),
    )
    booked = {
        "futures_index": index_pnl,
        "basis_carry": basis_carry,
        "roll": roll,
        "futures_fees": -futures_fees,
        "financing": -financing,
    }
    extra = pl.concat(
        [
            pl.DataFrame(
                {
                    "date": result.daily["date"],
                    "line": pl.Series([line] * days, dtype=pl.String),
                    "amount_cny": amounts,
                }
            )
            for line, amounts in booked.items()
        ]
    )
    return result.replace(daily=daily, entries=pl.concat([result.entries, extra]))


def test_hedge_and_financing_columns_become_lines_that_add_up(results, market):
    hedged = _with_hedge_lines(results["momentum"], seed=7)
    attribution = attribute_book(hedged, market, config=SMALL_MARKET_CONFIG)
    for kind in KINDS:
        frame = _frame(attribution, kind)
        assert {"hedge_index", "basis_carry", "roll", "futures_fees", "financing"} <= set(
            frame.columns
        )
        assert _gap(frame) <= TOLERANCE
        assert float(frame["other"].abs().max()) <= TOLERANCE
    frame = attribution.brinson
    previous_equity = np.concatenate(([1e7], hedged.daily["equity"].to_numpy()[:-1]))
    hedge = frame.select(pl.sum_horizontal("hedge_index", "basis_carry", "roll")).to_series()
    np.testing.assert_allclose(
        hedge.to_numpy(), hedged.daily["futures_pnl"].to_numpy() / previous_equity, atol=1e-15
    )
    np.testing.assert_allclose(frame["financing"].to_numpy(), -300.0 / previous_equity, rtol=1e-12)


def test_books_without_hedge_columns_have_no_hedge_lines(attributions):
    for attribution in attributions.values():
        assert not {"hedge_index", "basis_carry", "roll", "financing"} & set(attribution.line_names)


def test_pnl_the_ledger_does_not_itemise_is_refused_with_its_date(results, market):
    result = results["random"]
    bump = np.where(np.arange(result.daily.height) >= 10, 1_000.0, 0.0)
    broken = result.replace(
        daily=result.daily.with_columns(pl.col("equity") + bump, pl.col("cash") + bump)
    )
    day = result.daily["date"][10]
    with pytest.raises(AttributionIdentityError, match=str(day)):
        attribute_book(broken, market, config=SMALL_MARKET_CONFIG)


def test_cash_benchmark_earns_nothing_and_holds_nothing(results, market):
    in_cash = results["momentum"].replace(benchmark=Benchmark.cash())
    attribution = attribute_book(in_cash, market, config=SMALL_MARKET_CONFIG)
    assert float(attribution.brinson["benchmark_return"].abs().max()) == 0.0
    assert (
        float(
            attribution.bucket_weights.filter(pl.col("bucket") != "cash")["benchmark_weight"]
            .abs()
            .max()
        )
        == 0.0
    )
    assert _gap(attribution.factors) <= TOLERANCE


def test_benchmark_is_the_books_own_never_guessed_from_its_parameters(results, market):
    named = results["momentum"].replace(params={"benchmark": "000905"}, benchmark=None)
    with pytest.raises(ValueError, match="has no benchmark"):
        attribute_book(named, market, config=SMALL_MARKET_CONFIG)
    with pytest.raises(ValueError, match="has no benchmark"):
        compare([named], market)
    assert attribute_book(results["momentum"], market, config=SMALL_MARKET_CONFIG).benchmark == (
        BENCHMARK
    )


def test_a_series_benchmark_is_all_benchmark_replication_and_adds_up(results, market):
    dates = results["momentum"].daily["date"].to_list()
    returns = np.linspace(-0.01, 0.01, len(dates))
    series = Benchmark.from_returns("hurdle", dates, returns)
    measured = results["momentum"].replace(benchmark=series)
    attribution = attribute_book(measured, market, config=SMALL_MARKET_CONFIG)
    np.testing.assert_array_equal(attribution.brinson["benchmark_return"].to_numpy(), returns)
    np.testing.assert_allclose(attribution.lines["benchmark_replication"].to_numpy(), -returns)
    assert _gap(attribution.brinson) <= TOLERANCE
    row = compare([measured], market).row(0, named=True)
    assert row["benchmark"] == "hurdle"
    assert row["benchmark_return"] == pytest.approx(float(np.prod(1.0 + returns) - 1.0))


def test_unknown_benchmark_names_the_indices_the_market_has(results, market):
    with pytest.raises(KeyError, match="000852"):
        attribute_book(results["momentum"].replace(benchmark=Benchmark.index("000300")), market)


def test_partial_result_is_attributed_over_its_own_sessions(results, market):
    result = results["random"]
    last = result.daily["date"][19]
    partial = result.replace(
        complete=False,
        **{
            name: getattr(result, name).filter(pl.col("date") <= last)
            for name in ("daily", "positions", "fills", "backlog", "status_counts", "entries")
        },
    )
    inputs = prepare_market(market, SMALL_MARKET_CONFIG)
    attribution = attribute_book(partial, inputs)
    full = attribute_book(result, inputs)
    assert attribution.brinson.height == 20
    assert attribution.brinson.equals(full.brinson.head(20))


def test_unknown_frame_kind_lists_the_kinds(attributions):
    with pytest.raises(ValueError, match="brinson_by_bucket"):
        attributions["momentum"].frame("sectors")
