"""The ledger's entries: every session's lines sum to its equity change, for every kind of book.

Entries (:mod:`backtest.core.lines`) are booked by the engine as cash moves and at the close;
attribution reads them. These tests hold the identity ``E_t - E_{t-1} = sum(entries_t)`` on the
golden books (unhedged, market-neutral, DMA with a margin call), on a corporate action that pays
out fractional shares, and hold each line equal to the daily column it mirrors.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets, synthetic_market
from test_engine_golden_hedged import _basket, hedged_market

from backtest.core.lines import LINES, Line
from backtest.engine import Book, Engine, EngineConfig, FinancingConfig, MarketData, Result
from backtest.engine.strategy import Context, Strategy
from strategies.hedged import DMA, DMAParams, DrawdownStop, MarketNeutral, MarketNeutralParams

#: round-off allowed in the identity, relative to the book's equity (sums of a few thousand
#: products of ~1e6 CNY; measured worst case about 1e-15)
RELATIVE_ROUND_OFF = 1e-12


def _identity_error(result: Result, initial_cash: float) -> np.ndarray:
    lines = result.entries_by_line()
    total = np.sum([lines[line.label] for line in LINES], axis=0)
    equity = result.daily["equity"].to_numpy()
    change = np.diff(np.concatenate(([initial_cash], equity)))
    return np.abs(total - change) / np.maximum(np.abs(equity), initial_cash)


@pytest.fixture(scope="module")
def golden_books() -> dict[str, tuple[Result, float]]:
    market = synthetic_market(20240205, days=40, n=30)
    plain = Engine(EngineConfig(initial_cash=2e7)).run(
        market,
        {
            "momentum": Momentum(MomentumParams(lookback=5, top=8)),
            "random": RandomTargets(RandomParams(seed=5)),
        },
    )
    hedged = Engine(EngineConfig(initial_cash=1e8)).run(
        hedged_market(),
        [
            Book(
                name="neutral",
                strategy=MarketNeutral(
                    MarketNeutralParams(
                        enhanced=_basket("000852"),
                        futures_product="IM",
                        long_gross=0.8,
                        drawdown_stop=DrawdownStop(drawdown=0.03),
                    )
                ),
            ),
            Book(
                name="dma",
                strategy=DMA(
                    DMAParams(
                        enhanced=_basket("000905"),
                        futures_product="IC",
                        leverage=4.0,
                        financing=FinancingConfig(financing_rate=0.06, maintenance_ratio=0.2),
                    )
                ),
                initial_cash=3e7,
            ),
        ],
    )
    return {
        "momentum": (plain["momentum"], 2e7),
        "random": (plain["random"], 2e7),
        "neutral": (hedged["neutral"], 1e8),
        "dma": (hedged["dma"], 3e7),
    }


@pytest.mark.parametrize("book", ["momentum", "random", "neutral", "dma"])
def test_entries_sum_to_the_equity_change_every_session(golden_books, book):
    result, initial_cash = golden_books[book]
    assert result.entries.height > 0
    assert float(_identity_error(result, initial_cash).max()) < RELATIVE_ROUND_OFF


@pytest.mark.parametrize("book", ["momentum", "random", "neutral", "dma"])
def test_cost_lines_are_the_daily_costs_booked_as_losses(golden_books, book):
    result, _ = golden_books[book]
    lines = result.entries_by_line()
    for line in (Line.IMPACT, Line.COMMISSION, Line.STAMP_DUTY, Line.TRANSFER_FEE):
        np.testing.assert_array_equal(lines[line.label], -result.daily[line.label].to_numpy())


@pytest.mark.parametrize("book", ["neutral", "dma"])
def test_futures_and_financing_lines_mirror_the_hedge_columns(golden_books, book):
    result, _ = golden_books[book]
    lines = result.entries_by_line()
    daily = result.daily
    np.testing.assert_array_equal(lines["basis_carry"], daily["basis_carry"].to_numpy())
    np.testing.assert_array_equal(lines["roll"], daily["roll"].to_numpy())
    np.testing.assert_array_equal(lines["futures_fees"], -daily["futures_fees"].to_numpy())
    np.testing.assert_array_equal(lines["financing"], -daily["financing"].to_numpy())
    futures = lines["futures_index"] + lines["basis_carry"] + lines["roll"]
    np.testing.assert_allclose(futures, daily["futures_pnl"].to_numpy(), rtol=0, atol=1e-6)
    assert np.any(lines["roll"] != 0.0) and np.any(lines["basis_carry"] != 0.0)


def test_dma_financing_and_forced_sales_are_in_the_entries(golden_books):
    result, _ = golden_books["dma"]
    lines = result.entries_by_line()
    assert float(lines["financing"].sum()) < 0.0
    assert result.daily["margin_call"].sum() > 0


class _HoldOddLot(Strategy[None]):
    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index == 0:
            ctx.order_target_shares({"600000": 10_100, "000001": 3_300})


def test_corporate_action_pays_fractions_in_cash_and_keeps_the_identity():
    # a 1.15 share ratio on session 2 (e.g. 1.5 bonus shares per 10): 10,100 -> 11,615 whole
    # shares of 600000 and 3,300 -> 3,794.99... -> 3,794 of 000001 with the fraction in cash
    dates = ["2024-02-05", "2024-02-06", "2024-02-07", "2024-02-08"]
    close = np.array([[10.0, 20.0], [10.0, 20.0], [8.7, 17.4], [8.8, 17.0]])
    market = MarketData.from_arrays(
        dates=dates,
        symbols=["600000", "000001"],
        close=close,
        volume=np.full((4, 2), 1e8),
        adj_factor=np.array([[1.0, 1.0], [1.0, 1.0], [1.15, 1.15], [1.15, 1.15]]),
    )
    config = EngineConfig(initial_cash=1e6, impact_coefficient=0.0)
    result = Engine(config).run(market, {"hold": _HoldOddLot(None)})["hold"]
    lines = result.entries_by_line()
    assert lines["corporate_action"][2] != 0.0
    assert abs(float(lines["corporate_action"][2])) < 20.0  # the fraction's move, a few CNY
    assert float(_identity_error(result, 1e6).max()) < RELATIVE_ROUND_OFF
    shares = result.positions.filter(pl.col("date") == pl.date(2024, 2, 7))["shares"].to_list()
    assert sorted(shares) == [3794, 11615]


def test_entries_round_trip_through_save_and_load(tmp_path, golden_books):
    result, _ = golden_books["dma"]
    path = tmp_path / "runs.duckdb"
    result.save(str(path), "r1")
    loaded = Result.load(str(path), "r1")
    assert loaded.entries.equals(result.entries)
    assert loaded.equals(result)
