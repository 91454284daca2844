"""The A-share fill kernel: one numba call fills a book's whole cross-section for one session.

:func:`fill_orders_nb` takes arrays and scalars only and returns arrays plus integer status
codes (vectorbt's ``nb`` style): no exceptions, no objects. :func:`fill_orders_py` is its
plain-Python twin with the same signature and the same float operations in the same order; a
hypothesis test holds them exactly equal (``tests/test_fills_kernel.py``). The validating
wrapper, ``FillStatus`` and ``FillBatch`` live in :mod:`backtest.engine.fills`.

Model
-----
Per stock ``i`` with desired signed shares ``order`` (+ buy, - sell):

1. **Blocks** (nothing fills): suspended (``SUSPENDED``); no usable reference price (NaN or
   ``<= 0``) or no volume (NaN or ``<= 0``) (``NO_PRICE``); a buy on a session locked at
   limit-up (``LOCKED_LIMIT_UP``) or a sell on one locked at limit-down
   (``LOCKED_LIMIT_DOWN``); a sell with nothing sellable (``NOT_SELLABLE``: T+1 or no
   position). Checked in that order.
2. **Quantity**: ``cap = floor(participation_cap * V)`` with ``V`` the session's market volume.
   Sells: ``q = min(|order|, sellable, cap)`` rounded down to ``lot_size``, except that the odd
   remainder may go when the sell empties the sellable position (``q == sellable``); below
   ``min_lot`` only when emptying the sellable position (SSE STAR rule: at least 200 shares, a
   remainder below 200 sold in one order). Buys: ``q = min(order, cap)`` rounded down to
   ``lot_size``, zero when below ``min_lot`` (odd lots only on sells).
3. **Price** (square-root impact; Almgren et al. 2005, Tóth et al. 2011)::

       fill_price = ref * (1 + side * Y * sigma * sqrt(q / V)),   side = +1 buy, -1 sell

   with ``sigma`` the daily return volatility (``fallback_volatility`` where NaN or negative),
   clipped to ``limit_up`` for buys and ``limit_down`` for sells (never past the price limit)
   and never below one tick (0.01 CNY) for sells on unlimited sessions.
4. **Costs** on ``notional = fill_price * q``: ``commission = max(commission_rate * notional,
   min_commission)``; ``stamp_duty = stamp_duty_rate * notional`` on sells; ``transfer_fee =
   transfer_fee_rate * notional`` both sides; ``impact_cost = |fill_price - ref| * q``.
5. **Cash**: sells first (all stocks, index order), adding ``notional - fees``; then buys in
   index order, each reduced (the largest whole number of lots, found by bisection on the
   monotone cost ``fill_price(q) * q + fees(q)``) so that it fits the remaining cash. A sell
   whose fees exceed its notional and the running cash is not filled (``CASH_LIMITED``), so
   ``cash_after >= 0`` whenever ``cash_available >= 0``.

Status of a partial or empty fill
---------------------------------
The status names the constraint that **set** the filled quantity: ``CASH_LIMITED`` when cash cut
the buy; else ``PARTIAL_CAP`` when the participation cap was below the order (and, for sells, not
above the sellable shares); else ``NOT_SELLABLE`` when the sellable shares were below the order;
else ``BELOW_LOT`` when lot rounding alone cut the order (to zero or to fewer lots: 1,050 shares
fill 1,000); else ``FILLED``, which always means the whole order filled. When the cap and the
sellable shares bind equally, the lower code (``PARTIAL_CAP``) wins.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Status codes (``backtest.engine.fills.FillStatus`` names them).
NO_ORDER = 0
FILLED = 1
PARTIAL_CAP = 2
LOCKED_LIMIT_UP = 3
LOCKED_LIMIT_DOWN = 4
SUSPENDED = 5
NOT_SELLABLE = 6
BELOW_LOT = 7
CASH_LIMITED = 8
NO_PRICE = 9

#: one price tick (CNY): the floor of a sell's impacted price on a session with no limit
TICK_CNY = 0.01

__all__ = ["fill_orders_nb", "fill_orders_py"]


def _impact_price(
    reference: float, side: float, coefficient: float, sigma: float, shares: int, volume: float
) -> float:
    """Return ``ref * (1 + side * Y * sigma * sqrt(q / V))`` (before the limit clip)."""
    return reference * (1.0 + side * coefficient * sigma * math.sqrt(shares / volume))


def _clip_buy(price: float, limit_up: float) -> float:
    """Clip a buy's price to limit-up (NaN limit: no clip)."""
    if not math.isnan(limit_up) and price > limit_up:
        return limit_up
    return price


def _clip_sell(price: float, limit_down: float) -> float:
    """Clip a sell's price to limit-down (NaN limit: no clip), and to at least one tick."""
    if not math.isnan(limit_down) and price < limit_down:
        price = limit_down
    if price < TICK_CNY:
        price = TICK_CNY
    return price


def _commission(notional: float, rate: float, minimum: float) -> float:
    """Return ``max(rate * notional, minimum)``."""
    fee = rate * notional
    if fee < minimum:
        return minimum
    return fee


def _buy_cost(
    reference: float,
    coefficient: float,
    sigma: float,
    shares: int,
    volume: float,
    limit_up: float,
    commission_rate: float,
    min_commission: float,
    transfer_fee_rate: float,
) -> float:
    """Return the cash a buy of ``shares`` costs: ``fill_price * q + commission + transfer``."""
    price = _clip_buy(_impact_price(reference, 1.0, coefficient, sigma, shares, volume), limit_up)
    notional = price * shares
    return (
        notional
        + _commission(notional, commission_rate, min_commission)
        + transfer_fee_rate * notional
    )


# the kernel's copies of the scalar formulas: the same source, compiled
_impact_price_nb = njit(cache=True)(_impact_price)
_clip_buy_nb = njit(cache=True)(_clip_buy)
_clip_sell_nb = njit(cache=True)(_clip_sell)
_commission_nb = njit(cache=True)(_commission)


@njit(cache=True)
def _buy_cost_nb(
    reference: float,
    coefficient: float,
    sigma: float,
    shares: int,
    volume: float,
    limit_up: float,
    commission_rate: float,
    min_commission: float,
    transfer_fee_rate: float,
) -> float:
    """Compiled twin of :func:`_buy_cost` (numba cannot call the plain helpers)."""
    price = _clip_buy_nb(
        _impact_price_nb(reference, 1.0, coefficient, sigma, shares, volume), limit_up
    )
    notional = price * shares
    return (
        notional
        + _commission_nb(notional, commission_rate, min_commission)
        + transfer_fee_rate * notional
    )


@njit(cache=True)
def fill_orders_nb(
    order_shares: np.ndarray,
    held_shares: np.ndarray,
    sellable_shares: np.ndarray,
    reference_price: np.ndarray,
    limit_up: np.ndarray,
    limit_down: np.ndarray,
    locked_up: np.ndarray,
    locked_down: np.ndarray,
    suspended: np.ndarray,
    day_volume: np.ndarray,
    volatility: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
    cash_available: float,
    participation_cap: float,
    impact_coefficient: float,
    fallback_volatility: float,
    commission_rate: float,
    min_commission: float,
    stamp_duty_rate: float,
    transfer_fee_rate: float,
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float
]:
    """Fill one session's orders over the cross-section; see the module docstring for the model.

    Parameters
    ----------
    order_shares, held_shares, sellable_shares
        ``int64[n]``: desired signed shares (+ buy, - sell, 0 none); the position (>= 0);
        shares sellable today under T+1 (``<= held_shares``).
    reference_price
        ``float64[n]``: execution reference (open or VWAP), CNY; NaN or ``<= 0``: no price.
    limit_up, limit_down
        ``float64[n]``: the session's limit prices, CNY; NaN where the session has no limit.
    locked_up, locked_down, suspended
        ``bool[n]``: locked at limit-up (buys blocked), at limit-down (sells blocked), suspended.
    day_volume
        ``float64[n]``: shares traded in the market this session.
    volatility
        ``float64[n]``: daily return standard deviation; NaN or negative -> fallback.
    lot_size, min_lot
        ``int64[n]``: round-lot step and minimum order (main 100/100, STAR 1/200).
    cash_available
        Buying power before this session's fills, CNY.
    participation_cap
        Largest fill as a fraction of ``day_volume``.
    impact_coefficient
        ``Y`` of the square-root law.
    fallback_volatility
        ``sigma`` where ``volatility`` is NaN or negative.
    commission_rate, min_commission, stamp_duty_rate, transfer_fee_rate
        Costs: commission as a fraction of notional with a CNY minimum per stock and order;
        stamp duty (sells) and transfer fee (both sides) as fractions of notional.

    Returns
    -------
    tuple
        ``(filled_shares int64[n] (signed), fill_price float64[n] (NaN if none),
        impact_cost float64[n], commission float64[n], stamp_duty float64[n],
        transfer_fee float64[n], status int8[n], cash_after float)``; amounts in CNY.
    """
    n = order_shares.shape[0]
    filled = np.zeros(n, dtype=np.int64)
    price_out = np.full(n, np.nan)
    impact = np.zeros(n)
    commission = np.zeros(n)
    stamp = np.zeros(n)
    transfer = np.zeros(n)
    status = np.zeros(n, dtype=np.int8)
    cash = cash_available
    for side_pass in range(2):  # 0: sells, 1: buys
        for i in range(n):
            order = order_shares[i]
            if order == 0:
                continue
            is_buy = order > 0
            if is_buy != (side_pass == 1):
                continue
            ref = reference_price[i]
            volume = day_volume[i]
            if suspended[i]:
                status[i] = SUSPENDED
                continue
            if not (ref > 0.0) or not (volume > 0.0) or math.isinf(volume):
                status[i] = NO_PRICE
                continue
            if is_buy and locked_up[i]:
                status[i] = LOCKED_LIMIT_UP
                continue
            if (not is_buy) and locked_down[i]:
                status[i] = LOCKED_LIMIT_DOWN
                continue
            sellable = sellable_shares[i]
            if (not is_buy) and sellable <= 0:
                status[i] = NOT_SELLABLE
                continue
            sigma = volatility[i]
            if not (sigma >= 0.0):
                sigma = fallback_volatility
            cap = np.int64(math.floor(participation_cap * volume))
            lot = lot_size[i]
            minimum = min_lot[i]
            desired = order if is_buy else -order
            code = FILLED
            if is_buy:
                quantity = desired
                if cap < quantity:
                    quantity = cap
                    code = PARTIAL_CAP
                rounded = (quantity // lot) * lot
                if rounded < minimum:
                    rounded = 0
                if rounded < quantity and code == FILLED:
                    code = BELOW_LOT
                quantity = rounded
                if quantity > 0:
                    cost = _buy_cost_nb(
                        ref,
                        impact_coefficient,
                        sigma,
                        quantity,
                        volume,
                        limit_up[i],
                        commission_rate,
                        min_commission,
                        transfer_fee_rate,
                    )
                    if cost > cash:
                        low = (minimum + lot - 1) // lot  # fewest lots reaching min_lot
                        if low < 1:
                            low = 1
                        high = quantity // lot - 1  # quantity itself does not fit
                        best = np.int64(0)
                        while low <= high:
                            middle = (low + high) // 2
                            trial = _buy_cost_nb(
                                ref,
                                impact_coefficient,
                                sigma,
                                middle * lot,
                                volume,
                                limit_up[i],
                                commission_rate,
                                min_commission,
                                transfer_fee_rate,
                            )
                            if trial <= cash:
                                best = middle
                                low = middle + 1
                            else:
                                high = middle - 1
                        quantity = best * lot
                        code = CASH_LIMITED
            else:
                quantity = desired
                if min(cap, sellable) < desired:
                    if cap <= sellable:
                        quantity = cap
                        code = PARTIAL_CAP
                    else:
                        quantity = sellable
                        code = NOT_SELLABLE
                if quantity != sellable:
                    rounded = (quantity // lot) * lot
                    if rounded < minimum:
                        rounded = 0
                    if rounded < quantity and code == FILLED:
                        code = BELOW_LOT
                    quantity = rounded
            status[i] = code
            if quantity <= 0:
                continue
            if is_buy:
                raw = _impact_price_nb(ref, 1.0, impact_coefficient, sigma, quantity, volume)
                price = _clip_buy_nb(raw, limit_up[i])
            else:
                raw = _impact_price_nb(ref, -1.0, impact_coefficient, sigma, quantity, volume)
                price = _clip_sell_nb(raw, limit_down[i])
            notional = price * quantity
            fee = _commission_nb(notional, commission_rate, min_commission)
            transfer_fee = transfer_fee_rate * notional
            if is_buy:
                cash = cash - (notional + fee + transfer_fee)
                filled[i] = quantity
                stamp_duty = 0.0
            else:
                stamp_duty = stamp_duty_rate * notional
                proceeds = notional - fee - stamp_duty - transfer_fee
                if proceeds < 0.0 and cash + proceeds < 0.0:
                    status[i] = CASH_LIMITED
                    continue
                cash = cash + proceeds
                filled[i] = -quantity
            price_out[i] = price
            impact[i] = abs(price - ref) * quantity
            commission[i] = fee
            stamp[i] = stamp_duty
            transfer[i] = transfer_fee
    return filled, price_out, impact, commission, stamp, transfer, status, cash


def fill_orders_py(
    order_shares: np.ndarray,
    held_shares: np.ndarray,
    sellable_shares: np.ndarray,
    reference_price: np.ndarray,
    limit_up: np.ndarray,
    limit_down: np.ndarray,
    locked_up: np.ndarray,
    locked_down: np.ndarray,
    suspended: np.ndarray,
    day_volume: np.ndarray,
    volatility: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
    cash_available: float,
    participation_cap: float,
    impact_coefficient: float,
    fallback_volatility: float,
    commission_rate: float,
    min_commission: float,
    stamp_duty_rate: float,
    transfer_fee_rate: float,
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float
]:
    """Plain-Python twin of :func:`fill_orders_nb`: same signature, same arithmetic, no numba.

    Written as two explicit passes (sells, then buys) over Python scalars, sharing the scalar
    price and cost formulas with the kernel, so a reader can check the kernel against it.
    """
    n = len(order_shares)
    orders = [int(v) for v in order_shares]
    sellables = [int(v) for v in sellable_shares]
    refs = [float(v) for v in reference_price]
    ups = [float(v) for v in limit_up]
    downs = [float(v) for v in limit_down]
    volumes = [float(v) for v in day_volume]
    sigmas = [float(v) for v in volatility]
    lots = [int(v) for v in lot_size]
    minimums = [int(v) for v in min_lot]
    filled = [0] * n
    prices = [math.nan] * n
    impact = [0.0] * n
    commission = [0.0] * n
    stamp = [0.0] * n
    transfer = [0.0] * n
    status = [NO_ORDER] * n
    cash = float(cash_available)

    def blocked(i: int, is_buy: bool) -> int:
        if bool(suspended[i]):
            return SUSPENDED
        ref, volume = refs[i], volumes[i]
        if not (ref > 0.0) or not (volume > 0.0) or math.isinf(volume):
            return NO_PRICE
        if is_buy and bool(locked_up[i]):
            return LOCKED_LIMIT_UP
        if not is_buy and bool(locked_down[i]):
            return LOCKED_LIMIT_DOWN
        if not is_buy and sellables[i] <= 0:
            return NOT_SELLABLE
        return NO_ORDER

    def sigma_of(i: int) -> float:
        sigma = sigmas[i]
        return sigma if sigma >= 0.0 else float(fallback_volatility)

    def buy_cost(i: int, shares: int) -> float:
        return _buy_cost(
            refs[i],
            impact_coefficient,
            sigma_of(i),
            shares,
            volumes[i],
            ups[i],
            commission_rate,
            min_commission,
            transfer_fee_rate,
        )

    def book(i: int, quantity: int, is_buy: bool) -> None:
        nonlocal cash
        ref, volume, sigma = refs[i], volumes[i], sigma_of(i)
        if is_buy:
            raw = _impact_price(ref, 1.0, impact_coefficient, sigma, quantity, volume)
            price = _clip_buy(raw, ups[i])
        else:
            raw = _impact_price(ref, -1.0, impact_coefficient, sigma, quantity, volume)
            price = _clip_sell(raw, downs[i])
        notional = price * quantity
        fee = _commission(notional, commission_rate, min_commission)
        transfer_fee = transfer_fee_rate * notional
        duty = 0.0
        if is_buy:
            cash = cash - (notional + fee + transfer_fee)
            filled[i] = quantity
        else:
            duty = stamp_duty_rate * notional
            proceeds = notional - fee - duty - transfer_fee
            if proceeds < 0.0 and cash + proceeds < 0.0:
                status[i] = CASH_LIMITED
                return
            cash = cash + proceeds
            filled[i] = -quantity
        prices[i] = price
        impact[i] = abs(price - ref) * quantity
        commission[i] = fee
        stamp[i] = duty
        transfer[i] = transfer_fee

    # pass 1: sells
    for i in range(n):
        if orders[i] >= 0:
            continue
        code = blocked(i, False)
        if code != NO_ORDER:
            status[i] = code
            continue
        desired, sellable = -orders[i], sellables[i]
        cap = math.floor(participation_cap * volumes[i])
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
        status[i] = code
        if quantity > 0:
            book(i, quantity, False)

    # pass 2: buys, each fitted to the cash left
    for i in range(n):
        if orders[i] <= 0:
            continue
        code = blocked(i, True)
        if code != NO_ORDER:
            status[i] = code
            continue
        cap = math.floor(participation_cap * volumes[i])
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
        status[i] = code
        if quantity > 0:
            book(i, quantity, True)

    return (
        np.array(filled, dtype=np.int64),
        np.array(prices, dtype=np.float64),
        np.array(impact, dtype=np.float64),
        np.array(commission, dtype=np.float64),
        np.array(stamp, dtype=np.float64),
        np.array(transfer, dtype=np.float64),
        np.array(status, dtype=np.int8),
        cash,
    )
