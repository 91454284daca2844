"""The ledger and the backlog on hand cases: fills, T+1, corporate actions, order states."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine import Backlog, Ledger, PortfolioView, TargetOrder
from backtest.engine.ledger_nb import (
    BacklogArrays,
    FillRecords,
    LedgerArrays,
    SessionFillRow,
    apply_session_nb,
)


def _book(ledger: Ledger, backlog: Backlog, orders, filled, price, session_index=3):
    """Run apply_session_nb for hand arrays (impact 1, commission 5, transfer 0.1 per order)."""
    n = len(orders)
    orders = np.array(orders, dtype=np.int64)
    stamp = np.array([0.5 if f < 0 else 0.0 for f in filled])
    rows_int = np.zeros((4, n), dtype=np.int64)
    rows_float = np.zeros((6, n))
    rows_status = np.zeros(n, dtype=np.int8)
    lines = np.zeros(7)
    row_end, cash_delta = apply_session_nb(
        session_index,
        SessionFillRow(
            order_shares=orders,
            reference_price=np.array(price, dtype=float),
            filled_shares=np.array(filled, dtype=np.int64),
            fill_price=np.array(price, dtype=float),
            impact=np.where(orders != 0, 1.0, 0.0),
            commission=np.where(orders != 0, 5.0, 0.0),
            stamp_duty=stamp,
            transfer_fee=np.where(orders != 0, 0.1, 0.0),
            status=np.ones(n, dtype=np.int8),
        ),
        LedgerArrays(ledger.positions, ledger.sellable, ledger.traded),
        BacklogArrays(backlog.target_shares, backlog.active, backlog.age),
        FillRecords(rows_int, rows_float, rows_status),
        0,
        lines,
    )
    return ledger.book_session(cash_delta, lines), rows_int[:, :row_end]


def _target(backlog: Backlog, shares, held, session_index=0):
    backlog.replace(
        TargetOrder(
            session_index=session_index,
            target_shares=np.array(shares),
            is_set=np.ones(len(shares), dtype=bool),
        ),
        held,
    )


def test_fills_move_cash_positions_sellable_and_cost_lines():
    ledger = Ledger(n=2, cash=100_000.0)
    ledger.positions[:] = [0, 1000]
    ledger.unlock()
    backlog = Backlog(2)
    _target(backlog, [500, 700], ledger.positions)
    lines, rows = _book(ledger, backlog, [500, -300], [500, -300], [10.0, 20.0])
    assert ledger.positions.tolist() == [500, 700]
    assert ledger.sellable.tolist() == [0, 700]  # today's buy is not sellable (T+1)
    assert ledger.cash == pytest.approx(100_000 - 5_000 + 6_000 - 10.0 - 0.5 - 0.2)
    assert lines["buy_notional"] == 5_000 and lines["sell_notional"] == 6_000
    assert ledger.costs == {
        "impact": 2.0,
        "commission": 10.0,
        "stamp_duty": 0.5,
        "transfer_fee": 0.2,
    }
    assert rows.tolist() == [[3, 3], [0, 1], [500, -300], [500, -300]]
    assert not backlog.active.any()
    ledger.unlock()
    assert ledger.sellable.tolist() == [500, 700]


def test_equity_is_cash_plus_marked_holdings():
    ledger = Ledger(n=2, cash=1_000.0)
    ledger.positions[:] = [100, 200]
    assert ledger.equity(np.array([2.0, 3.0])) == 1_000.0 + 200.0 + 600.0


def test_share_ratio_scales_positions_and_pays_the_fraction_in_cash():
    ledger = Ledger(n=2, cash=0.0)
    ledger.positions[:] = [1000, 333]
    ledger.unlock()
    cash = ledger.apply_share_ratio(np.array([2.0, 1.5]), np.array([10.0, 9.0]))
    assert ledger.positions.tolist() == [2000, 499]
    assert ledger.sellable.tolist() == [2000, 499]
    assert cash == pytest.approx(0.5 * 9.0 / 1.5)
    assert ledger.cash == pytest.approx(cash)


def test_backlog_keeps_unfilled_targets_ages_them_and_retires_reached_ones():
    ledger = Ledger(n=3, cash=1e6)
    ledger.positions[:] = [0, 500, 200]
    ledger.unlock()
    backlog = Backlog(3)
    _target(backlog, [300, 0, 200], ledger.positions)
    assert backlog.active.tolist() == [True, True, False]  # already at target: nothing to do
    sent = backlog.orders(ledger.positions)
    assert sent.tolist() == [300, -500, 0]
    _book(ledger, backlog, sent, [300, -200, 0], [10.0, 10.0, 10.0])  # sell partly filled
    assert backlog.active.tolist() == [False, True, False]
    assert backlog.age.tolist() == [0, 1, 0]
    assert backlog.remaining(ledger.positions).tolist() == [0, -300, 0]
    backlog.replace(
        TargetOrder(
            session_index=1,
            target_shares=np.array([0, 100, 0]),
            is_set=np.array([False, True, False]),
        ),
        ledger.positions,
    )
    assert backlog.age.tolist() == [0, 0, 0]
    assert backlog.remaining(ledger.positions).tolist() == [0, -200, 0]
    backlog.cancel(np.array([False, True, False]))
    assert not backlog.active.any()


def test_target_order_is_immutable_and_refuses_negative_shares():
    order = TargetOrder(
        session_index=0, target_shares=np.array([1, 2]), is_set=np.array([True, True])
    )
    with pytest.raises(ValueError, match="read-only"):
        order.target_shares[0] = 5
    with pytest.raises(ValueError, match=">= 0"):
        TargetOrder(session_index=0, target_shares=np.array([-1]), is_set=np.array([True]))


def test_portfolio_view_weights_and_read_only_arrays():
    ledger = Ledger(n=2, cash=500.0)
    ledger.positions[:] = [100, 0]
    view = PortfolioView.of(ledger, np.array([5.0, 7.0]), np.zeros(2, dtype=np.int64))
    assert view.equity == 1_000.0 and view.weights.tolist() == [0.5, 0.0]
    with pytest.raises(ValueError, match="read-only"):
        view.positions[0] = 0
    ledger.positions[0] = 0
    assert view.positions[0] == 100  # a snapshot, not a live view
