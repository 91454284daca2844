"""CFFEX stock-index futures fills: :func:`fill_futures_orders`, with slippage and fees.

The exchange's rules (products and multipliers, contract names, expiry and listing, dated
margin and fees) are in :mod:`backtest.rules.cffex`, the roll rules of a hedged book in
:mod:`backtest.rules.roll`, the futures bars in :mod:`backtest.market.futures_panel`; the
kernel is :func:`backtest.engine.futures.kernels.fill_nb`.

Daily settlement is in :mod:`backtest.engine.futures.settlement`, the hedge accounting lines
(futures P&L = index P&L + basis carry + roll) in :mod:`backtest.engine.futures.account`, the
quoted basis in :mod:`backtest.analytics.basis`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.engine.futures.kernels import fill_nb
from backtest.rules.cffex import DatedFeeRates, parse_contract


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesFills:
    """Fills of one session's futures orders, one entry per contract (immutable facts).

    Quantities are signed contracts; ``closed_overnight + closed_today + opened == filled``.
    ``status`` uses the ``kernels.FILL_*`` codes; unfilled orders (not tradable) stay open.
    """

    contracts: tuple[str, ...]
    filled: np.ndarray
    fill_price: np.ndarray
    fee_cny: np.ndarray
    closed_overnight: np.ndarray
    closed_today: np.ndarray
    opened: np.ndarray
    #: cost of the slippage against the reference price, CNY (``|q| * ticks * tick * m``)
    slippage_cny: np.ndarray
    status: np.ndarray


def fill_futures_orders(
    *,
    contracts: tuple[str, ...],
    orders: np.ndarray,
    reference_price: np.ndarray,
    held_overnight: np.ndarray,
    opened_today: np.ndarray | None = None,
    tradable: np.ndarray | None = None,
    fees: DatedFeeRates,
    slippage_ticks: int = 1,
    close_today_first: bool = True,
) -> FuturesFills:
    """Fill signed orders on contracts at ``reference_price`` (the open or the settle).

    Fill price ``p = reference + sign * slippage_ticks * 0.2`` (tick of the product); fees are
    ``fees.open_rate`` / ``close_rate`` / ``close_today_rate`` times the notional
    ``|q| * p * multiplier`` of the lots opened, closed from earlier sessions and closed the
    same session. ``close_today_first=True`` closes lots opened today before older ones, the
    order commonly described for CFFEX (an approximation; it only matters for round trips
    within one session). Futures have no T+1: a contract bought can be sold the same session.

    >>> import datetime as dt
    >>> f = fill_futures_orders(contracts=("IC2403",), orders=np.array([-2]),
    ...     reference_price=np.array([5409.0]), held_overnight=np.array([0]),
    ...     fees=DatedFeeRates(start=dt.date(2023, 3, 20), open_rate=0.23e-4,
    ...                        close_rate=0.23e-4, close_today_rate=2.3e-4))
    >>> float(f.fill_price[0]), round(float(f.fee_cny[0]), 2), float(f.slippage_cny[0])
    (5408.8, 49.76, 80.0)
    """
    n = len(contracts)
    specs = [parse_contract(c).spec for c in contracts]
    multiplier = np.array([s.multiplier_cny_per_point for s in specs], dtype=np.float64)
    tick = np.array([s.tick_points for s in specs], dtype=np.float64)
    order_array = np.asarray(orders, dtype=np.int64)
    price = np.asarray(reference_price, dtype=np.float64)
    held = np.asarray(held_overnight, dtype=np.int64)
    today = np.zeros(n, np.int64) if opened_today is None else np.asarray(opened_today, np.int64)
    can_trade = np.ones(n, np.bool_) if tradable is None else np.asarray(tradable, np.bool_)
    for name, array in (
        ("orders", order_array),
        ("reference_price", price),
        ("held_overnight", held),
        ("opened_today", today),
        ("tradable", can_trade),
    ):
        if array.shape != (n,):
            raise ValueError(f"{name} has shape {array.shape}; expected ({n},), one per contract")
    if np.any((held != 0) & (today != 0) & (np.sign(held) != np.sign(today))):
        raise ValueError("held_overnight and opened_today must not have opposite signs (net book)")
    if slippage_ticks < 0:
        raise ValueError(f"slippage_ticks must be >= 0, got {slippage_ticks}")
    filled, fill_price, fee, closed_overnight, closed_today, opened, status = fill_nb(
        order_array,
        price,
        can_trade,
        held,
        today,
        multiplier,
        tick,
        slippage_ticks,
        fees.open_rate,
        fees.close_rate,
        fees.close_today_rate,
        close_today_first,
    )
    slippage = np.abs(filled) * multiplier * tick * slippage_ticks
    return FuturesFills(
        contracts=tuple(contracts),
        filled=filled,
        fill_price=fill_price,
        fee_cny=fee,
        closed_overnight=closed_overnight,
        closed_today=closed_today,
        opened=opened,
        status=status,
        slippage_cny=slippage,
    )
