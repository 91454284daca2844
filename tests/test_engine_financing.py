"""Broker financing in the engine: interest, margin calls, forced and blocked liquidation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hedge_fixtures import ShortFutures, ShortParams, futures_market

from backtest.engine import Engine, EngineConfig, FinancingConfig

CRASH = "2024-01-22"


def _run(market, *, long_weight=3.0, contracts=0, **financing):
    params = ShortParams(
        contracts=contracts, long_weight=long_weight, financing=FinancingConfig(**financing)
    )
    strategy = ShortFutures(params)
    result = Engine(EngineConfig(initial_cash=1e8)).run(market, {"dma": strategy})["dma"]
    return strategy, result


def _positions(result, day: str) -> dict[str, int]:
    rows = result.positions.filter(pl.col("date") == pl.lit(day).str.to_date())
    return dict(zip(rows["symbol"], rows["shares"], strict=True))


def test_financing_accrues_on_borrowed_cash_per_calendar_day_365_basis():
    market = futures_market()
    _, result = _run(market, long_weight=2.5, contracts=-20, financing_rate=0.06)
    daily = result.daily
    cash = daily["cash"].to_numpy()
    margin = daily["margin_required"].to_numpy()
    days = np.diff(market.dates).astype(np.int64)
    borrowed = np.maximum(margin[:-1] - cash[:-1], 0.0)
    np.testing.assert_allclose(
        daily["financing"].to_numpy()[1:], borrowed * 0.06 * days / 365.0, rtol=1e-12
    )
    assert daily["financing"][0] == 0.0
    assert borrowed[5] > 1e8  # 2.5x: the broker lends about 1.5x equity (plus margin)


def test_equity_change_is_stock_pnl_plus_futures_pnl_minus_costs_and_financing():
    market = futures_market()
    _, result = _run(market, long_weight=2.5, contracts=-20)
    daily = result.daily
    fills = result.fills.group_by("date").agg(
        (pl.col("filled_shares") * pl.col("fill_price")).sum().alias("bought"),
    )
    frame = daily.join(fills, on="date", how="left").fill_null(0.0)
    equity = frame["equity"].to_numpy()
    holdings = frame["holdings_value"].to_numpy()
    stock_pnl = np.diff(np.concatenate([[0.0], holdings])) - frame["bought"].to_numpy()
    costs = sum(frame[k].to_numpy() for k in ("commission", "stamp_duty", "transfer_fee"))
    flows = frame["futures_pnl"] - frame["futures_fees"] - frame["financing"]
    change = np.diff(np.concatenate([[1e8], equity]))
    np.testing.assert_allclose(change, stock_pnl - costs + flows.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(equity, frame["cash"] + frame["holdings_value"], atol=1e-6)


def test_margin_call_when_equity_falls_below_maintenance():
    market = futures_market(crash_day=CRASH, crash_return=-0.2)
    _, result = _run(market, maintenance_ratio=0.18)
    daily = result.daily
    calls = daily.filter(pl.col("margin_call") == 1.0)["date"].cast(pl.String).to_list()
    assert calls[0] == CRASH
    before = daily.filter(pl.col("date") < pl.lit(CRASH).str.to_date())
    assert (before["margin_call"] == 0.0).all()
    row = daily.filter(pl.col("date") == pl.lit(CRASH).str.to_date())
    assert float(row["equity"][0] / row["holdings_value"][0]) < 0.18


@pytest.mark.parametrize("crash_return", [-0.15, -0.2, -0.25])
def test_gross_exposure_is_within_the_limit_after_a_call_when_sales_can_fill(crash_return):
    market = futures_market(crash_day=CRASH, crash_return=crash_return)
    _, result = _run(market, maintenance_ratio=0.2, target_leverage=3.0)
    daily = result.daily
    after = daily.filter(pl.col("date") > pl.lit(CRASH).str.to_date())
    assert daily.filter(pl.col("date") == pl.lit(CRASH).str.to_date())["margin_call"][0] == 1.0
    assert after["gross_exposure"][0] <= 4.0
    if crash_return > -0.25:  # at -25 % the costs of the sales eat much of the thin equity
        assert after["gross_exposure"][0] == pytest.approx(3.0, abs=0.15)
    # every call is followed by a session at or below the limit (the forced sales filled)
    calls = np.flatnonzero(daily["margin_call"].to_numpy() == 1.0)
    gross = daily["gross_exposure"].to_numpy()
    assert (gross[calls[calls + 1 < gross.size] + 1] <= 4.0).all()


def test_blocked_liquidation_leaves_positions_unchanged_during_the_call():
    market = futures_market(crash_day=CRASH, crash_return=-0.2)
    _, result = _run(market, maintenance_ratio=0.18, block_liquidation=True)
    daily = result.daily
    in_call = daily.filter(pl.col("margin_call") == 1.0)["date"].cast(pl.String).to_list()
    assert len(in_call) >= 3
    held = _positions(result, in_call[0])
    for day in in_call[1:]:
        assert _positions(result, day) == held
    assert result.fills.filter(pl.col("date") > pl.lit(CRASH).str.to_date()).height == 0


def test_forced_sales_wait_in_the_backlog_while_the_stocks_are_limit_locked():
    market = futures_market(crash_day=CRASH, crash_return=-0.2, locked_after_crash=True)
    _, result = _run(market, maintenance_ratio=0.18)
    days = market.dates.astype(str).tolist()
    t = days.index(CRASH)
    held = _positions(result, CRASH)
    assert _positions(result, days[t + 2]) == held  # locked for three sessions: nothing sold
    later = _positions(result, days[t + 4])
    assert all(later[s] < held[s] for s in held)
    assert result.daily["backlog_orders"][t + 1] == len(held)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_gross_leverage", 0.5, "max_gross_leverage must be in"),
        ("financing_rate", 0.5, "financing_rate must be in"),
        ("maintenance_ratio", 0.3, "maintenance_ratio must be in"),
        ("target_leverage", 5.0, "target_leverage must be in"),
    ],
)
def test_financing_config_refuses_out_of_range_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        FinancingConfig(**{field: value})
