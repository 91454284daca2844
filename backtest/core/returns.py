"""The two figures every layer reports of a book: its drawdown and its excess return.

One definition each, used by :meth:`backtest.engine.result.Result.summary`,
:func:`backtest.analytics.compare.compare`, the report and ``backtest replay``'s table
(and re-exported by :mod:`backtest.analytics.metrics`, beside the other metrics):

- **drawdown**: ``D_t = W_t / max_{s<=t} W_s - 1`` on the wealth path
  ``W_t = prod_{s<=t} (1 + r_t)`` with ``W_{-1} = 1``: the initial capital counts as a
  high-water mark, so a loss on the first session is a drawdown (:func:`drawdowns`,
  :func:`max_drawdown`);
- **excess return** over a window: ``R_p - R_b``, each side compounded over the same sessions
  (``R = prod_t (1 + r_t) - 1``), the arithmetic excess the linked attribution components add
  up to (:func:`cumulative_excess_return`; ``method="geometric"`` gives
  ``(1 + R_p)/(1 + R_b) - 1`` on request).

A book's daily return is ``r_t = E_t / E_{t-1} - 1`` with ``E_{-1}`` its initial cash
(:func:`returns_from_equity`). Pure numpy: no polars, no I/O, importable from every layer.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

ExcessMethod = Literal["arithmetic", "geometric"]


def as_returns(returns: ArrayLike, name: str = "returns") -> NDArray[np.float64]:
    """Return ``returns`` as a 1-D float64 array; refuse another shape, naming ``name``."""
    array = np.asarray(returns, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series of daily returns; got shape {array.shape}")
    return array


def as_aligned_pair(
    portfolio_returns: ArrayLike, benchmark_returns: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return both series as 1-D float64 arrays; refuse them unless aligned day by day."""
    portfolio = as_returns(portfolio_returns, "portfolio_returns")
    benchmark = as_returns(benchmark_returns, "benchmark_returns")
    if portfolio.shape != benchmark.shape:
        raise ValueError(
            "portfolio_returns and benchmark_returns must be aligned day by day; got lengths "
            f"{portfolio.shape[0]} and {benchmark.shape[0]}"
        )
    return portfolio, benchmark


def cumulative_return(returns: ArrayLike) -> float:
    """Return the compounded return over the whole series.

    ``R = prod_t (1 + r_t) - 1``. NaN on an empty series.

    Examples
    --------
    >>> round(cumulative_return([0.10, -0.10]), 12)
    -0.01
    """
    array = as_returns(returns)
    if array.size < 1:
        return float("nan")
    return float(np.prod(1.0 + array) - 1.0)


def drawdowns(returns: ArrayLike) -> NDArray[np.float64]:
    """Return the underwater curve: ``D_t = W_t / max_{s<=t} W_s - 1`` (0 or negative).

    The wealth path ``W_t = prod_{s<=t} (1 + r_s)`` starts from ``W_{-1} = 1`` (the initial
    capital counts as a high-water mark, so a loss on the first day is a drawdown).

    Examples
    --------
    >>> drawdowns([0.10, -0.10, 0.05]).round(6).tolist()
    [0.0, -0.1, -0.055]
    """
    wealth = np.cumprod(1.0 + as_returns(returns))
    high_water = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
    return wealth / high_water - 1.0


def max_drawdown(returns: ArrayLike) -> float:
    """Return the maximum drawdown ``min_t D_t`` (see :func:`drawdowns`); NaN on empty input.

    Examples
    --------
    >>> round(max_drawdown([0.10, -0.20, 0.05, 0.30]), 12)
    -0.2
    """
    array = as_returns(returns)
    if array.size < 1:
        return float("nan")
    return float(np.min(drawdowns(array)))


def cumulative_excess_return(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    method: ExcessMethod = "arithmetic",
) -> float:
    """Return the excess return over the whole window, compounding each side first.

    ``arithmetic``: ``R_p - R_b``; ``geometric``: ``(1 + R_p)/(1 + R_b) - 1``, with ``R`` the
    cumulative returns. The arithmetic figure is what the attribution components add up to
    after linking (:mod:`backtest.analytics.linking`). NaN on empty input.

    Examples
    --------
    >>> round(cumulative_excess_return([0.1, 0.1], [0.0, 0.1]), 12)
    0.11
    """
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    cumulative_portfolio = cumulative_return(portfolio)
    cumulative_benchmark = cumulative_return(benchmark)
    if method == "arithmetic":
        return cumulative_portfolio - cumulative_benchmark
    if method == "geometric":
        return (1.0 + cumulative_portfolio) / (1.0 + cumulative_benchmark) - 1.0
    raise ValueError(f"method must be 'arithmetic' or 'geometric'; got {method!r}")


def returns_from_equity(equity: ArrayLike, initial_equity: float) -> NDArray[np.float64]:
    """Return daily returns ``E_t / E_{t-1} - 1`` of an equity path, ``E_{-1} = initial_equity``.

    Examples
    --------
    >>> returns_from_equity([110.0, 99.0], 100.0).round(12).tolist()
    [0.1, -0.1]
    """
    path = as_returns(equity, "equity")
    previous = np.concatenate(([float(initial_equity)], path[:-1]))
    return np.asarray(path / previous - 1.0, dtype=np.float64)
