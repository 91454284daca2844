"""Figures of a run: each function returns a :class:`matplotlib.figure.Figure`.

Figures are built with the object API (``Figure()``, no ``pyplot``), so nothing touches
matplotlib's global figure manager and rendering uses the Agg canvas (PNG/SVG, no display):

- :func:`cumulative_excess_figure`: one book's excess return since the start, linked
  (Cariño) so that the stacked components add up to the cumulative excess every day;
- :func:`drawdowns_figure`: every book's drawdown from its high-water mark;
- :func:`active_size_exposure_figure`: every book's active exposure to the size factor (the
  small-cap tilt that the 2024 crash punished);
- :func:`crash_trading_figure`: fill rate and backlog of every book in the crash window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from numpy.typing import NDArray

from backtest.analytics.attribution import AttributionKind, BookAttribution, book_returns
from backtest.analytics.linking import DateLike, LinkingMethod, link_attribution
from backtest.analytics.metrics import drawdowns
from backtest.core.ids import index_name

if TYPE_CHECKING:
    from backtest.engine.result import Result

#: Components shown together in the stacked figure: ``group -> component columns``.
COMPONENT_GROUPS: dict[str, tuple[str, ...]] = {
    "allocation": ("allocation",),
    "selection": ("selection",),
    "interaction": ("interaction",),
    "market": ("market",),
    "size": ("size",),
    "beta": ("beta",),
    "liquidity": ("liquidity",),
    "reversal": ("reversal",),
    "specific": ("specific",),
    "benchmark replication": ("benchmark_replication",),
    "trading": ("trading",),
    "costs": ("impact", "commission", "stamp_duty", "transfer_fee"),
    "hedge (index)": ("hedge_index",),
    "basis carry": ("basis_carry",),
    "roll": ("roll",),
    "futures fees": ("futures_fees",),
    "financing": ("financing",),
    "corporate action": ("corporate_action",),
    "other": ("other",),
}
#: The January-February 2024 crash, as shown in :func:`crash_trading_figure`.
CRASH_WINDOW: tuple[str, str] = ("2024-01-02", "2024-02-29")
_FIGURE_SIZE = (9.0, 4.2)


def _fixed_figure(size: tuple[float, float]) -> Figure:
    """A figure with fixed margins (constrained layout costs about 0.3 s a panel to draw)."""
    figure = Figure(figsize=size)
    width, height = size
    figure.subplots_adjust(
        left=0.8 / width, right=0.98, bottom=0.45 / height, top=1.0 - 0.35 / height, hspace=0.3
    )
    return figure


def grouped_components(frame: pl.DataFrame) -> pl.DataFrame:
    """Sum a daily attribution frame's components into :data:`COMPONENT_GROUPS`.

    Groups none of whose columns are present are left out; the identity still holds because
    every component belongs to exactly one group (others are kept under their own name).
    """
    present = set(frame.columns)
    grouped = [
        pl.sum_horizontal([pl.col(c) for c in columns if c in present]).alias(group)
        for group, columns in COMPONENT_GROUPS.items()
        if any(c in present for c in columns)
    ]
    known = {c for columns in COMPONENT_GROUPS.values() for c in columns}
    reserved = ("date", "portfolio_return", "benchmark_return", "excess_return")
    loose = [pl.col(c) for c in frame.columns if c not in known and c not in reserved]
    return frame.select(*[pl.col(c) for c in reserved], *grouped, *loose)


def cumulative_excess_figure(
    attribution: BookAttribution,
    *,
    kind: AttributionKind = "brinson",
    method: LinkingMethod = "carino",
) -> Figure:
    """Return the stacked, linked cumulative excess of one book by component group.

    Positive contributions stack above zero and negative ones below; the black line is the
    cumulative excess ``R_p - R_b`` (the sum of the stacks).
    """
    linked = link_attribution(
        grouped_components(attribution.frame(kind)), method=method, cumulative=True
    )
    names = [c for c in linked.columns if c not in _LINKED_RESERVED]
    dates = linked["end"].to_numpy()
    values = linked.select(names).to_numpy().astype(np.float64).T
    figure = _fixed_figure(_FIGURE_SIZE)
    axes = figure.add_subplot()
    colours = [_colour(k) for k in range(len(names))]
    axes.stackplot(dates, np.clip(values, 0.0, None), colors=colours, labels=names, alpha=0.85)
    axes.stackplot(dates, np.clip(values, None, 0.0), colors=colours, alpha=0.85)
    axes.plot(dates, linked["excess_return"].to_numpy(), color="black", lw=1.6, label="excess")
    axes.axhline(0.0, color="grey", lw=0.6)
    axes.set_title(
        f"{attribution.book}: cumulative excess over {index_name(attribution.benchmark)} by "
        "component "
        f"({kind}, {method} linking)"
    )
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    axes.legend(loc="upper left", fontsize=7, ncol=4, frameon=False)
    return figure


_LINKED_RESERVED = ("start", "end", "portfolio_return", "benchmark_return", "excess_return")


def _colour(index: int) -> str:
    return f"C{index % 10}" if index < 10 else ("#7f3b08", "#2d004b", "#003c30")[index % 3]


def drawdowns_figure(results: Sequence[Result]) -> Figure:
    """Return every book's drawdown ``W_t / max_{s<=t} W_s - 1`` on one axis."""
    figure = _fixed_figure(_FIGURE_SIZE)
    axes = figure.add_subplot()
    for result in results:
        axes.plot(_dates(result), drawdowns(book_returns(result)), lw=1.2, label=result.book)
    axes.set_title("Drawdown from the high-water mark")
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    axes.legend(loc="lower left", fontsize=8, frameon=False)
    return figure


def active_size_exposure_figure(attributions: Mapping[str, BookAttribution]) -> Figure:
    """Return every book's active exposure to ``size`` (standardised units) over time."""
    figure = _fixed_figure(_FIGURE_SIZE)
    axes = figure.add_subplot()
    for name, attribution in attributions.items():
        exposure = attribution.active_exposure
        if "size" not in exposure.columns:
            continue
        axes.plot(exposure["date"].to_numpy(), exposure["size"].to_numpy(), lw=1.2, label=name)
    axes.axhline(0.0, color="grey", lw=0.6)
    axes.set_title("Active size exposure (negative = tilted to small caps)")
    axes.set_ylabel("active exposure (std. units)")
    axes.legend(loc="lower left", fontsize=8, frameon=False)
    return figure


def fill_rates(result: Result) -> pl.DataFrame:
    """Return ``date, ordered_shares, filled_shares, fill_rate, backlog_orders`` per session.

    ``fill_rate = sum|filled| / sum|ordered|`` over the session's orders (null without
    orders).
    """
    per_day = result.fills.group_by("date").agg(
        pl.col("order_shares").abs().sum().alias("ordered_shares"),
        pl.col("filled_shares").abs().sum().alias("filled_shares"),
    )
    return (
        result.daily.select("date", "backlog_orders")
        .join(per_day, on="date", how="left")
        .with_columns(
            pl.when(pl.col("ordered_shares") > 0)
            .then(pl.col("filled_shares") / pl.col("ordered_shares"))
            .otherwise(None)
            .alias("fill_rate")
        )
        .select("date", "ordered_shares", "filled_shares", "fill_rate", "backlog_orders")
        .sort("date")
    )


def crash_trading_figure(
    results: Sequence[Result], *, window: tuple[DateLike, DateLike] = CRASH_WINDOW
) -> Figure:
    """Return two panels for the crash window: fill rate and backlog orders of every book.

    When no session of the results falls in ``window``, the whole run is shown (and the title
    says so).
    """
    first, last = (np.asarray(d).astype("datetime64[D]").item() for d in window)
    inside = any(
        result.daily.filter(pl.col("date").is_between(first, last)).height for result in results
    )
    figure = _fixed_figure((_FIGURE_SIZE[0], 6.0))
    rate_axes, backlog_axes = figure.subplots(2, 1, sharex=True)
    for result in results:
        frame = fill_rates(result)
        if inside:
            frame = frame.filter(pl.col("date").is_between(first, last))
        dates = frame["date"].to_numpy()
        rate = frame["fill_rate"].cast(pl.Float64).to_numpy()
        rate_axes.plot(dates, rate, marker=".", lw=1.0, label=result.book)
        backlog_axes.plot(dates, frame["backlog_orders"].to_numpy(), lw=1.2, label=result.book)
    span = f"{first} .. {last}" if inside else "whole run (no session in the crash window)"
    rate_axes.set_title(f"Fill rate (filled / ordered shares) and backlog, {span}")
    rate_axes.set_ylabel("fill rate")
    rate_axes.set_ylim(-0.02, 1.02)
    backlog_axes.set_ylabel("orders in backlog")
    rate_axes.legend(loc="lower left", fontsize=8, frameon=False)
    return figure


def _dates(result: Result) -> NDArray[np.datetime64]:
    return np.asarray(result.daily["date"].to_numpy(), dtype="datetime64[D]")
