"""The HTML report of a run: one self-contained page, a tear sheet for every book.

:func:`write_report` lays out, for the books of one or several runs (their results and the
:class:`MarketData` they ran on), percentages everywhere and benchmarks by name:

1. the headline: the figures a PM reads first (size, return, volatility, Sharpe, drawdown,
   excess, tracking error, IR, costs, turnover), every book side by side, with the full
   :func:`~backtest.analytics.compare.compare` table folded under it; then the runs (strategy,
   parameters, range, run hash);
2. figures, every book on each (:mod:`backtest.analytics.tearsheet_figures`): equity against
   the benchmark (log scale), cumulative excess, drawdowns, rolling 60-session volatility,
   Sharpe, beta and tracking error, gross and net exposure and hedge ratio, holdings and
   concentration, crash diagnostics (unfilled sell notional, share of target reached);
3. for each window (default 2023 and the 2024 crash), the linked attribution of each book's
   excess in six lines (stock selection, trading, costs, hedge, financing, other), with the
   detail folded under it: Brinson-Fachler by cap bucket, factors, weights by bucket;
4. the capacity curve (the same books at 0.1 to 10 bn CNY), when given;
5. one block per book: yearly and monthly returns (book, benchmark, excess), the five worst
   drawdowns, the crash diagnostics and the top holdings;
6. folded: each book's cumulative excess stacked by component and the active size exposure.

Figures are embedded as base64 PNG, tables as HTML; the page needs no other file and no
network. Missing values (a window without sessions, a ratio of a flat series) show as "–".

``backtest report`` (:mod:`backtest.apps.report`) loads saved runs and their market and calls
:func:`write_report`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from backtest.analytics.attribution import AttributionKind, BookAttribution, attribute_books
from backtest.analytics.attribution_market import DEFAULT_WINDOWS, AttributionConfig
from backtest.analytics.compare import as_result_list, compare
from backtest.analytics.html_parts import (
    MISSING,
    STYLE,
    details,
    figure_html,
    html_table,
)
from backtest.analytics.html_parts import format_value as format_value  # re-exported
from backtest.analytics.linking import DateLike, link_attribution
from backtest.analytics.plots import (
    CRASH_WINDOW,
    active_size_exposure_figure,
    cumulative_excess_figure,
    grouped_components,
)
from backtest.analytics.tearsheet_book import book_series, pm_attribution
from backtest.analytics.tearsheet_html import (
    book_section,
    capacity_section,
    figures_section,
    headline_section,
    runs_section,
)
from backtest.core.ids import index_name

if TYPE_CHECKING:
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

#: compare() columns formatted as percentages in the full headline table.
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
    capacity: Mapping[str, pl.DataFrame] | None = None,
    capacity_note: str | None = None,
    title: str = "A-share backtest: tear sheet, books side by side",
) -> str:
    """Return the report's HTML text (see the module docs); each book against its benchmark.

    ``capacity`` maps books to their :func:`~backtest.apps.capacity.capacity_curves`
    frames; ``capacity_note`` is shown with them, or instead of them (why there are none).
    """
    books = as_result_list(results)
    chosen = dict(windows if windows is not None else DEFAULT_WINDOWS)
    headline = compare(books, market, windows=chosen)
    attributions = attribute_books(books, market, config=config)
    series = [book_series(result, market) for result in books]
    excess_columns = [c for c in headline.columns if c.startswith("excess_")]
    percent = (*PERCENT_COLUMNS, *excess_columns)
    first = min(r.daily["date"][0] for r in books)
    last = max(r.daily["date"][-1] for r in books)
    crash = chosen.get("crash_2024", CRASH_WINDOW)
    links = " &middot; ".join(
        f'<a href="#book-{html.escape(r.book)}">{html.escape(r.book)}</a>' for r in books
    )
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">{len(books)} books, {first} .. {last}; market '
        f"{market.shape[1]} stocks, {market.shape[0]} sessions. Returns in percent of the "
        "previous session's equity, compounded over each period; excess = book - benchmark, "
        "each compounded; window attributions are Cari&ntilde;o-linked and add up to the "
        f"window's excess. Books: {links}</p>",
        "<h2>Headline: every book</h2>",
        headline_section(headline, percent_columns=percent),
        runs_section(books),
        "<h2>Tear sheet: every book side by side</h2>",
        figures_section(series, books, crash_window=crash),
    ]
    for label, window in chosen.items():
        parts.append(f"<h2>Attribution, {html.escape(label)}: {window[0]} .. {window[1]}</h2>")
        parts.append(_window_section(attributions, window))
    parts += [
        "<h2>Capacity: the same books at 0.1, 1, 5 and 10 bn CNY</h2>",
        capacity_section(capacity, note=capacity_note),
        "<h2>Books</h2>",
        *(
            book_section(result, one, crash_window=crash)
            for result, one in zip(books, series, strict=True)
        ),
        "<h2>Detail</h2>",
        details(
            "Cumulative excess by attribution component, per book; active size exposure",
            *(
                figure_html(cumulative_excess_figure(attribution), alt=f"cumulative excess {name}")
                for name, attribution in attributions.items()
            ),
            figure_html(active_size_exposure_figure(attributions), alt="active size exposure"),
        ),
    ]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _window_section(
    attributions: Mapping[str, BookAttribution], window: tuple[DateLike, DateLike]
) -> str:
    """The window's attribution in the PM's six lines, with the detail folded under it."""
    brinson = window_attribution_table(attributions, window=window, kind="brinson")
    if brinson.height == 0:
        return '<p class="note">No session of the run falls in this window.</p>'
    factors = window_attribution_table(attributions, window=window, kind="factors")
    grouped = pm_attribution(brinson).with_columns(
        pl.col("benchmark").map_elements(index_name, return_dtype=pl.String)
    )

    def numeric(frame: pl.DataFrame) -> list[str]:
        return [c for c in frame.columns if c not in ("book", "benchmark")]

    return html_table(
        grouped,
        percent_columns=numeric(grouped),
        headers={
            "portfolio_return": "book return",
            "benchmark_return": "benchmark return",
            "excess_return": "excess",
        },
        caption="Where the excess came from (the lines add up to the excess)",
    ) + details(
        "Detail: Brinson-Fachler by cap bucket, factors, weights by bucket",
        html_table(
            brinson,
            percent_columns=numeric(brinson),
            caption="Brinson-Fachler by cap bucket + trading, costs, hedge, financing",
        ),
        html_table(
            factors,
            percent_columns=numeric(factors),
            caption="Factors (market, size, beta, liquidity, reversal, specific) + lines",
        ),
        html_table(
            bucket_weight_table(attributions, window=window),
            caption="Mean weight by cap bucket: book / benchmark",
        ),
    )


def write_report(
    results: Mapping[str, Result] | Sequence[Result],
    market: MarketData,
    path: str | Path,
    *,
    windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
    config: AttributionConfig | None = None,
    capacity: Mapping[str, pl.DataFrame] | None = None,
    capacity_note: str | None = None,
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
    capacity, capacity_note
        Capacity curves by book (:func:`backtest.apps.capacity.capacity_curves`), or
        the sentence shown instead.
    """
    target = Path(path)
    text = render_report(
        results,
        market,
        windows=windows,
        config=config,
        capacity=capacity,
        capacity_note=capacity_note,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
