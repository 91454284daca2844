"""Broker financing of a leveraged (DMA-style) book: interest, buying power, margin calls.

- ``PRE_OPEN``: interest accrues on the borrowed cash of the previous close,
  ``financing = borrowed * rate * calendar_days / 365`` with
  ``borrowed = max(margin_required - cash, 0)`` (cash below what the futures margin needs is
  lent by the broker; with no futures that is simply negative cash); it is paid from cash.
- ``OPEN``: the stock fills may spend ``cash + (max_gross_leverage - 1) * equity``.
- ``CLOSE``: the margin check: a book whose collateral ratio ``equity / stock holdings`` is
  below ``maintenance_ratio`` is in a margin call; the engine then replaces its orders by
  forced de-leveraging (scale :meth:`Financing.deleverage_scale`) or, with
  ``block_liquidation``, freezes the account (:meth:`Financing.frozen`).
"""

from __future__ import annotations

import numpy as np

from backtest.engine.futures.config import FinancingConfig
from backtest.market.panel import MarketData

__all__ = ["Financing"]

_DAYS_PER_YEAR = 365.0


class Financing:
    """The broker's loan to one book (engine-owned); ``paid`` is this session's interest."""

    def __init__(self, *, market: MarketData, config: FinancingConfig) -> None:
        self.market = market
        self.financing = config
        self.in_call = False
        self.paid = 0.0

    def accrue(self, t: int, cash: float, margin_required: float) -> float:
        """Return the interest for the night before session ``t`` (0 on the first session)."""
        self.paid = 0.0
        if t == 0:
            return 0.0
        dates = self.market.dates
        days = float((dates[t] - dates[t - 1]).astype(np.int64))
        borrowed = max(margin_required - cash, 0.0)
        self.paid = borrowed * self.financing.financing_rate * days / _DAYS_PER_YEAR
        return self.paid

    def buying_power(self, cash: float, equity: float) -> float:
        """Cash the stock fill kernel may spend: the broker's credit line on top of cash."""
        credit = (self.financing.max_gross_leverage - 1.0) * max(equity, 0.0)
        return max(cash + credit, 0.0)

    def margin_check(self, equity: float, holdings: float) -> bool:
        """True when the book is in a margin call at this close (collateral below maintenance)."""
        self.in_call = holdings > 0 and equity < self.financing.maintenance_ratio * holdings
        return self.in_call

    def deleverage_scale(self, equity: float, holdings: float) -> float:
        """Factor the forced orders scale holdings and hedge by (0 when equity is gone)."""
        if equity <= 0 or holdings <= 0:
            return 0.0
        return min(1.0, self.financing.target_leverage * equity / holdings)

    def frozen(self) -> bool:
        """True while a blocked-liquidation account is in a call (no orders at all)."""
        return self.in_call and self.financing.block_liquidation
