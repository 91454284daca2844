"""A short IC hedge settled day by day from the store, through expiry and a roll at the settle."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest.engine.futures.fills import fill_futures_orders
from backtest.engine.futures.kernels import SETTLE_FINAL
from backtest.engine.futures.settlement import settle_session
from backtest.market.calendar import sessions
from backtest.market.futures_panel import FuturesPanel, futures_panel
from backtest.market.store import Store
from backtest.rules.cffex import FeeSchedule, MarginSchedule

DAYS = sessions("2024-02-01", "2024-02-21")  # IC2402 expires 2024-02-19 (after the holiday)
IC2402 = [5000.0, 4900.0, 4700.0, 4800.0, 4850.0, 4870.0, 4890.0]  # last: final settle
IC2403 = [4950.0, 4840.0, 4600.0, 4720.0, 4790.0, 4830.0, 4820.0, 4860.0, 4875.0]


@pytest.fixture
def panel() -> FuturesPanel:
    rows = []
    series = (("IC2402", IC2402, "2024-02-19"), ("IC2403", IC2403, "2024-03-15"))
    for contract, settles, expiry in series:
        for day, settle in zip(DAYS, settles, strict=False):
            rows.append((day, contract, settle, np.datetime64(expiry)))
    frame = pl.DataFrame(
        {
            "date": np.array([r[0] for r in rows]),
            "contract": [r[1] for r in rows],
            "product": "IC",
            "open": [r[2] + 2.0 for r in rows],
            "high": [r[2] + 10.0 for r in rows],
            "low": [r[2] - 10.0 for r in rows],
            "close": [r[2] for r in rows],
            "settle": [r[2] for r in rows],
            "volume": 1000,
            "open_interest": 5000,
            "expiry": np.array([r[3] for r in rows]),
        }
    )
    with Store(":memory:") as store:
        store.write("calendar", pl.DataFrame({"date": DAYS}), source="test")
        store.write("futures_bars", frame, source="test")
        return futures_panel(store.read("futures_bars"))


def test_short_hedge_settles_daily_to_the_final_price_and_rolls_at_the_settle(
    panel: FuturesPanel,
) -> None:
    columns = panel.columns(("IC2402", "IC2403"))
    multiplier = panel.multiplier[columns]
    fees = FeeSchedule().on("2024-02-01")
    rate = MarginSchedule().rates("IC", panel.dates)
    position = np.zeros(2, dtype=np.int64)
    variation_total = np.zeros(2)
    fee_total = 0.0
    # open 2 short IC2402 at the first session's open (1 tick of slippage)
    fills = fill_futures_orders(
        contracts=("IC2402", "IC2403"),
        orders=np.array([-2, 0]),
        reference_price=panel["open"][0, columns],
        held_overnight=position,
        fees=fees,
    )
    fee_total += fills.fee_cny.sum()
    traded, trade_price = fills.filled, np.nan_to_num(fills.fill_price, nan=0.0)
    expiry_row = int(np.flatnonzero(panel.dates == np.datetime64("2024-02-19"))[0])
    margins = []
    for t in range(len(panel.dates)):
        if t == expiry_row:  # roll: open the March contract at the expiry day's settle
            traded, trade_price = np.array([0, -2]), np.array([0.0, IC2403[t]])
        previous = panel["settle"][t - 1, columns] if t else np.full(2, np.nan)
        result = settle_session(
            contracts=("IC2402", "IC2403"),
            position_overnight=position,
            traded_today=traded,
            trade_price=trade_price,
            settle_previous=previous,
            settle_today=panel["settle"][t, columns],
            multiplier=multiplier,
            margin_rate=np.full(2, rate[t]),
            expiring=panel.expiry[columns] == panel.dates[t],
        )
        variation_total += result.variation_cny
        margins.append(result.margin_total_cny)
        position = result.position_after
        traded, trade_price = np.zeros(2, np.int64), np.zeros(2)
        if t == expiry_row:
            assert result.status.tolist() == [SETTLE_FINAL, 0]
            assert result.variation_cny[1] == 0.0  # opened at the settle: nothing to mark yet
            assert margins[-1] == pytest.approx(2 * 200 * IC2403[t] * 0.12)
    entry = 5002.0 - 0.2  # open 5002, sold one tick lower
    assert variation_total[0] == pytest.approx(-2 * 200 * (IC2402[-1] - entry))
    assert variation_total[1] == pytest.approx(-2 * 200 * (IC2403[-1] - IC2403[expiry_row]))
    assert position.tolist() == [0, -2]
    assert margins[0] == pytest.approx(2 * 200 * IC2402[0] * 0.12)
    assert fee_total == pytest.approx(2 * 200 * entry * 0.23e-4)


def test_panel_names_a_missing_contract() -> None:
    frame = pl.DataFrame(
        {
            "date": DAYS[:1],
            "contract": ["IC2402"],
            "expiry": np.array(["2024-02-19"], dtype="datetime64[D]"),
            "open": [1.0],
            "close": [1.0],
            "settle": [1.0],
            "open_interest": [1],
        }
    )
    with pytest.raises(ValueError, match="contract IM2403 is not in the futures panel"):
        futures_panel(frame).columns(["IM2403"])
