"""The tear sheet's figures of a return series: pure functions of dates and daily returns.

What a portfolio manager reads of one book against its benchmark, each figure from the
daily simple returns ``r_t`` of the book (:func:`backtest.analytics.attribution.book_returns`)
and ``b_t`` of its benchmark, aligned session by session:

- :func:`period_returns`: monthly or yearly returns of the book and the benchmark, each
  compounded over the period's sessions, and the excess ``R_p - R_b`` (the one definition of
  :func:`backtest.core.returns.cumulative_excess_return`);
- :func:`rolling_figures`: rolling volatility, Sharpe ratio, beta and tracking error over the
  last ``window`` sessions (60 by default, about a quarter);
- :func:`worst_drawdowns`: the deepest drawdown episodes of the wealth path (the initial cash
  is the first high-water mark, as :func:`backtest.core.returns.drawdowns`), with peak,
  trough, recovery, depth and length.

The book's holdings, exposures and trading are in :mod:`backtest.analytics.tearsheet_book`,
the figures in :mod:`backtest.analytics.tearsheet_figures`. Returns are fractions here
(0.05 is 5 %); the report prints them as percentages.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from backtest.analytics.metrics import ROUND_OFF_TOLERANCE, SESSIONS_PER_YEAR
from backtest.core.returns import (
    as_aligned_pair,
    cumulative_excess_return,
    cumulative_return,
    drawdowns,
)

__all__ = [
    "ROLLING_WINDOW",
    "Period",
    "period_returns",
    "period_table",
    "rolling_figures",
    "worst_drawdowns",
]

#: Sessions in the rolling window of :func:`rolling_figures` (about a quarter).
ROLLING_WINDOW = 60
Period = Literal["month", "year"]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _as_dates(dates: ArrayLike, size: int) -> NDArray[np.datetime64]:
    days = np.asarray(dates, dtype="datetime64[D]")
    if days.shape != (size,):
        raise ValueError(f"dates must align with the returns; got {days.shape} for {size} returns")
    return days


def period_returns(
    dates: ArrayLike,
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    period: Period = "month",
) -> pl.DataFrame:
    """Return each calendar month's (or year's) compounded returns and their excess.

    ``R = prod_{t in period} (1 + r_t) - 1`` for the book and the benchmark over the sessions
    of the period, and ``excess = R_p - R_b``. A period starts from the close before its first
    session, so the months of a year compound to the year: ``prod(1 + R_month) - 1 =
    R_year``.

    Returns
    -------
    polars.DataFrame
        ``year, month`` (``month`` null for years), ``sessions, portfolio_return,
        benchmark_return, excess_return``, in date order.

    Examples
    --------
    >>> frame = period_returns(
    ...     ["2024-01-30", "2024-01-31", "2024-02-01"], [0.1, 0.1, -0.5], [0.0, 0.1, 0.0]
    ... )
    >>> [(m, round(p, 6), round(x, 6)) for m, p, x in frame.select("month", "portfolio_return",
    ...     "excess_return").rows()]
    [(1, 0.21, 0.11), (2, -0.5, -0.5)]
    """
    if period not in ("month", "year"):
        raise ValueError(f"period must be 'month' or 'year'; got {period!r}")
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    days = _as_dates(dates, portfolio.size)
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    key = years * 100 + (months if period == "month" else 0)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.concatenate((starts[1:], [key.size]))
    rows = []
    for first, stop in zip(starts.tolist(), ends.tolist(), strict=True):
        book, index = portfolio[first:stop], benchmark[first:stop]
        rows.append(
            (
                int(years[first]),
                int(months[first]) if period == "month" else None,
                stop - first,
                cumulative_return(book),
                cumulative_return(index),
                cumulative_excess_return(book, index),
            )
        )
    return pl.DataFrame(
        rows,
        schema={
            "year": pl.Int32,
            "month": pl.Int32,
            "sessions": pl.Int64,
            "portfolio_return": pl.Float64,
            "benchmark_return": pl.Float64,
            "excess_return": pl.Float64,
        },
        orient="row",
    )


def period_table(
    dates: ArrayLike, portfolio_returns: ArrayLike, benchmark_returns: ArrayLike
) -> pl.DataFrame:
    """Return the monthly returns as a calendar: one row per year and series, one column a month.

    Rows ``(year, series)`` with ``series`` in book, benchmark, excess; columns ``Jan``..``Dec``
    (null for months without a session) and ``year`` (the year's compounded figure, from
    :func:`period_returns` with ``period="year"``).
    """
    monthly = period_returns(dates, portfolio_returns, benchmark_returns, period="month")
    yearly = period_returns(dates, portfolio_returns, benchmark_returns, period="year")
    series = {"book": "portfolio_return", "benchmark": "benchmark_return"}
    series["excess"] = "excess_return"
    rows = []
    for year_row in yearly.iter_rows(named=True):
        year = year_row["year"]
        inside = monthly.filter(pl.col("year") == year)
        for label, column in series.items():
            row: dict[str, object] = {"year": year, "series": label}
            values = dict(zip(inside["month"].to_list(), inside[column].to_list(), strict=True))
            row |= {name: values.get(k + 1) for k, name in enumerate(_MONTHS)}
            row["year_total"] = year_row[column]
            rows.append(row)
    schema = {"year": pl.Int32, "series": pl.String} | dict.fromkeys(_MONTHS, pl.Float64)
    return pl.DataFrame(rows, schema=schema | {"year_total": pl.Float64}, orient="row")


def rolling_figures(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    window: int = ROLLING_WINDOW,
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> dict[str, NDArray[np.float64]]:
    """Return rolling volatility, Sharpe ratio, beta and tracking error, one value a session.

    Over the ``window`` sessions ending at ``t`` (NaN before the first full window), with
    sample moments (``ddof=1``) and ``A = sessions_per_year``:

    - ``volatility = std(r) sqrt(A)``;
    - ``sharpe = mean(r) / std(r) sqrt(A)`` (risk-free 0; NaN when ``std(r)`` is round-off,
      :data:`~backtest.analytics.metrics.ROUND_OFF_TOLERANCE`);
    - ``beta = cov(r, b) / var(b)`` (NaN when the benchmark does not move: cash);
    - ``tracking_error = std(r - b) sqrt(A)``.

    Examples
    --------
    >>> figures = rolling_figures([0.01, 0.03, 0.02], [0.01, 0.02, 0.03], window=2)
    >>> [round(float(v), 6) for v in figures["beta"]]
    [nan, 2.0, -1.0]
    """
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    if window < 2:
        raise ValueError(f"window must be at least 2 sessions; got {window}")
    size = portfolio.size
    out = {
        name: np.full(size, np.nan) for name in ("volatility", "sharpe", "beta", "tracking_error")
    }
    if size < window:
        return out
    windows_p = np.lib.stride_tricks.sliding_window_view(portfolio, window)
    windows_b = np.lib.stride_tricks.sliding_window_view(benchmark, window)
    mean_p = windows_p.mean(axis=1)
    deviation_p = windows_p - mean_p[:, None]
    deviation_b = windows_b - windows_b.mean(axis=1)[:, None]
    std_p = np.sqrt((deviation_p**2).sum(axis=1) / (window - 1))
    variance_b = (deviation_b**2).sum(axis=1) / (window - 1)
    covariance = (deviation_p * deviation_b).sum(axis=1) / (window - 1)
    active = windows_p - windows_b
    std_active = active.std(axis=1, ddof=1)
    annual = np.sqrt(sessions_per_year)
    risky = std_p > ROUND_OFF_TOLERANCE * np.maximum(1.0, np.abs(mean_p))
    moving = variance_b > ROUND_OFF_TOLERANCE**2
    with np.errstate(divide="ignore", invalid="ignore"):
        out["volatility"][window - 1 :] = std_p * annual
        out["sharpe"][window - 1 :] = np.where(risky, mean_p / std_p * annual, np.nan)
        out["beta"][window - 1 :] = np.where(moving, covariance / variance_b, np.nan)
        out["tracking_error"][window - 1 :] = std_active * annual
    return out


def worst_drawdowns(returns: ArrayLike, dates: ArrayLike, *, count: int = 5) -> pl.DataFrame:
    """Return the ``count`` deepest drawdown episodes, deepest first.

    An episode runs from a high-water mark of the wealth path ``W_t = prod(1 + r)`` (the
    initial cash, ``W_{-1} = 1``, is the first) until wealth is back at that mark. Its
    ``peak`` is the last session at the mark (null when it is the initial cash), ``trough``
    the session of its lowest wealth, ``recovery`` the first session back at the mark (null
    while still under water), ``depth = W_trough / W_peak - 1`` and ``length_sessions`` the
    sessions from peak to recovery (to the last session while under water; the initial cash
    counts as the session before the first).

    Examples
    --------
    >>> frame = worst_drawdowns(
    ...     [0.1, -0.2, 0.3, -0.1, 0.1], ["2024-01-0%d" % d for d in range(2, 7)], count=2
    ... )
    >>> [(str(t), round(d, 6), n, r) for t, d, n, r in frame.drop("peak", "recovery").rows()]
    [('2024-01-03', -0.2, 2, True), ('2024-01-05', -0.1, 2, False)]
    """
    array = np.asarray(returns, dtype=np.float64)
    days = _as_dates(dates, array.size)
    underwater = drawdowns(array)
    below = underwater < 0.0
    starts = np.flatnonzero(below & ~np.concatenate(([False], below[:-1])))
    episodes = []
    for first in starts.tolist():
        above = np.flatnonzero(~below[first:])
        recovery = first + int(above[0]) if above.size else None
        stop = recovery if recovery is not None else array.size
        trough = first + int(np.argmin(underwater[first:stop]))
        peak = first - 1
        last = recovery if recovery is not None else array.size - 1
        episodes.append(
            {
                "peak": days[peak].item() if peak >= 0 else None,
                "trough": days[trough].item(),
                "recovery": days[recovery].item() if recovery is not None else None,
                "depth": float(underwater[trough]),
                "length_sessions": last - peak,
                "recovered": recovery is not None,
            }
        )
    episodes.sort(key=lambda episode: episode["depth"])
    schema = {
        "peak": pl.Date,
        "trough": pl.Date,
        "recovery": pl.Date,
        "depth": pl.Float64,
        "length_sessions": pl.Int64,
        "recovered": pl.Boolean,
    }
    return pl.DataFrame(episodes[:count], schema=schema)
