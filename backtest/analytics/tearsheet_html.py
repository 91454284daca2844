"""The tear sheet's sections of the HTML report: headline, runs, figures and one block per book.

Each function returns HTML text (:mod:`backtest.analytics.html_parts`), percentages with a
``%`` sign, benchmarks by name (:func:`backtest.core.ids.index_name`):

- :func:`headline_section`: the figures a PM reads first, every book side by side, with the
  full :func:`~backtest.analytics.compare.compare` table folded under it;
- :func:`runs_section`: each book's strategy, parameters, range and run hash;
- :func:`figures_section`: the side-by-side figures of
  :mod:`backtest.analytics.tearsheet_figures`;
- :func:`book_section`: one book's yearly and monthly returns, worst drawdowns, crash
  diagnostics and top holdings;
- :func:`capacity_section`: the capacity curves, or the sentence why there are none.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from backtest.analytics.html_parts import details, figure_html, html_table
from backtest.analytics.linking import DateLike
from backtest.analytics.plots import drawdowns_figure
from backtest.analytics.tearsheet import period_table, worst_drawdowns
from backtest.analytics.tearsheet_book import BookSeries, top_holdings, trade_shortfall
from backtest.analytics.tearsheet_figures import (
    capacity_figure,
    equity_figure,
    excess_figure,
    exposure_figure,
    holdings_figure,
    rolling_figure,
    shortfall_figure,
)
from backtest.core.ids import index_name

if TYPE_CHECKING:
    from backtest.engine.result import Result

#: The headline's columns (``compare`` names) and their headers.
HEADLINE_COLUMNS: dict[str, str] = {
    "book": "book",
    "benchmark": "benchmark",
    "start_equity_cny": "size, CNY m",
    "total_return": "total return",
    "annualised_return": "annualised",
    "annualised_volatility": "volatility",
    "sharpe_ratio": "Sharpe",
    "max_drawdown": "max drawdown",
    "benchmark_return": "benchmark return",
    "excess_return": "excess",
    "tracking_error": "tracking error",
    "information_ratio": "IR",
    "cost_drag": "cost drag",
    "annualised_turnover": "turnover a year (x equity)",
    "fill_rate": "shares filled",
}
_HEADLINE_PERCENT = (
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "max_drawdown",
    "benchmark_return",
    "excess_return",
    "tracking_error",
    "cost_drag",
    "fill_rate",
)


def headline_section(headline: pl.DataFrame, *, percent_columns: Sequence[str]) -> str:
    """Return the PM's headline table and, folded, every column of ``compare``."""
    view = headline.select(list(HEADLINE_COLUMNS)).with_columns(
        pl.col("benchmark").map_elements(index_name, return_dtype=pl.String),
        pl.col("start_equity_cny") / 1e6,
    )
    glance = html_table(
        view,
        percent_columns=_HEADLINE_PERCENT,
        headers=HEADLINE_COLUMNS,
        caption="Every book at a glance (whole run)",
    )
    return glance + details(
        "Every figure of compare() (raw column names; returns as percentages)",
        html_table(headline, percent_columns=percent_columns, caption="compare(): every column"),
    )


def runs_section(books: Sequence[Result]) -> str:
    """Return each book's strategy, range, run hash and parameters (JSON)."""
    rows = [
        {
            "book": result.book,
            "strategy": result.strategy,
            "complete": result.complete,
            "first session": result.daily["date"][0],
            "last session": result.daily["date"][-1],
            "run hash": result.config_hash,
            "parameters": json.dumps(result.params, sort_keys=True, separators=(", ", ": ")),
        }
        for result in books
    ]
    return html_table(pl.DataFrame(rows), caption="Runs: what computed each book")


def figures_section(
    series: Sequence[BookSeries],
    books: Sequence[Result],
    *,
    crash_window: tuple[DateLike, DateLike],
) -> str:
    """Return the side-by-side figures: equity, excess, drawdowns, rolling, exposures, holdings,
    crash diagnostics."""
    return "\n".join(
        (
            figure_html(equity_figure(series), alt="equity against the benchmark"),
            figure_html(excess_figure(series), alt="cumulative excess"),
            figure_html(drawdowns_figure(books), alt="drawdowns"),
            figure_html(rolling_figure(series), alt="rolling figures"),
            figure_html(exposure_figure(books), alt="exposures and hedge ratio"),
            figure_html(holdings_figure(books), alt="holdings and concentration"),
            figure_html(shortfall_figure(books, window=crash_window), alt="crash diagnostics"),
        )
    )


def book_section(
    result: Result, series: BookSeries, *, crash_window: tuple[DateLike, DateLike]
) -> str:
    """Return one book's tables: yearly and monthly returns, worst drawdowns, crash, holdings."""
    calendar = period_table(series.dates, series.returns, series.benchmark_returns)
    calendar = calendar.with_columns(pl.col("series").replace({"benchmark": series.benchmark_name}))
    numeric = [c for c in calendar.columns if c not in ("year", "series")]
    yearly = calendar.select("year", "series", "year_total").pivot(
        on="series", index="year", values="year_total"
    )
    worst = worst_drawdowns(series.returns, series.dates)
    parts = [
        f'<h3 id="book-{html.escape(result.book)}">{html.escape(result.book)} against '
        f"{html.escape(series.benchmark_name)}</h3>",
        html_table(
            yearly,
            percent_columns=[c for c in yearly.columns if c != "year"],
            caption=f"{result.book}: yearly returns (each compounded; excess = book - benchmark)",
        ),
        html_table(
            calendar,
            percent_columns=numeric,
            caption=f"{result.book}: monthly returns",
            headers={"year_total": "year"},
            decimals=1,
        ),
        html_table(
            worst,
            percent_columns=["depth"],
            caption=f"{result.book}: five worst drawdowns (peak – = the initial cash; length "
            "in sessions, peak to recovery or to the last session)",
        ),
        _crash_table(result, crash_window),
        html_table(
            top_holdings(result),
            percent_columns=["weight"],
            headers={"value_cny": "value, CNY", "weight": "weight of equity"},
            caption=f"{result.book}: top holdings on {result.daily['date'][-1]}",
        ),
    ]
    return "\n".join(parts)


def _crash_table(result: Result, window: tuple[DateLike, DateLike]) -> str:
    first, last = (np.asarray(d).astype("datetime64[D]").item() for d in window)
    frame = trade_shortfall(result).filter(pl.col("date").is_between(first, last))
    if frame.height == 0:
        return f'<p class="note">{html.escape(result.book)}: no session in the crash window.</p>'
    ordered = float(frame["ordered_cny"].sum())
    summary = pl.DataFrame(
        {
            "window": [f"{frame['date'][0]} .. {frame['date'][-1]}"],
            "ordered, CNY m": [ordered / 1e6],
            "unfilled sells, CNY m": [float(frame["unfilled_sell_cny"].sum()) / 1e6],
            "worst day unfilled sells, CNY m": [float(frame["unfilled_sell_cny"].max()) / 1e6],  # type: ignore[arg-type]
            "target reached": [float(frame["filled_cny"].sum()) / ordered if ordered else None],
        }
    )
    return html_table(
        summary,
        percent_columns=["target reached"],
        caption=f"{result.book}: crash diagnostics, orders that could not fill (notional at "
        "reference price)",
    )


def capacity_section(curves: Mapping[str, pl.DataFrame] | None, *, note: str | None) -> str:
    """Return the capacity figure and tables (with ``note`` under the heading), or the note
    saying why there are none."""
    if not curves:
        reason = note or "give the run's specs to backtest.apps.capacity.capacity_curves"
        return f'<p class="note">Capacity curve: not computed ({html.escape(reason)}).</p>'
    percent = ["total_return", "annualised_return", "excess_return", "max_drawdown"]
    percent += ["cost_drag", "fill_rate"]
    tables = [
        html_table(
            curve.with_columns(pl.col("initial_cash_cny") / 1e9),
            percent_columns=percent,
            headers={"initial_cash_cny": "initial cash, CNY bn", "impact_cny": "impact, CNY"},
            caption=f"{name}: the same book at each size",
        )
        for name, curve in curves.items()
    ]
    remark = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return remark + figure_html(capacity_figure(curves), alt="capacity curve") + "\n".join(tables)
