"""The pieces of the HTML report: cell text, tables, embedded figures, foldable details.

Pure functions of frames and figures, shared by :mod:`backtest.analytics.report` and the tear
sheet's sections (:mod:`backtest.analytics.tearsheet_html`). Missing values (a window without
sessions, a ratio of a flat series) show as :data:`MISSING`; percentages carry two decimals
and never a negative zero.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from matplotlib.figure import Figure

__all__ = ["MISSING", "STYLE", "details", "figure_html", "format_value", "html_table"]

MISSING = "–"
STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.82em; }
caption { text-align: left; font-weight: bold; padding: 0.2em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.negative { color: #b2182b; } .note { color: #555; font-size: 0.85em; }
details { margin: 0.5em 0 1em; } summary { cursor: pointer; color: #235; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
"""


def format_value(value: Any, *, percent: bool = False, decimals: int = 2) -> str:
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
            return f"{round(value * 100, decimals) + 0.0:.{decimals}f}%"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{decimals + 1}f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return html.escape(str(value))


def html_table(
    frame: pl.DataFrame,
    *,
    percent_columns: Sequence[str] = (),
    caption: str | None = None,
    headers: Mapping[str, str] | None = None,
    decimals: int = 2,
) -> str:
    """Return a polars frame as an HTML table (values through :func:`format_value`).

    ``headers`` renames columns for display (``column -> header text``).
    """
    names = headers or {}
    head = "".join(f"<th>{html.escape(names.get(c, c))}</th>" for c in frame.columns)
    body = []
    for row in frame.iter_rows():
        cells = []
        for name, value in zip(frame.columns, row, strict=True):
            text = format_value(value, percent=name in percent_columns, decimals=decimals)
            negative = text.startswith("-") and text.strip("-0.,%") != ""
            cells.append(f'<td class="negative">{text}</td>' if negative else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_html(figure: Figure, *, alt: str, dpi: int = 80) -> str:
    """Return a figure as an ``<img>`` with an embedded base64 PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def details(summary: str, *parts: str) -> str:
    """Return ``parts`` folded under a ``<details>`` element (detail on demand)."""
    return f"<details><summary>{html.escape(summary)}</summary>{''.join(parts)}</details>"
