"""The bottom layer: identifiers every other layer shares (no numba, no polars, no I/O).

- :mod:`backtest.core.lines`: :class:`~backtest.core.lines.Line`, the one enumeration of the
  ledger's P&L lines (entries);
- :mod:`backtest.core.ids`: boards (:data:`~backtest.core.ids.Board`,
  :func:`~backtest.core.ids.board_of`), index codes, CFFEX futures products and their
  underlying indices;
- :mod:`backtest.core.returns`: the one definition of drawdown and of excess return.

Layers import downward only: ``core < rules < market < engine < strategies/analytics < apps``.
"""
