"""Execution: what the market lets every book's orders do, for all books at once.

- :mod:`backtest.execution.fill_nb`: the A-share fill kernel (numba) and its plain-Python twin,
  on named records of arrays; the model and its formulas are in its docstring;
- :mod:`backtest.execution.models`: the seams (:class:`LiquidityModel`, :class:`ImpactModel`)
  and their defaults (:class:`ParticipationCap`, :class:`SquareRootImpact`);
- :mod:`backtest.execution.fills`: :class:`OrderBatch` (intent), :class:`FillBatch` (the fact),
  :class:`FillStatus` codes and the validating one-book wrapper :func:`fill_orders`;
- :mod:`backtest.execution.exchange`: the :class:`Exchange`, one kernel call per session for
  every book.

Layering: this package imports numpy, numba and polars only (no store, no engine, no strategy).
"""

from backtest.execution.exchange import Exchange, ExchangeMarket
from backtest.execution.fills import FillBatch, FillStatus, OrderBatch, fill_orders
from backtest.execution.models import (
    ImpactModel,
    LiquidityModel,
    ParticipationCap,
    SquareRootImpact,
)

__all__ = [
    "Exchange",
    "ExchangeMarket",
    "FillBatch",
    "FillStatus",
    "ImpactModel",
    "LiquidityModel",
    "OrderBatch",
    "ParticipationCap",
    "SquareRootImpact",
    "fill_orders",
]
