"""The plain-Python twin of the fill kernel: the same records, the same arithmetic, no numba.

Written as two explicit passes per book (sells, then buys) over Python scalars, sharing the
scalar price and cost formulas with :mod:`backtest.execution.fill_nb`, so a reader can check the
kernel against it; a hypothesis test holds them exactly equal (``tests/test_fills_kernel.py``).
"""

from __future__ import annotations

import math

import numpy as np

from backtest.execution.fill_nb import (
    BELOW_LOT,
    CASH_LIMITED,
    FILLED,
    LOCKED_LIMIT_DOWN,
    LOCKED_LIMIT_UP,
    NO_ORDER,
    NO_PRICE,
    NOT_SELLABLE,
    PARTIAL_CAP,
    SUSPENDED,
    BookOrders,
    Charges,
    FillOut,
    StockSession,
    _buy_cost,
    _clip_buy,
    _clip_sell,
    _commission,
    _impact_price,
)

__all__ = ["fill_session_py"]


def fill_session_py(
    market: StockSession, charges: Charges, books: BookOrders, out: FillOut
) -> None:
    """Plain-Python twin of :func:`fill_session_nb`: same records, same arithmetic, no numba.

    Written as two explicit passes per book (sells, then buys) over Python scalars, sharing the
    scalar price and cost formulas with the kernel, so a reader can check the kernel against it.
    """
    for b in range(books.order_shares.shape[0]):
        _fill_book_py(b, market, charges, books, out)


def _fill_book_py(
    b: int, market: StockSession, charges: Charges, books: BookOrders, out: FillOut
) -> None:
    n = books.order_shares.shape[1]
    orders = [int(v) for v in books.order_shares[b]]
    sellables = [int(v) for v in books.sellable_shares[b]]

    def row(array: np.ndarray) -> np.ndarray:  # one row applies to every book
        return array[b if array.shape[0] > 1 else 0]

    caps = [int(v) for v in row(books.cap_shares)]
    bases = [float(v) for v in row(books.impact_base_shares)]
    bases_volume = [float(v) for v in row(books.impact_volume)]
    refs = [float(v) for v in market.reference_price]
    ups = [float(v) for v in market.limit_up]
    downs = [float(v) for v in market.limit_down]
    volumes = [float(v) for v in market.day_volume]
    sigmas = [float(v) for v in market.volatility]
    lots = [int(v) for v in market.lot_size]
    minimums = [int(v) for v in market.min_lot]
    coefficient = float(charges.impact_coefficient)
    commission_rate = float(charges.commission_rate)
    min_commission = float(charges.min_commission)
    transfer_fee_rate = float(charges.transfer_fee_rate)
    cash = float(books.cash_available[b])

    def blocked(i: int, is_buy: bool) -> int:
        if bool(market.suspended[i]):
            return SUSPENDED
        ref, volume = refs[i], volumes[i]
        if not (ref > 0.0) or not (volume > 0.0) or math.isinf(volume):
            return NO_PRICE
        if is_buy and bool(market.locked_up[i]):
            return LOCKED_LIMIT_UP
        if not is_buy and bool(market.locked_down[i]):
            return LOCKED_LIMIT_DOWN
        if not is_buy and sellables[i] <= 0:
            return NOT_SELLABLE
        return NO_ORDER

    def sigma_of(i: int) -> float:
        sigma = sigmas[i]
        return sigma if sigma >= 0.0 else float(charges.fallback_volatility)

    def buy_cost(i: int, shares: int) -> float:
        return _buy_cost(
            refs[i],
            coefficient,
            sigma_of(i),
            bases[i],
            shares,
            bases_volume[i],
            ups[i],
            commission_rate,
            min_commission,
            transfer_fee_rate,
        )

    def book(i: int, quantity: int, is_buy: bool) -> None:
        nonlocal cash
        ref, sigma = refs[i], sigma_of(i)
        side = 1.0 if is_buy else -1.0
        raw = _impact_price(ref, side, coefficient, sigma, bases[i], quantity, bases_volume[i])
        price = _clip_buy(raw, ups[i]) if is_buy else _clip_sell(raw, downs[i])
        notional = price * quantity
        fee = _commission(notional, commission_rate, min_commission)
        transfer_fee = transfer_fee_rate * notional
        duty = 0.0
        if is_buy:
            cash = cash - (notional + fee + transfer_fee)
            out.out_filled_shares[b, i] = quantity
        else:
            duty = float(charges.stamp_duty_rate) * notional
            proceeds = notional - fee - duty - transfer_fee
            if proceeds < 0.0 and cash + proceeds < 0.0:
                out.out_status[b, i] = CASH_LIMITED
                return
            cash = cash + proceeds
            out.out_filled_shares[b, i] = -quantity
        out.out_fill_price[b, i] = price
        out.out_impact[b, i] = abs(price - ref) * quantity
        out.out_commission[b, i] = fee
        out.out_stamp_duty[b, i] = duty
        out.out_transfer_fee[b, i] = transfer_fee

    # pass 1: sells
    for i in range(n):
        if orders[i] >= 0:
            continue
        code = blocked(i, False)
        if code != NO_ORDER:
            out.out_status[b, i] = code
            continue
        desired, sellable, cap = -orders[i], sellables[i], caps[i]
        quantity, code = desired, FILLED
        if min(cap, sellable) < desired:
            if cap <= sellable:
                quantity, code = cap, PARTIAL_CAP
            else:
                quantity, code = sellable, NOT_SELLABLE
        if quantity != sellable:  # emptying the sellable position may leave an odd lot
            rounded = (quantity // lots[i]) * lots[i]
            rounded = 0 if rounded < minimums[i] else rounded
            if rounded < quantity and code == FILLED:
                code = BELOW_LOT
            quantity = rounded
        out.out_status[b, i] = code
        if quantity > 0:
            book(i, quantity, False)

    # pass 2: buys, each fitted to the cash left
    for i in range(n):
        if orders[i] <= 0:
            continue
        code = blocked(i, True)
        if code != NO_ORDER:
            out.out_status[b, i] = code
            continue
        cap = caps[i]
        quantity, code = orders[i], FILLED
        if cap < quantity:
            quantity, code = cap, PARTIAL_CAP
        lot = lots[i]
        rounded = (quantity // lot) * lot
        rounded = 0 if rounded < minimums[i] else rounded
        if rounded < quantity and code == FILLED:
            code = BELOW_LOT
        quantity = rounded
        if quantity > 0 and buy_cost(i, quantity) > cash:
            code = CASH_LIMITED
            fewest = max((minimums[i] + lot - 1) // lot, 1)
            low, high, best = fewest, quantity // lot - 1, 0
            while low <= high:  # largest whole number of lots whose cost fits the cash
                middle = (low + high) // 2
                if buy_cost(i, middle * lot) <= cash:
                    best, low = middle, middle + 1
                else:
                    high = middle - 1
            quantity = best * lot
        out.out_status[b, i] = code
        if quantity > 0:
            book(i, quantity, True)
    out.out_cash_after[b] = cash
