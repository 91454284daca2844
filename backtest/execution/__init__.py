"""Execution: what the market lets every book's orders do, for all books at once.

- :mod:`backtest.execution.fill_nb`: the A-share fill kernel (numba) and its plain-Python twin,
  on named records of arrays; the model and its formulas are in its docstring;
- :mod:`backtest.execution.models`: the seams (:class:`LiquidityModel`, :class:`ImpactModel`)
  and their defaults (:class:`ParticipationCap`, :class:`SquareRootImpact`);
- :mod:`backtest.execution.fills`: :class:`OrderBatch` (intent), :class:`FillBatch` (the fact),
  :class:`FillStatus` codes and the validating one-book wrapper :func:`fill_orders`;
- :mod:`backtest.execution.crowd`: the shared-market models (:class:`SharedProRata`,
  :class:`CrowdSquareRoot`): the books share one market's liquidity and pay the crowd's impact;
- :mod:`backtest.execution.propagator_nb`: lasting impact (:class:`Propagator`), the crowd's
  net flow moving later prices for every book, its kernel and twin;
- :mod:`backtest.execution.exchange`: the :class:`Exchange`, one kernel call per session for
  every book (and the impact state when a propagator is on).

Layering: this package imports numpy, numba and polars only (no store, no engine, no strategy).
"""

from backtest.execution.crowd import CrowdSquareRoot, SharedProRata
from backtest.execution.exchange import Exchange, ExchangeMarket
from backtest.execution.fills import FillBatch, FillStatus, OrderBatch, fill_orders
from backtest.execution.models import (
    ImpactModel,
    LiquidityModel,
    ParticipationCap,
    SquareRootImpact,
)
from backtest.execution.propagator_nb import Propagator

__all__ = [
    "CrowdSquareRoot",
    "Exchange",
    "ExchangeMarket",
    "FillBatch",
    "FillStatus",
    "ImpactModel",
    "LiquidityModel",
    "OrderBatch",
    "ParticipationCap",
    "Propagator",
    "SharedProRata",
    "SquareRootImpact",
    "fill_orders",
]
