"""The HTML report of a run: one self-contained page with every book.

:func:`write_report` lays out, for the books of a run (their results and the
:class:`MarketData` they ran on):

1. the headline table (:func:`backtest.analytics.compare.compare`), every book side by side;
2. for each window (default 2023 and the 2024 crash), the linked attribution of the excess
   return of every book: Brinson-Fachler by cap bucket with cost, hedge and financing lines,
   then factors (market, size, beta, liquidity, reversal, specific) with the same lines;
   columns add up to the excess (Cariño linking);
3. the average weights by cap bucket, book against benchmark, in each window;
4. figures: cumulative excess stacked by component (one per book), drawdowns, active size
   exposure, fill rate and backlog in the crash.

Figures are embedded as base64 PNG, tables as HTML; the page needs no other file and no
network. Missing values (a window without sessions, a ratio of a flat series) show as "–".

``backtest report`` (:mod:`backtest.apps.report`) loads saved runs and their market and calls
:func:`write_report`.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from backtest.analytics.attribution import AttributionKind, BookAttribution, attribute_books
from backtest.analytics.attribution_market import DEFAULT_WINDOWS, AttributionConfig
from backtest.analytics.compare import as_result_list, compare
from backtest.analytics.linking import DateLike, link_attribution
from backtest.analytics.plots import (
    active_size_exposure_figure,
    crash_trading_figure,
    cumulative_excess_figure,
    drawdowns_figure,
    grouped_components,
)

if TYPE_CHECKING:
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

MISSING = "–"
#: compare() columns formatted as percentages in the headline table.
PERCENT_COLUMNS: tuple[str, ...] = (
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "max_drawdown",
    "benchmark_return",
    "excess_return",
    "tracking_error",
    "cost_drag",
    "mean_daily_turnover",
    "fill_rate",
)
_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.82em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.negative { color: #b2182b; } .note { color: #555; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
"""


def format_value(value: Any, *, percent: bool = False) -> str:
    """Return a table cell's text: ``MISSING`` for None/NaN/inf, percentages with 2 decimals.

    >>> format_value(0.01234, percent=True), format_value(float("nan")), format_value(3)
    ('1.23%', '–', '3')
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return MISSING
        if percent:
            return f"{round(value * 100, 2) + 0.0:.2f}%"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return html.escape(str(value))


def html_table(
    frame: pl.DataFrame, *, percent_columns: Sequence[str] = (), caption: str | None = None
) -> str:
    """Return a polars frame as an HTML table (values through :func:`format_value`)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in frame.columns)
    body = []
    for row in frame.iter_rows():
        cells = []
        for name, value in zip(frame.columns, row, strict=True):
            text = format_value(value, percent=name in percent_columns)
            negative = text.startswith("-") and text.strip("-0.,%") != ""
            cells.append(f'<td class="negative">{text}</td>' if negative else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_html(figure: Figure, *, alt: str, dpi: int = 90) -> str:
    """Return a figure as an ``<img>`` with an embedded base64 PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def window_attribution_table(
    attributions: Mapping[str, BookAttribution],
    *,
    window: tuple[DateLike, DateLike],
    kind: AttributionKind,
) -> pl.DataFrame:
    """Return one row per book: the window's linked attribution by component group.

    Books without a session in the window are left out.
    """
    rows = []
    for name, attribution in attributions.items():
        frame = attribution.frame(kind)
        first, last = (_as_date(d) for d in window)
        daily = grouped_components(frame.filter(pl.col("date").is_between(first, last)))
        if daily.height == 0:
            continue
        linked = link_attribution(daily)
        rows.append(
            pl.DataFrame({"book": [name], "benchmark": [attribution.benchmark]}).hstack(
                linked.drop("start", "end")
            )
        )
    return pl.concat(rows, how="diagonal") if rows else pl.DataFrame()


def bucket_weight_table(
    attributions: Mapping[str, BookAttribution], *, window: tuple[DateLike, DateLike]
) -> pl.DataFrame:
    """Return each book's mean portfolio and benchmark weight by cap bucket over a window."""
    first, last = (_as_date(d) for d in window)
    rows = []
    for name, attribution in attributions.items():
        inside = attribution.bucket_weights.filter(pl.col("date").is_between(first, last))
        if inside.height == 0:
            continue
        means = inside.group_by("bucket", maintain_order=True).agg(
            pl.col("portfolio_weight").mean(), pl.col("benchmark_weight").mean()
        )
        row: dict[str, Any] = {"book": name}
        for bucket, weight_p, weight_b in means.iter_rows():
            row[bucket] = f"{_percent_1dp(weight_p)} / {_percent_1dp(weight_b)}"
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _percent_1dp(value: float) -> str:
    return f"{round(value * 100, 1) + 0.0:.1f}%" if math.isfinite(value) else MISSING


def _as_date(value: DateLike) -> dt.date:
    day: dt.date = np.asarray(value).astype("datetime64[D]").item()
    return day


def render_report(
    results: Mapping[str, Result] | Sequence[Result],
    market: MarketData,
    *,
    windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
    config: AttributionConfig | None = None,
    title: str = "A-share crowding backtest: books side by side",
) -> str:
    """Return the report's HTML text (see the module docs); each book against its benchmark."""
    books = as_result_list(results)
    chosen = dict(windows if windows is not None else DEFAULT_WINDOWS)
    headline = compare(books, market, windows=chosen)
    attributions = attribute_books(books, market, config=config)
    excess_columns = [c for c in headline.columns if c.startswith("excess_")]
    percent = (*PERCENT_COLUMNS, *excess_columns)
    first = min(r.daily["date"][0] for r in books)
    last = max(r.daily["date"][-1] for r in books)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">{len(books)} books, {first} .. {last}; market '
        f"{market.shape[1]} stocks, {market.shape[0]} sessions. Returns are fractions of the "
        "previous session's equity; excess = book - benchmark, each compounded; window "
        "attributions are Cari&ntilde;o-linked and add up to the window's excess.</p>",
        "<h2>Headline: every book</h2>",
        html_table(_headline_view(headline), percent_columns=percent),
        "<h3>Runs</h3>",
        html_table(_runs_view(books)),
    ]
    for label, window in chosen.items():
        parts.append(f"<h2>Window {html.escape(label)}: {window[0]} .. {window[1]}</h2>")
        brinson = window_attribution_table(attributions, window=window, kind="brinson")
        if brinson.height == 0:
            parts.append('<p class="note">No session of the run falls in this window.</p>')
            continue
        factors = window_attribution_table(attributions, window=window, kind="factors")
        numeric = [c for c in brinson.columns if c not in ("book", "benchmark")]
        parts += [
            html_table(
                brinson,
                percent_columns=numeric,
                caption="Brinson-Fachler by cap bucket + trading, costs, hedge, financing",
            ),
            html_table(
                factors,
                percent_columns=[c for c in factors.columns if c not in ("book", "benchmark")],
                caption="Factors (market, size, beta, liquidity, reversal, specific) + lines",
            ),
            html_table(
                bucket_weight_table(attributions, window=window),
                caption="Mean weight by cap bucket: book / benchmark",
            ),
        ]
    parts.append("<h2>Figures</h2>")
    for name, attribution in attributions.items():
        parts.append(
            figure_html(cumulative_excess_figure(attribution), alt=f"cumulative excess {name}")
        )
    parts += [
        figure_html(drawdowns_figure(books), alt="drawdowns"),
        figure_html(active_size_exposure_figure(attributions), alt="active size exposure"),
        figure_html(crash_trading_figure(books), alt="fill rate and backlog in the crash"),
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _headline_view(headline: pl.DataFrame) -> pl.DataFrame:
    """The compare() frame without the columns that belong to the runs table."""
    return headline.drop("strategy", "complete", "first_date", "last_date", "start_equity_cny")


def _runs_view(books: Sequence[Result]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "book": [r.book for r in books],
            "strategy": [r.strategy for r in books],
            "complete": [r.complete for r in books],
            "first_date": [r.daily["date"][0] for r in books],
            "last_date": [r.daily["date"][-1] for r in books],
            "config_hash": [r.config_hash[:12] for r in books],
        }
    )


def write_report(
    results: Mapping[str, Result] | Sequence[Result],
    market: MarketData,
    path: str | Path,
    *,
    windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
    config: AttributionConfig | None = None,
) -> Path:
    """Write the self-contained HTML report of a run to ``path``; return the path.

    Parameters
    ----------
    results
        Results by book name, or a list of them; each is measured against its own benchmark
        (:attr:`Result.benchmark`, required).
    market
        The market they ran on (index weights and closes for the benchmarks and buckets).
    windows
        ``label -> (start, end)``; default 2023 and 2024-01-01..2024-02-07.
    config
        Attribution settings (factor windows, regression weights).
    """
    target = Path(path)
    text = render_report(results, market, windows=windows, config=config)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
