"""Plain vocabulary every layer shares: no numba, no polars, no I/O.

- :mod:`backtest.core.lines`: :class:`~backtest.core.lines.Line`, the one enumeration of the
  ledger's P&L lines (entries).
"""
