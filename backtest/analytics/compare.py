"""Every book of a run side by side: one polars row per book.

:func:`compare` measures each :class:`~backtest.engine.result.Result` from its own ledger
(returns ``E_t / E_{t-1} - 1``, :func:`backtest.analytics.attribution.book_returns`) against its
benchmark index (the closes in :class:`~backtest.market.panel.MarketData`, or cash), with
the metrics of :mod:`backtest.analytics.metrics` (242 sessions a year):

- performance: total and annualised return, volatility, Sharpe ratio (risk-free 0), the deepest
  drawdown (:func:`backtest.core.returns.drawdowns`: the initial cash is the first high-water
  mark) with its peak, trough and recovery dates;
- against the book's own benchmark (:attr:`Result.benchmark`: an index, cash or a series;
  required, never guessed): its total return, the excess ``R_p - R_b`` (each side compounded,
  :func:`backtest.core.returns.cumulative_excess_return`) over the whole run and over each
  window (default 2023 and 2024-01-01..2024-02-07; null when the run has no session in it),
  tracking error and information ratio;
- costs by kind in CNY (impact, commission, stamp duty, transfer fee) and their drag,
  ``sum_t cost_t / E_{t-1}``;
- trading: mean daily and annualised one-sided turnover, the share of ordered shares that
  filled, and the sessions in which the book could not trade what it wanted: any order not
  fully filled (capped by participation, limit-locked, suspended, short of cash or sellable
  shares, no price), sessions with a limit-locked order, and the largest backlog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from backtest.analytics.attribution import COST_LINES, book_returns, starting_equity
from backtest.analytics.attribution_market import (
    DEFAULT_WINDOWS,
    book_benchmark,
    index_returns,
    session_rows,
)
from backtest.analytics.linking import DateLike
from backtest.analytics.metrics import (
    SESSIONS_PER_YEAR,
    annualised_return,
    annualised_volatility,
    cumulative_excess_return,
    cumulative_return,
    information_ratio,
    max_drawdown_details,
    sharpe_ratio,
    tracking_error,
)
from backtest.market.calendar import all_sessions

if TYPE_CHECKING:
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

#: ``status_counts`` columns that are not a failure to trade what the book wanted.
UNCONSTRAINED_STATUSES: tuple[str, ...] = ("no_order", "filled", "below_lot")
LOCKED_STATUSES: tuple[str, ...] = ("locked_limit_up", "locked_limit_down")


def as_result_list(results: Mapping[str, Result] | Sequence[Result]) -> list[Result]:
    """Return results as a list (a mapping's values in order); refuse an empty input."""
    books = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not books:
        raise ValueError("give at least one Result to compare")
    names = [r.book for r in books]
    if len(set(names)) != len(names):
        raise ValueError(f"book names must be unique to compare them; got {names}")
    return books


def benchmark_returns(result: Result, market: MarketData) -> NDArray[np.float64]:
    """Return the daily returns of a result's own benchmark over its sessions.

    0 for cash; an index's from the closes of ``market`` (0 on the market's first session);
    a series' own returns on those sessions.
    """
    benchmark = book_benchmark(result)
    if benchmark.kind == "cash":
        return np.zeros(result.daily.height)
    rows = session_rows(result, market.dates)
    if benchmark.kind == "series":
        return benchmark.series_returns(np.asarray(market.dates, dtype="datetime64[D]")[rows])
    closes = market.index_closes.get(benchmark.label)
    if closes is None:
        raise KeyError(
            f"book {result.book!r}: the market has no closes for benchmark {benchmark.label!r}; "
            f"it has {sorted(market.index_closes)} (or measure against Benchmark.cash())"
        )
    return index_returns(np.asarray(closes, dtype=np.float64))[rows]


def window_returns(
    dates: NDArray[np.datetime64],
    portfolio: NDArray[np.float64],
    benchmark: NDArray[np.float64],
    start: DateLike,
    end: DateLike,
) -> tuple[float, float, float] | None:
    """Return ``(R_p, R_b, excess)`` over the sessions in ``[start, end]`` (None if none).

    Each side compounded over the window's sessions, the excess ``R_p - R_b``
    (:func:`~backtest.core.returns.cumulative_excess_return`); the window starts from the close
    before its first session (the initial cash, when that is the run's first session).
    """
    first = np.asarray(start).astype("datetime64[D]")
    last = np.asarray(end).astype("datetime64[D]")
    inside = (dates >= first) & (dates <= last)
    if not inside.any():
        return None
    book, index = portfolio[inside], benchmark[inside]
    return cumulative_return(book), cumulative_return(index), cumulative_excess_return(book, index)


def window_gap(result: Result, start: DateLike, end: DateLike) -> str | None:
    """Return why a window is left blank for a book, or None when it is measured.

    A window is measured from the last close before its first session (:func:`window_returns`;
    from the initial cash when that session is the run's first: book and benchmark both start
    in cash). It is left blank, with this reason, when no session of the run falls in
    ``[start, end]``, or when the run starts after the window's first exchange session (the
    SSE calendar, :func:`backtest.market.calendar.all_sessions`): the part of the window
    before the run is unknown, and a figure over the rest would pass for the window's.

    Examples
    --------
    >>> import datetime as dt, polars as pl
    >>> class Run:  # a stand-in with the one frame this reads
    ...     daily = pl.DataFrame({"date": [dt.date(2024, 1, 3), dt.date(2024, 1, 4)]})
    >>> window_gap(Run(), "2023-01-01", "2023-12-31")
    'no session of the run in 2023-01-01..2023-12-31 (it starts 2024-01-03)'
    >>> window_gap(Run(), "2024-01-01", "2024-02-07")
    'the run starts 2024-01-03, after the window opened on 2024-01-02'
    >>> window_gap(Run(), "2024-01-03", "2024-02-07") is None
    True
    """
    dates = result.daily["date"].to_numpy().astype("datetime64[D]")
    first = np.asarray(start).astype("datetime64[D]")
    last = np.asarray(end).astype("datetime64[D]")
    inside = dates[(dates >= first) & (dates <= last)]
    if inside.size == 0:
        return f"no session of the run in {first}..{last} (it starts {dates[0]})"
    calendar = all_sessions().astype("datetime64[D]")
    if calendar.size and calendar[0] <= first:
        opened = calendar[(calendar >= first) & (calendar <= last)]
        if opened.size and opened[0] < dates[0]:
            return f"the run starts {dates[0]}, after the window opened on {opened[0]}"
    return None


def _date_or_none(value: np.datetime64 | None) -> Any:
    return None if value is None else value.astype("datetime64[D]").item()


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def compare_row(
    result: Result,
    market: MarketData | None = None,
    *,
    windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
) -> dict[str, Any]:
    """Return the :func:`compare` row of one book as a ``column -> value`` dict."""
    code = book_benchmark(result).label
    daily = result.daily
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    portfolio = book_returns(result)
    previous_equity = starting_equity(result)
    drawdown = max_drawdown_details(portfolio, dates=dates)
    row: dict[str, Any] = {
        "book": result.book,
        "strategy": result.strategy,
        "benchmark": code,
        "complete": result.complete,
        "first_date": _date_or_none(dates[0]),
        "last_date": _date_or_none(dates[-1]),
        "sessions": int(dates.size),
        "start_equity_cny": float(previous_equity[0]),
        "end_equity_cny": float(daily["equity"][-1]),
        "total_return": cumulative_return(portfolio),
        "annualised_return": annualised_return(portfolio),
        "annualised_volatility": _finite_or_none(annualised_volatility(portfolio)),
        "sharpe_ratio": _finite_or_none(sharpe_ratio(portfolio)),
        "max_drawdown": float(drawdown.depth),
        "max_drawdown_peak": _date_or_none(drawdown.peak_date),
        "max_drawdown_trough": _date_or_none(drawdown.trough_date),
        "max_drawdown_recovery": _date_or_none(drawdown.recovery_date),
    }
    benchmark_series = None if market is None else benchmark_returns(result, market)
    row["benchmark_return"] = (
        None if benchmark_series is None else cumulative_return(benchmark_series)
    )
    row["excess_return"] = (
        None if benchmark_series is None else cumulative_excess_return(portfolio, benchmark_series)
    )
    for label, (start, end) in (windows if windows is not None else DEFAULT_WINDOWS).items():
        window = (
            None
            if benchmark_series is None
            else window_returns(dates, portfolio, benchmark_series, start, end)
        )
        row[f"excess_{label}"] = None if window is None else window[2]
    row["tracking_error"] = (
        None
        if benchmark_series is None
        else _finite_or_none(tracking_error(portfolio, benchmark_series))
    )
    row["information_ratio"] = (
        None
        if benchmark_series is None
        else _finite_or_none(information_ratio(portfolio, benchmark_series))
    )
    row |= _costs_and_trading(result, previous_equity)
    return row


def _costs_and_trading(result: Result, previous_equity: NDArray[np.float64]) -> dict[str, Any]:
    daily = result.daily
    out: dict[str, Any] = {}
    drag = np.zeros(daily.height)
    for kind in COST_LINES:
        values = daily[kind].to_numpy().astype(np.float64)
        out[f"{kind}_cny"] = float(values.sum())
        drag += values / previous_equity
    out["costs_cny"] = float(sum(out[f"{kind}_cny"] for kind in COST_LINES))
    out["cost_drag"] = float(drag.sum())
    turnover = np.nan_to_num(daily["turnover"].to_numpy().astype(np.float64), nan=0.0)
    out["mean_daily_turnover"] = float(turnover.mean())
    out["annualised_turnover"] = float(turnover.mean() * SESSIONS_PER_YEAR)
    fills = result.fills
    ordered = float(fills["order_shares"].abs().sum()) if fills.height else 0.0
    filled = float(fills["filled_shares"].abs().sum()) if fills.height else 0.0
    out["orders"] = int(fills.height)
    out["fill_rate"] = filled / ordered if ordered > 0 else 1.0
    counts = result.status_counts
    constrained = [c for c in counts.columns if c != "date" and c not in UNCONSTRAINED_STATUSES]
    locked = [c for c in LOCKED_STATUSES if c in counts.columns]
    out["sessions_constrained"] = _sessions_with_any(counts, constrained)
    out["sessions_locked"] = _sessions_with_any(counts, locked)
    out["max_backlog_orders"] = int(daily["backlog_orders"].to_numpy().max(initial=0))
    return out


def _sessions_with_any(counts: pl.DataFrame, columns: list[str]) -> int:
    if not columns or counts.height == 0:
        return 0
    return int((counts.select(columns).to_numpy().sum(axis=1) > 0).sum())


def compare(
    results: Mapping[str, Result] | Sequence[Result],
    market: MarketData | None = None,
    *,
    windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
) -> pl.DataFrame:
    """Return one row per book with every headline figure side by side (module docs).

    Parameters
    ----------
    results
        Results by book name, or a list of them (one run or several).
    market
        The market they ran on; without it the benchmark columns are null.
    windows
        ``label -> (start, end)`` inclusive dates for the ``excess_<label>`` columns (default
        :data:`~backtest.analytics.attribution_market.DEFAULT_WINDOWS`).

    Each book is measured against its own benchmark (:attr:`Result.benchmark`); to measure
    one against another, compare ``result.replace(benchmark=Benchmark.index(code))``.

    Returns
    -------
    polars.DataFrame
        Columns ``book, strategy, benchmark, complete, first_date, last_date, sessions,
        start_equity_cny, end_equity_cny, total_return, annualised_return,
        annualised_volatility, sharpe_ratio, max_drawdown, max_drawdown_peak,
        max_drawdown_trough, max_drawdown_recovery, benchmark_return, excess_return,
        excess_<window>..., tracking_error, information_ratio, impact_cny, commission_cny,
        stamp_duty_cny, transfer_fee_cny, costs_cny, cost_drag, mean_daily_turnover,
        annualised_turnover, orders, fill_rate, sessions_constrained, sessions_locked,
        max_backlog_orders``. Returns are fractions (0.05 is 5 %).
    """
    rows = [compare_row(result, market, windows=windows) for result in as_result_list(results)]
    schema_overrides: dict[str, pl.DataType] = {
        name: pl.Float64()
        for name in rows[0]
        if name.startswith("excess_")
        or name in ("benchmark_return", "tracking_error", "information_ratio")
        or name in ("annualised_volatility", "sharpe_ratio")
    }
    date_columns = ("max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery")
    schema_overrides |= {name: pl.Date() for name in date_columns}
    return pl.DataFrame(rows, schema_overrides=schema_overrides, infer_schema_length=None)
