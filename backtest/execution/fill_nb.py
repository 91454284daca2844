"""The A-share fill kernel: one numba call fills every book's cross-section for one session.

:func:`fill_session_nb` takes grouped arrays (the named records :class:`StockSession`,
:class:`Charges`, :class:`BookOrders`, :class:`FillOut`) and writes only to ``out`` (vectorbt's
``nb`` style, STYLE habit 14): no exceptions, no objects, integer status codes. Row ``b`` of the
``(books, n)`` arrays is book ``b``; the books are filled one after the other, each against its
own cash, caps and impact terms, so that a book's fills never depend on another's unless a
liquidity or impact model (:mod:`backtest.execution.models`) makes them so through ``cap_shares``
and ``impact_base_shares``. :func:`backtest.execution.fill_py.fill_session_py` is its
plain-Python twin with the same float operations in the same order; a hypothesis test holds
them exactly equal
(``tests/test_fills_kernel.py``). The validating wrapper, ``FillStatus`` and ``FillBatch`` live
in :mod:`backtest.execution.fills`; the :class:`~backtest.execution.exchange.Exchange` calls the
kernel once per session for all books.

Model
-----
Per book ``b`` and stock ``i`` with desired signed shares ``order`` (+ buy, - sell):

1. **Blocks** (nothing fills): suspended (``SUSPENDED``); no usable reference price (NaN or
   ``<= 0``) or no volume (NaN or ``<= 0``) (``NO_PRICE``); a buy on a session locked at
   limit-up (``LOCKED_LIMIT_UP``) or a sell on one locked at limit-down
   (``LOCKED_LIMIT_DOWN``); a sell with nothing sellable (``NOT_SELLABLE``: T+1 or no
   position). Checked in that order.
2. **Quantity**: ``cap = cap_shares[b, i]``, set by the liquidity model (the default,
   :class:`~backtest.execution.models.ParticipationCap`, gives every book
   ``floor(participation_cap * V)`` with ``V`` the session's market volume).
   Sells: ``q = min(|order|, sellable, cap)`` rounded down to ``lot_size``, except that the odd
   remainder may go when the sell empties the sellable position (``q == sellable``); below
   ``min_lot`` only when emptying the sellable position (SSE STAR rule: at least 200 shares, a
   remainder below 200 sold in one order). Buys: ``q = min(order, cap)`` rounded down to
   ``lot_size``, zero when below ``min_lot`` (odd lots only on sells).
3. **Price** (square-root impact; Almgren et al. 2005, Tóth et al. 2011)::

       fill_price = ref * (1 + side * Y * sigma * sqrt((q0 + q) / Vi)),   side = +1 buy, -1 sell

   with ``q0 = impact_base_shares[b, i]`` and ``Vi = impact_volume[b, i]`` from the impact model
   (the default :class:`~backtest.execution.models.SquareRootImpact`: ``q0 = 0``, ``Vi = V``, so
   each book pays for its own participation), ``sigma`` the daily return volatility
   (``fallback_volatility`` where NaN or negative), clipped to ``limit_up`` for buys and
   ``limit_down`` for sells (never past the price limit) and never below one tick (0.01 CNY) for
   sells on unlimited sessions.
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
from typing import NamedTuple

import numpy as np
from numba import njit

# Status codes (``backtest.execution.fills.FillStatus`` names them).
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

__all__ = [
    "BookOrders",
    "Charges",
    "FillOut",
    "StockSession",
    "empty_fill_out",
    "fill_session_nb",
]


class StockSession(NamedTuple):
    """One session's market, per stock (arrays of length ``n``)."""

    #: ``float64``: execution reference (open or VWAP), CNY; NaN or ``<= 0``: no price
    reference_price: np.ndarray
    #: ``float64``: the session's limit prices, CNY; NaN where the session has no limit
    limit_up: np.ndarray
    limit_down: np.ndarray
    #: ``bool``: locked at limit-up (buys blocked), at limit-down (sells blocked), suspended
    locked_up: np.ndarray
    locked_down: np.ndarray
    suspended: np.ndarray
    #: ``float64``: shares traded in the market this session (NaN: none)
    day_volume: np.ndarray
    #: ``float64``: daily return standard deviation; NaN or negative -> ``fallback_volatility``
    volatility: np.ndarray
    #: ``int64``: round-lot step and minimum order (main board 100/100, STAR 1/200)
    lot_size: np.ndarray
    min_lot: np.ndarray


class Charges(NamedTuple):
    """The session's scalar terms: costs (fractions of notional, CNY minimum) and impact."""

    commission_rate: float
    min_commission: float
    stamp_duty_rate: float
    transfer_fee_rate: float
    #: ``Y`` of the square-root law
    impact_coefficient: float
    #: ``sigma`` where the volatility is NaN or negative
    fallback_volatility: float


class BookOrders(NamedTuple):
    """Every book's orders and account limits for one session (rows are books)."""

    #: ``int64[books, n]``: desired signed shares (+ buy, - sell, 0 none)
    order_shares: np.ndarray
    #: ``int64[books, n]``: the shares sellable today under T+1 (``<=`` the position)
    sellable_shares: np.ndarray
    #: ``float64[books]``: buying power before this session's fills, CNY
    cash_available: np.ndarray
    #: ``int64[books, n]``: the most shares each book may trade (the liquidity model's caps)
    cap_shares: np.ndarray
    #: ``float64[books, n]``: shares already counted in the impact participation ``q0``
    impact_base_shares: np.ndarray
    #: ``float64[books, n]``: the volume impact participation is measured against ``Vi``
    #: (each of these three may have one row instead: it then applies to every book)
    impact_volume: np.ndarray


class FillOut(NamedTuple):
    """The kernel's output arrays (written, never read); amounts in CNY."""

    #: ``int64[books, n]``: signed filled shares (+ bought, - sold)
    out_filled_shares: np.ndarray
    #: ``float64[books, n]``: fill price including impact; NaN where nothing filled
    out_fill_price: np.ndarray
    out_impact: np.ndarray
    out_commission: np.ndarray
    out_stamp_duty: np.ndarray
    out_transfer_fee: np.ndarray
    #: ``int8[books, n]``: ``FillStatus`` codes
    out_status: np.ndarray
    #: ``float64[books]``: ``cash_available`` plus proceeds, minus costs and fees
    out_cash_after: np.ndarray


def empty_fill_out(books: int, n: int) -> FillOut:
    """Allocate a :class:`FillOut` for ``books x n`` (nothing filled, status ``NO_ORDER``)."""
    return FillOut(
        out_filled_shares=np.zeros((books, n), dtype=np.int64),
        out_fill_price=np.full((books, n), np.nan),
        out_impact=np.zeros((books, n)),
        out_commission=np.zeros((books, n)),
        out_stamp_duty=np.zeros((books, n)),
        out_transfer_fee=np.zeros((books, n)),
        out_status=np.zeros((books, n), dtype=np.int8),
        out_cash_after=np.zeros(books),
    )


def _impact_price(
    reference: float,
    side: float,
    coefficient: float,
    sigma: float,
    base: float,
    shares: int,
    volume: float,
) -> float:
    """Return ``ref * (1 + side * Y * sigma * sqrt((q0 + q) / Vi))`` (before the limit clip)."""
    return reference * (1.0 + side * coefficient * sigma * math.sqrt((base + shares) / volume))


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
    base: float,
    shares: int,
    volume: float,
    limit_up: float,
    commission_rate: float,
    min_commission: float,
    transfer_fee_rate: float,
) -> float:
    """Return the cash a buy of ``shares`` costs: ``fill_price * q + commission + transfer``."""
    price = _clip_buy(
        _impact_price(reference, 1.0, coefficient, sigma, base, shares, volume), limit_up
    )
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
    base: float,
    shares: int,
    volume: float,
    limit_up: float,
    commission_rate: float,
    min_commission: float,
    transfer_fee_rate: float,
) -> float:
    """Compiled twin of :func:`_buy_cost` (numba cannot call the plain helpers)."""
    price = _clip_buy_nb(
        _impact_price_nb(reference, 1.0, coefficient, sigma, base, shares, volume), limit_up
    )
    notional = price * shares
    return (
        notional
        + _commission_nb(notional, commission_rate, min_commission)
        + transfer_fee_rate * notional
    )


@njit(cache=True)
def fill_session_nb(
    market: StockSession, charges: Charges, books: BookOrders, out: FillOut
) -> None:
    """Fill one session's orders of every book; see the module docstring for the model.

    Writes ``out`` (allocate it with :func:`empty_fill_out`: filled 0, price NaN, costs 0,
    status ``NO_ORDER``); reads everything else. Books are independent rows: book ``b``'s
    cash, caps and impact terms are its own.
    """
    for b in range(books.order_shares.shape[0]):
        _fill_book_nb(b, market, charges, books, out)


@njit(cache=True)
def _fill_book_nb(
    b: int, market: StockSession, charges: Charges, books: BookOrders, out: FillOut
) -> None:
    """Fill book ``b``'s row: sells first, then buys fitted to the cash left."""
    order_shares = books.order_shares[b]
    sellable_shares = books.sellable_shares[b]
    # a model's array with one row applies to every book
    cap_shares = books.cap_shares[b if books.cap_shares.shape[0] > 1 else 0]
    base_shares = books.impact_base_shares[b if books.impact_base_shares.shape[0] > 1 else 0]
    impact_volume = books.impact_volume[b if books.impact_volume.shape[0] > 1 else 0]
    reference_price = market.reference_price
    limit_up = market.limit_up
    limit_down = market.limit_down
    day_volume = market.day_volume
    volatility = market.volatility
    lot_size = market.lot_size
    min_lot = market.min_lot
    coefficient = charges.impact_coefficient
    commission_rate = charges.commission_rate
    min_commission = charges.min_commission
    transfer_fee_rate = charges.transfer_fee_rate
    filled = out.out_filled_shares[b]
    price_out = out.out_fill_price[b]
    impact = out.out_impact[b]
    commission = out.out_commission[b]
    stamp = out.out_stamp_duty[b]
    transfer = out.out_transfer_fee[b]
    status = out.out_status[b]
    cash = books.cash_available[b]
    n = order_shares.shape[0]
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
            if market.suspended[i]:
                status[i] = SUSPENDED
                continue
            if not (ref > 0.0) or not (volume > 0.0) or math.isinf(volume):
                status[i] = NO_PRICE
                continue
            if is_buy and market.locked_up[i]:
                status[i] = LOCKED_LIMIT_UP
                continue
            if (not is_buy) and market.locked_down[i]:
                status[i] = LOCKED_LIMIT_DOWN
                continue
            sellable = sellable_shares[i]
            if (not is_buy) and sellable <= 0:
                status[i] = NOT_SELLABLE
                continue
            sigma = volatility[i]
            if not (sigma >= 0.0):
                sigma = charges.fallback_volatility
            cap = cap_shares[i]
            lot = lot_size[i]
            minimum = min_lot[i]
            base = base_shares[i]
            basis = impact_volume[i]
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
                        coefficient,
                        sigma,
                        base,
                        quantity,
                        basis,
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
                                coefficient,
                                sigma,
                                base,
                                middle * lot,
                                basis,
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
                raw = _impact_price_nb(ref, 1.0, coefficient, sigma, base, quantity, basis)
                price = _clip_buy_nb(raw, limit_up[i])
            else:
                raw = _impact_price_nb(ref, -1.0, coefficient, sigma, base, quantity, basis)
                price = _clip_sell_nb(raw, limit_down[i])
            notional = price * quantity
            fee = _commission_nb(notional, commission_rate, min_commission)
            transfer_fee = transfer_fee_rate * notional
            if is_buy:
                cash = cash - (notional + fee + transfer_fee)
                filled[i] = quantity
                stamp_duty = 0.0
            else:
                stamp_duty = charges.stamp_duty_rate * notional
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
    out.out_cash_after[b] = cash
