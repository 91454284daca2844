"""Fill and ledger invariants checked through the whole engine on random small markets."""

from __future__ import annotations

import numpy as np
from engine_fixtures import RandomParams, RandomTargets, dense, synthetic_market
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import invariant_settings

from backtest.engine import Engine, EngineConfig, MarketData, Result

CASES = dict(
    seed=st.integers(0, 10**6),
    days=st.integers(4, 14),
    n=st.integers(2, 9),
    cash=st.sampled_from([2e4, 3e5, 5e6, 5e7]),
    cap=st.sampled_from([0.01, 0.1, 1.0]),
    execution=st.sampled_from(["open", "vwap"]),
)


def _run(seed, days, n, cash, cap, execution) -> tuple[MarketData, Result, EngineConfig]:
    market = synthetic_market(seed, days, n, lock_probability=0.2, suspend_probability=0.1)
    config = EngineConfig(initial_cash=cash, participation_cap=cap, execution_price=execution)
    strategy = RandomTargets(RandomParams(seed=seed, gross=1.0, change_probability=0.7))
    return market, Engine(config).run(market, {"random": strategy})["random"], config


def _start_positions(market: MarketData, result: Result) -> tuple[np.ndarray, np.ndarray]:
    """Positions after each session's close and at each session's start."""
    end = dense(result.positions, market, "shares").astype(np.int64)
    start = np.zeros_like(end)
    start[1:] = end[:-1]
    return start, end


@invariant_settings(30)
@given(**CASES)
def test_fills_never_exceed_order_cap_or_sellable(seed, days, n, cash, cap, execution):
    market, result, _ = _run(seed, days, n, cash, cap, execution)
    start, _ = _start_positions(market, result)
    filled = dense(result.fills, market, "filled_shares")
    ordered = dense(result.fills, market, "order_shares")
    volume = np.nan_to_num(market["volume"])
    assert np.all(np.abs(filled) <= np.abs(ordered))
    assert np.all(filled * ordered >= 0)
    assert np.all(np.abs(filled) <= np.floor(cap * volume))
    # shares bought today are never sold today: sells are bounded by the session's start position
    assert np.all(-np.minimum(filled, 0) <= start)


@invariant_settings(30)
@given(**CASES)
def test_fills_respect_lots_locks_and_suspensions(seed, days, n, cash, cap, execution):
    market, result, config = _run(seed, days, n, cash, cap, execution)
    start, _ = _start_positions(market, result)
    filled = dense(result.fills, market, "filled_shares").astype(np.int64)
    lot, min_lot = config.rules.lot_arrays(market.board_codes)
    features = market.features()
    buys, sells = filled > 0, filled < 0
    assert np.all((filled % lot)[buys] == 0)
    assert np.all(filled[buys] >= np.broadcast_to(min_lot, filled.shape)[buys])
    odd_sell = sells & ((-filled) % lot != 0)
    assert np.all(-filled[odd_sell] == start[odd_sell]), "odd lots only when selling out"
    assert not np.any(buys & features.locked_up)
    assert not np.any(sells & features.locked_down)
    assert not np.any((filled != 0) & market["suspended"])


@invariant_settings(30)
@given(**CASES)
def test_equity_is_cash_plus_holdings_and_moves_only_by_pnl_and_costs(
    seed, days, n, cash, cap, execution
):
    market, result, _ = _run(seed, days, n, cash, cap, execution)
    daily = result.daily
    mark = market.features().mark
    start, end = _start_positions(market, result)
    equity = daily["equity"].to_numpy()
    holdings = (end * mark).sum(axis=1)
    tolerance = 1e-9 * max(cash, float(np.max(np.abs(equity))))
    assert np.allclose(daily["cash"].to_numpy() + holdings, equity, rtol=0, atol=tolerance)
    assert np.all(daily["cash"].to_numpy() >= -tolerance)
    filled = dense(result.fills, market, "filled_shares")
    reference = dense(result.fills, market, "reference_price")
    previous_mark = np.zeros_like(mark)
    previous_mark[1:] = mark[:-1]
    traded_pnl = np.where(filled != 0, filled * (mark - reference), 0.0)
    price_pnl = (start * (mark - previous_mark)).sum(axis=1) + traded_pnl.sum(axis=1)
    costs = sum(daily[k].to_numpy() for k in ("impact", "commission", "stamp_duty", "transfer_fee"))
    previous_equity = np.concatenate([[cash], equity[:-1]])
    explained = previous_equity + price_pnl - costs
    assert np.allclose(equity, explained, rtol=0, atol=tolerance * 10)
    assert np.all(costs >= 0)
