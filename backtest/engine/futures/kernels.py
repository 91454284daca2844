"""Numba kernels of CFFEX index-futures arithmetic, each with a plain-Python twin.

Two kernels, on arrays, no exceptions, integer status codes (vectorbt's ``nb`` style):

- :func:`settle_nb`: daily mark-to-market at the settlement price (variation margin), final
  settlement of expiring contracts, and the margin requirement;
- :func:`fill_nb`: fills of futures orders at a reference price (the open or the settle) with
  slippage in ticks and exchange fees split into open / close / close-today.

Every kernel ``*_nb`` has a twin ``*_py`` with the same signature written as a plain loop; a
hypothesis test holds them equal (``tests/test_futures_kernels.py``). The validating, frame-
building shells live in :mod:`backtest.engine.futures.settlement` and
:mod:`backtest.engine.futures.fills`.

Sign convention: positions and orders are signed contracts (long > 0, short < 0); every cash
amount is in CNY from the book's point of view (a gain is positive).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- settle_nb status codes
SETTLE_OK = 0
#: the contract expired today: marked to the final settlement price and closed (position 0)
SETTLE_FINAL = 1
#: no settlement price today (NaN) while a position is open: no variation margin booked,
#: margin held at the previous settlement price
SETTLE_NO_PRICE = 2

# --- fill_nb status codes
FILL_OK = 0
FILL_NO_ORDER = 1
#: not tradable today (flag False or no reference price): nothing filled, order stays open
FILL_NOT_TRADABLE = 2


@njit(cache=True)
def settle_nb(
    position_overnight: np.ndarray,
    traded_today: np.ndarray,
    trade_price: np.ndarray,
    settle_previous: np.ndarray,
    settle_today: np.ndarray,
    multiplier: np.ndarray,
    margin_rate: np.ndarray,
    expiring: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mark positions to today's settlement price; return cash flow, margin, positions, status.

    Per contract ``i`` (``m`` multiplier in CNY per point, ``P`` settle):

    - variation margin ``VM = q_overnight * m * (P_t - P_{t-1}) + q_traded * m * (P_t - p_trade)``
      (overnight positions move from yesterday's settle, today's trades from their fill price:
      CFFEX daily settlement, 《中国金融期货交易所结算细则》);
    - on the expiry day ``P_t`` is the final settlement price and the position closes;
    - margin requirement ``M = |q_after| * P_t * m * margin_rate``.

    Returns ``(variation_cny, margin_cny, position_after, status)``.
    """
    n = position_overnight.shape[0]
    variation = np.zeros(n)
    margin = np.zeros(n)
    position_after = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    for i in range(n):
        held = position_overnight[i]
        traded = traded_today[i]
        after = held + traded
        price = settle_today[i]
        if math.isnan(price):
            position_after[i] = after
            if held != 0 or traded != 0:
                status[i] = SETTLE_NO_PRICE
                last = settle_previous[i]
                if not math.isnan(last):
                    margin[i] = abs(after) * last * multiplier[i] * margin_rate[i]
            continue
        flow = 0.0
        if held != 0:
            flow += held * multiplier[i] * (price - settle_previous[i])
        if traded != 0:
            flow += traded * multiplier[i] * (price - trade_price[i])
        variation[i] = flow
        if expiring[i]:
            position_after[i] = 0
            status[i] = SETTLE_FINAL
        else:
            position_after[i] = after
            margin[i] = abs(after) * price * multiplier[i] * margin_rate[i]
    return variation, margin, position_after, status


def settle_py(
    position_overnight: np.ndarray,
    traded_today: np.ndarray,
    trade_price: np.ndarray,
    settle_previous: np.ndarray,
    settle_today: np.ndarray,
    multiplier: np.ndarray,
    margin_rate: np.ndarray,
    expiring: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python twin of :func:`settle_nb`."""
    n = len(position_overnight)
    variation, margin = np.zeros(n), np.zeros(n)
    position_after = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    for i in range(n):
        held, traded = int(position_overnight[i]), int(traded_today[i])
        after = held + traded
        price = float(settle_today[i])
        position_after[i] = after
        if math.isnan(price):
            if held or traded:
                status[i] = SETTLE_NO_PRICE
                if not math.isnan(settle_previous[i]):
                    margin[i] = abs(after) * settle_previous[i] * multiplier[i] * margin_rate[i]
            continue
        overnight_flow = held * multiplier[i] * (price - settle_previous[i]) if held else 0.0
        trade_flow = traded * multiplier[i] * (price - trade_price[i]) if traded else 0.0
        variation[i] = overnight_flow + trade_flow
        if expiring[i]:
            position_after[i] = 0
            status[i] = SETTLE_FINAL
        else:
            margin[i] = abs(after) * price * multiplier[i] * margin_rate[i]
    return variation, margin, position_after, status


@njit(cache=True)
def fill_nb(
    order: np.ndarray,
    reference_price: np.ndarray,
    tradable: np.ndarray,
    held_overnight: np.ndarray,
    opened_today: np.ndarray,
    multiplier: np.ndarray,
    tick: np.ndarray,
    slippage_ticks: int,
    fee_open_rate: float,
    fee_close_rate: float,
    fee_close_today_rate: float,
    close_today_first: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fill signed futures orders in full at the reference price plus slippage; charge fees.

    Fill price ``p = reference + sign(order) * slippage_ticks * tick`` (a buy pays up, a sell
    gives up). An order against the current net position ``held_overnight + opened_today``
    first closes it (today's lots first when ``close_today_first``, else yesterday's), the
    rest opens a new position. Fees are rates on notional ``|q| * p * m``: ``fee_open_rate``
    on opened lots, ``fee_close_rate`` on closed overnight lots, ``fee_close_today_rate`` on
    closed lots opened the same session.

    Returns ``(filled, fill_price, fee_cny, closed_overnight, closed_today, opened, status)``,
    quantities signed like the order's effect on each bucket (closing a long is negative).
    """
    n = order.shape[0]
    filled = np.zeros(n, dtype=np.int64)
    fill_price = np.full(n, np.nan)
    fee = np.zeros(n)
    closed_overnight = np.zeros(n, dtype=np.int64)
    closed_today = np.zeros(n, dtype=np.int64)
    opened = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    for i in range(n):
        quantity = order[i]
        if quantity == 0:
            status[i] = FILL_NO_ORDER
            continue
        if not tradable[i] or math.isnan(reference_price[i]):
            status[i] = FILL_NOT_TRADABLE
            continue
        sign = 1 if quantity > 0 else -1
        price = reference_price[i] + sign * slippage_ticks * tick[i]
        net = held_overnight[i] + opened_today[i]
        remaining = abs(quantity)
        from_today = 0
        from_overnight = 0
        if net * sign < 0:
            closable_today = abs(opened_today[i]) if opened_today[i] * sign < 0 else 0
            closable_overnight = abs(held_overnight[i]) if held_overnight[i] * sign < 0 else 0
            if close_today_first:
                from_today = min(remaining, closable_today)
                remaining -= from_today
                from_overnight = min(remaining, closable_overnight)
                remaining -= from_overnight
            else:
                from_overnight = min(remaining, closable_overnight)
                remaining -= from_overnight
                from_today = min(remaining, closable_today)
                remaining -= from_today
        lot_value = price * multiplier[i]
        fee[i] = lot_value * (
            from_overnight * fee_close_rate
            + from_today * fee_close_today_rate
            + remaining * fee_open_rate
        )
        filled[i] = quantity
        fill_price[i] = price
        closed_overnight[i] = sign * from_overnight
        closed_today[i] = sign * from_today
        opened[i] = sign * remaining
    return filled, fill_price, fee, closed_overnight, closed_today, opened, status


def fill_py(
    order: np.ndarray,
    reference_price: np.ndarray,
    tradable: np.ndarray,
    held_overnight: np.ndarray,
    opened_today: np.ndarray,
    multiplier: np.ndarray,
    tick: np.ndarray,
    slippage_ticks: int,
    fee_open_rate: float,
    fee_close_rate: float,
    fee_close_today_rate: float,
    close_today_first: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python twin of :func:`fill_nb`."""
    n = len(order)
    filled = np.zeros(n, dtype=np.int64)
    fill_price = np.full(n, np.nan)
    fee = np.zeros(n)
    closed_overnight = np.zeros(n, dtype=np.int64)
    closed_today = np.zeros(n, dtype=np.int64)
    opened = np.zeros(n, dtype=np.int64)
    status = np.full(n, FILL_OK, dtype=np.int64)
    for i in range(n):
        quantity = int(order[i])
        if quantity == 0:
            status[i] = FILL_NO_ORDER
            continue
        if not tradable[i] or math.isnan(reference_price[i]):
            status[i] = FILL_NOT_TRADABLE
            continue
        sign = 1 if quantity > 0 else -1
        price = reference_price[i] + sign * slippage_ticks * tick[i]
        # lots of each bucket that this order would close (those of the opposite sign)
        buckets = {
            "today": abs(int(opened_today[i])) if opened_today[i] * sign < 0 else 0,
            "overnight": abs(int(held_overnight[i])) if held_overnight[i] * sign < 0 else 0,
        }
        order_of_closing = ["today", "overnight"] if close_today_first else ["overnight", "today"]
        closes = {"today": 0, "overnight": 0}
        remaining = abs(quantity)
        if (held_overnight[i] + opened_today[i]) * sign < 0:
            for bucket in order_of_closing:
                closes[bucket] = min(remaining, buckets[bucket])
                remaining -= closes[bucket]
        lot_value = price * multiplier[i]
        fee[i] = lot_value * (
            closes["overnight"] * fee_close_rate
            + closes["today"] * fee_close_today_rate
            + remaining * fee_open_rate
        )
        filled[i], fill_price[i] = quantity, price
        closed_overnight[i] = sign * closes["overnight"]
        closed_today[i] = sign * closes["today"]
        opened[i] = sign * remaining
    return filled, fill_price, fee, closed_overnight, closed_today, opened, status
