"""Bookkeeping kernels of the engine's hot path, each with a plain-Python twin.

``*_nb`` functions take arrays and scalars and return arrays (vectorbt's kernel habit); the
``*_py`` twin does the same float operations in the same order, and a hypothesis test holds
them equal to the bit (tests/test_ledger_kernels.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class SessionFillRow(NamedTuple):
    """One book's row of a session's fills (arrays of length ``n``, from the Exchange)."""

    order_shares: np.ndarray
    reference_price: np.ndarray
    filled_shares: np.ndarray
    fill_price: np.ndarray
    impact: np.ndarray
    commission: np.ndarray
    stamp_duty: np.ndarray
    transfer_fee: np.ndarray
    status: np.ndarray


class LedgerArrays(NamedTuple):
    """A book's stock positions, T+1 sellable shares and the session's traded shares.

    ``int64[n]`` each, updated in place; ``out_traded`` is zeroed by the ledger before each
    session and summed by :func:`apply_session_nb` (signed shares filled this session).
    """

    out_positions: np.ndarray
    out_sellable: np.ndarray
    out_traded: np.ndarray


class BacklogArrays(NamedTuple):
    """A book's backlog: targets (read), active flags and ages (updated in place)."""

    target_shares: np.ndarray
    out_active: np.ndarray
    out_age: np.ndarray


class FillRecords(NamedTuple):
    """The recorder's fill buffers: ``int64[4, cap]``, ``float64[6, cap]``, ``int8[cap]``."""

    out_int: np.ndarray
    out_float: np.ndarray
    out_status: np.ndarray


class SettleRows(NamedTuple):
    """Where one close is recorded: the dense positions row and the sparse backlog rows.

    ``out_backlog`` is ``int64[4, capacity]`` (session, symbol, remaining shares, age), written
    from column ``row_start`` on (the caller guarantees ``n`` free columns).
    """

    out_positions: np.ndarray
    out_backlog: np.ndarray
    row_start: int


@njit(cache=True)
def holdings_value_nb(positions: np.ndarray, mark: np.ndarray) -> float:
    """``sum(positions[i] * mark[i])`` over held symbols, summed in index order (CNY)."""
    total = 0.0
    for i in range(positions.shape[0]):
        if positions[i] != 0:
            total += positions[i] * mark[i]
    return total


def holdings_value_py(positions: np.ndarray, mark: np.ndarray) -> float:
    """Plain-Python twin of :func:`holdings_value_nb`."""
    total = 0.0
    for i in range(positions.shape[0]):
        if positions[i] != 0:
            total += float(positions[i]) * float(mark[i])
    return total


@njit(cache=True)
def apply_session_nb(
    session_index: int,
    fills: SessionFillRow,
    ledger: LedgerArrays,
    backlog: BacklogArrays,
    records: FillRecords,
    row_start: int,
    out_lines: np.ndarray,
) -> tuple[int, float]:
    """Book one open's fills into a book's ledger, backlog and fill records.

    For every symbol with an order (``order_shares[i] != 0``), in index order:

    - ledger: ``positions += filled``; sells also reduce ``sellable`` (buys do not: T+1);
      ``cash_delta -= filled * fill_price + commission + stamp_duty + transfer_fee``;
    - backlog: the entry retires when ``positions == target``, else its age grows by 1;
    - record: one row (session, symbol, order, filled | reference, fill price, impact,
      commission, stamp duty, transfer fee | status) appended at ``row_start`` (the caller
      guarantees ``n`` free rows).

    Active entries without an order (their target equals the position) retire. Returns
    ``(row_end, cash_delta)`` and writes ``out_lines = [impact, commission, stamp_duty,
    transfer_fee, buy_notional, sell_notional, traded_at_reference]`` of the session (CNY; the
    last is ``sum(filled * reference_price)``, what the trades are worth before impact); adds
    the filled shares to ``ledger.out_traded``.
    """
    orders = fills.order_shares
    positions, sellable = ledger.out_positions, ledger.out_sellable
    target, active, age = backlog.target_shares, backlog.out_active, backlog.out_age
    rows_int, rows_float, rows_status = records.out_int, records.out_float, records.out_status
    traded = ledger.out_traded
    lines = out_lines
    for k in range(7):
        lines[k] = 0.0
    cash_delta = 0.0
    row = row_start
    for i in range(orders.shape[0]):
        order = orders[i]
        if order == 0:
            if active[i]:
                active[i] = False
                age[i] = 0
            continue
        filled = fills.filled_shares[i]
        fees = fills.commission[i] + fills.stamp_duty[i] + fills.transfer_fee[i]
        if filled != 0:
            notional = filled * fills.fill_price[i]
            cash_delta -= notional + fees
            if filled > 0:
                lines[4] += notional
            else:
                lines[5] -= notional
                sellable[i] += filled
            positions[i] += filled
            traded[i] += filled
            lines[6] += filled * fills.reference_price[i]
        else:
            cash_delta -= fees
        lines[0] += fills.impact[i]
        lines[1] += fills.commission[i]
        lines[2] += fills.stamp_duty[i]
        lines[3] += fills.transfer_fee[i]
        if positions[i] == target[i]:
            active[i] = False
            age[i] = 0
        else:
            age[i] += 1
        rows_int[0, row] = session_index
        rows_int[1, row] = i
        rows_int[2, row] = order
        rows_int[3, row] = filled
        rows_float[0, row] = fills.reference_price[i]
        rows_float[1, row] = fills.fill_price[i]
        rows_float[2, row] = fills.impact[i]
        rows_float[3, row] = fills.commission[i]
        rows_float[4, row] = fills.stamp_duty[i]
        rows_float[5, row] = fills.transfer_fee[i]
        rows_status[row] = fills.status[i]
        row += 1
    return row, cash_delta


def apply_session_py(
    session_index: int,
    fills: SessionFillRow,
    ledger: LedgerArrays,
    backlog: BacklogArrays,
    records: FillRecords,
    row_start: int,
    out_lines: np.ndarray,
) -> tuple[int, float]:
    """Plain-Python twin of :func:`apply_session_nb`."""
    positions, sellable = ledger.out_positions, ledger.out_sellable
    target, active, age = backlog.target_shares, backlog.out_active, backlog.out_age
    lines = [0.0] * 7
    cash_delta = 0.0
    row = row_start
    for i in range(fills.order_shares.shape[0]):
        order = int(fills.order_shares[i])
        if order == 0:
            if active[i]:
                active[i] = False
                age[i] = 0
            continue
        filled = int(fills.filled_shares[i])
        commission = float(fills.commission[i])
        stamp_duty = float(fills.stamp_duty[i])
        transfer_fee = float(fills.transfer_fee[i])
        fees = commission + stamp_duty + transfer_fee
        if filled != 0:
            notional = filled * float(fills.fill_price[i])
            cash_delta -= notional + fees
            if filled > 0:
                lines[4] += notional
            else:
                lines[5] -= notional
                sellable[i] += filled
            positions[i] += filled
            ledger.out_traded[i] += filled
            lines[6] += filled * float(fills.reference_price[i])
        else:
            cash_delta -= fees
        lines[0] += float(fills.impact[i])
        lines[1] += commission
        lines[2] += stamp_duty
        lines[3] += transfer_fee
        if positions[i] == target[i]:
            active[i] = False
            age[i] = 0
        else:
            age[i] += 1
        records.out_int[:, row] = (session_index, i, order, filled)
        records.out_float[:, row] = (
            fills.reference_price[i],
            fills.fill_price[i],
            fills.impact[i],
            commission,
            stamp_duty,
            transfer_fee,
        )
        records.out_status[row] = fills.status[i]
        row += 1
    out_lines[:] = lines
    return row, cash_delta


@njit(cache=True)
def settle_nb(
    session_index: int,
    positions: np.ndarray,
    mark: np.ndarray,
    traded: np.ndarray,
    backlog: BacklogArrays,
    out: SettleRows,
) -> tuple[float, int, int, float]:
    """Record a session's close: the positions row and the backlog's non-zero entries.

    Writes ``out.out_positions`` and, for every symbol with an active entry still short of its
    target, one backlog row ``(session, symbol, target - held, age)`` from ``out.row_start``.
    Returns ``(holdings_value, n_positions, backlog_row_end, traded_at_mark)``:
    ``holdings_value`` summed in index order as in :func:`holdings_value_nb`, and
    ``traded_at_mark = sum(traded * mark)``, the session's trades valued at the close.
    """
    target, active, age = backlog.target_shares, backlog.out_active, backlog.out_age
    positions_row, rows = out.out_positions, out.out_backlog
    holdings = 0.0
    traded_value = 0.0
    n_positions = 0
    row = out.row_start
    for i in range(positions.shape[0]):
        held = positions[i]
        positions_row[i] = held
        if held != 0:
            holdings += held * mark[i]
            n_positions += 1
        if traded[i] != 0:
            traded_value += traded[i] * mark[i]
        remaining = target[i] - held if active[i] else 0
        if remaining != 0:
            rows[0, row] = session_index
            rows[1, row] = i
            rows[2, row] = remaining
            rows[3, row] = age[i]
            row += 1
    return holdings, n_positions, row, traded_value


def settle_py(
    session_index: int,
    positions: np.ndarray,
    mark: np.ndarray,
    traded: np.ndarray,
    backlog: BacklogArrays,
    out: SettleRows,
) -> tuple[float, int, int, float]:
    """Plain-Python twin of :func:`settle_nb`."""
    holdings = 0.0
    traded_value = 0.0
    n_positions = 0
    row = out.row_start
    for i in range(positions.shape[0]):
        held = int(positions[i])
        out.out_positions[i] = held
        if held != 0:
            holdings += held * float(mark[i])
            n_positions += 1
        if traded[i] != 0:
            traded_value += int(traded[i]) * float(mark[i])
        remaining = int(backlog.target_shares[i]) - held if backlog.out_active[i] else 0
        if remaining != 0:
            out.out_backlog[:, row] = (session_index, i, remaining, int(backlog.out_age[i]))
            row += 1
    return holdings, n_positions, row, traded_value
