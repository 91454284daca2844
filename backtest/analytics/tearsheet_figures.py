"""The tear sheet's figures, every book side by side: each returns a matplotlib Figure.

Built with the object API (``Figure()``, the Agg canvas; no ``pyplot``, no global state), as
:mod:`backtest.analytics.plots`. Returns and exposures are drawn in percent, benchmarks by
name. One figure per subject, every book on it, so a report's figure count does not grow
with its books:

- :func:`equity_figure`: wealth of each book and of its benchmark, log scale;
- :func:`excess_figure`: cumulative excess ``R_p - R_b`` since the start;
- :func:`rolling_figure`: rolling volatility, Sharpe, beta and tracking error;
- :func:`exposure_figure`: gross and net exposure and the hedge ratio;
- :func:`holdings_figure`: names held, top-10 share, effective number of names;
- :func:`shortfall_figure`: unfilled sell notional and the share of targets reached in a
  window (the crash);
- :func:`capacity_figure`: return, excess and cost drag against the initial cash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, PercentFormatter

from backtest.analytics.linking import DateLike
from backtest.analytics.metrics import cumulative_excess_returns
from backtest.analytics.tearsheet import ROLLING_WINDOW, rolling_figures
from backtest.analytics.tearsheet_book import (
    BookSeries,
    exposures,
    holdings_concentration,
    trade_shortfall,
)

if TYPE_CHECKING:
    from backtest.engine.result import Result

_WIDTH = 9.0
_Location = Literal["best", "upper left", "lower left"]


def _percent() -> PercentFormatter:
    # a formatter belongs to one axis: a fresh one each time
    return PercentFormatter(xmax=1.0, decimals=0)


def _figure(rows: int = 1, height: float = 3.6, *, dates: bool = True) -> tuple[Figure, list[Axes]]:
    # fixed margins: matplotlib's constrained layout costs about 0.3 s a panel at savefig
    total = height * rows if rows > 1 else height
    figure = Figure(figsize=(_WIDTH, total))
    figure.subplots_adjust(
        left=0.08, right=0.98, bottom=0.45 / total, top=1.0 - 0.35 / total, hspace=0.45
    )
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    if dates:  # short labels that never overlap, whatever the span
        locator = AutoDateLocator()
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return figure, list(axes)


def _legend(axes: Axes, location: _Location = "best") -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc=location, fontsize=7, frameon=False, ncol=2)


def equity_figure(books: Sequence[BookSeries]) -> Figure:
    """Return each book's wealth ``prod(1 + r)`` (solid) and its benchmark's (dashed), log scale.

    Both start at 1 (the initial cash); a benchmark shared by several books is drawn once.
    """
    figure, (axes,) = _figure(height=4.2)
    drawn: set[str] = set()
    for k, series in enumerate(books):
        colour = f"C{k % 10}"
        axes.plot(
            series.dates, np.cumprod(1.0 + series.returns), color=colour, lw=1.3, label=series.book
        )
        if series.benchmark_name not in drawn and np.any(series.benchmark_returns != 0.0):
            drawn.add(series.benchmark_name)
            axes.plot(
                series.dates,
                np.cumprod(1.0 + series.benchmark_returns),
                color=colour,
                lw=1.0,
                ls="--",
                label=series.benchmark_name,
            )
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(FormatStrFormatter("%.2f"))
    axes.yaxis.set_minor_formatter(FormatStrFormatter("%.2f"))
    axes.set_title("Equity against the benchmark (log scale; initial cash = 1; cash is flat at 1)")
    axes.set_ylabel("wealth")
    _legend(axes, "upper left")
    return figure


def excess_figure(books: Sequence[BookSeries]) -> Figure:
    """Return each book's cumulative excess ``R_p(t) - R_b(t)``, each compounded since the start."""
    figure, (axes,) = _figure()
    for series in books:
        path = cumulative_excess_returns(series.returns, series.benchmark_returns)
        axes.plot(series.dates, path, lw=1.3, label=f"{series.book} vs {series.benchmark_name}")
    axes.axhline(0.0, color="grey", lw=0.6)
    axes.yaxis.set_major_formatter(_percent())
    axes.set_title("Cumulative excess return over the benchmark")
    _legend(axes, "lower left")
    return figure


def rolling_figure(books: Sequence[BookSeries], *, window: int = ROLLING_WINDOW) -> Figure:
    """Return four panels of :func:`~backtest.analytics.tearsheet.rolling_figures` per book."""
    figure, axes = _figure(4, height=2.2)
    titles = {
        "volatility": "volatility (annualised)",
        "sharpe": "Sharpe ratio",
        "beta": "beta to the benchmark (none for cash)",
        "tracking_error": "tracking error (annualised)",
    }
    for series in books:
        figures = rolling_figures(series.returns, series.benchmark_returns, window=window)
        for panel, name in zip(axes, titles, strict=True):
            panel.plot(series.dates, figures[name], lw=1.1, label=series.book)
    for panel, (name, title) in zip(axes, titles.items(), strict=True):
        panel.set_title(f"Rolling {window}-session {title}", fontsize=9)
        if name in ("volatility", "tracking_error"):
            panel.yaxis.set_major_formatter(_percent())
    _legend(axes[0], "upper left")
    return figure


def exposure_figure(results: Sequence[Result]) -> Figure:
    """Return gross and net exposure and the hedge ratio of every book (percent of equity)."""
    figure, axes = _figure(3, height=2.3)
    for result in results:
        frame = exposures(result)
        dates = frame["date"].to_numpy()
        for panel, column in zip(
            axes, ("gross_exposure", "net_exposure", "hedge_ratio"), strict=True
        ):
            panel.plot(dates, frame[column].cast(pl.Float64).to_numpy(), lw=1.1, label=result.book)
    axes[0].set_title("Gross exposure: (stocks + |futures|) / equity", fontsize=9)
    axes[1].set_title("Net exposure: (stocks + futures) / equity", fontsize=9)
    axes[2].set_title("Hedge ratio: futures short / stocks held", fontsize=9)
    for panel in axes:
        panel.yaxis.set_major_formatter(_percent())
    _legend(axes[0], "upper left")
    return figure


def holdings_figure(results: Sequence[Result]) -> Figure:
    """Return names held, top-10 share of the stock book and effective number of names."""
    figure, axes = _figure(3, height=2.3)
    for result in results:
        frame = holdings_concentration(result)
        dates = frame["date"].to_numpy()
        for panel, column in zip(axes, ("holdings", "top_share", "effective_names"), strict=True):
            panel.plot(dates, frame[column].cast(pl.Float64).to_numpy(), lw=1.1, label=result.book)
    axes[0].set_title("Names held", fontsize=9)
    axes[1].set_title("Top-10 share of the stock book", fontsize=9)
    axes[1].yaxis.set_major_formatter(_percent())
    axes[2].set_title("Effective number of names (1 / sum of squared shares)", fontsize=9)
    for panel in (axes[0], axes[2]):
        panel.set_yscale("log")
    _legend(axes[0], "upper left")
    return figure


def shortfall_figure(results: Sequence[Result], *, window: tuple[DateLike, DateLike]) -> Figure:
    """Return the crash diagnostics: unfilled sell notional and the share of targets reached.

    From :func:`~backtest.analytics.tearsheet_book.trade_shortfall`, over ``window`` (the whole
    run when no session falls in it; the title says so). Target reached is drawn on sessions
    with orders only, as points, so the rebalance cadence does not draw a saw.
    """
    first, last = (np.asarray(d).astype("datetime64[D]").item() for d in window)
    frames = {r.book: trade_shortfall(r) for r in results}
    inside = any(f.filter(pl.col("date").is_between(first, last)).height for f in frames.values())
    figure, (sells, reached) = _figure(2, height=2.6)
    for name, frame in frames.items():
        if inside:
            frame = frame.filter(pl.col("date").is_between(first, last))
        dates = frame["date"].to_numpy()
        sells.plot(dates, frame["unfilled_sell_cny"].to_numpy() / 1e6, lw=1.2, label=name)
        rate = frame["target_reached"].cast(pl.Float64).to_numpy()
        reached.plot(dates, rate, marker="o", ms=3, ls=":", lw=0.6, label=name)
    span = f"{first} .. {last}" if inside else "whole run (no session in the crash window)"
    sells.set_title(f"Sell orders that could not fill, CNY million a session, {span}", fontsize=9)
    reached.set_title(
        "Share of the session's target notional reached (filled / ordered, at reference price)",
        fontsize=9,
    )
    reached.set_ylim(-0.02, 1.05)
    reached.yaxis.set_major_formatter(_percent())
    _legend(sells, "upper left")
    return figure


def capacity_figure(curves: Mapping[str, pl.DataFrame]) -> Figure:
    """Return annualised return, excess and cost drag against the initial cash, per book.

    ``curves`` maps a book to its :func:`backtest.apps.capacity.capacity_curves` frame.
    """
    figure, axes = _figure(3, height=2.3, dates=False)
    for name, curve in curves.items():
        cash = curve["initial_cash_cny"].to_numpy() / 1e9
        for panel, column in zip(
            axes, ("annualised_return", "excess_return", "cost_drag"), strict=True
        ):
            panel.plot(cash, curve[column].cast(pl.Float64).to_numpy(), marker="o", label=name)
    axes[0].set_title(
        "Annualised return against the book size (through the impact model)", fontsize=9
    )
    axes[1].set_title("Excess return over the benchmark, whole run", fontsize=9)
    axes[2].set_title("Cost drag (impact, commission, taxes), whole run", fontsize=9)
    for panel in axes:
        panel.set_xscale("log")
        panel.yaxis.set_major_formatter(_percent())
    axes[2].set_xlabel("initial cash, CNY billion")
    _legend(axes[0], "lower left")
    return figure
