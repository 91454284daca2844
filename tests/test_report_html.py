"""The HTML report renders, is self-contained and shows every book, figure and table."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure
from report_fixtures import BENCHMARK, SMALL_MARKET_CONFIG, small_market, two_books

from backtest.analytics import plots
from backtest.analytics.attribution import attribute_books
from backtest.analytics.report import format_value, write_report
from backtest.apps.cli import build_parser
from backtest.apps.report import parse_benchmarks, report_main
from backtest.core.ids import board_of
from backtest.engine import MarketData, Result
from backtest.market.store import Store


class _Page(HTMLParser):
    """Collects images, tables (as rows of cell texts) and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if not self._in_style:
            self.text.append(data)


@pytest.fixture(scope="module")
def market() -> MarketData:
    return small_market()


@pytest.fixture(scope="module")
def results(market: MarketData) -> dict[str, Result]:
    return two_books(market)


@pytest.fixture(scope="module")
def page(results, market, tmp_path_factory) -> _Page:
    path = tmp_path_factory.mktemp("report") / "run" / "report.html"
    written = write_report(results, market, path, config=SMALL_MARKET_CONFIG)
    assert written == path and path.stat().st_size > 10_000
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def test_report_shows_every_book_in_the_headline_and_window_tables(page, results):
    headline = page.tables[0]
    assert [row[0] for row in headline[1:]] == list(results)
    # two windows, each with Brinson, factor and bucket-weight tables naming both books
    window_tables = page.tables[2:]
    assert len(window_tables) == 6
    for table in window_tables:
        assert sorted(row[0] for row in table[1:]) == sorted(results)


def test_report_embeds_one_stacked_figure_per_book_and_three_run_figures(page, results):
    assert len(page.images) == len(results) + 3
    alts = [image["alt"] for image in page.images]
    assert alts[: len(results)] == [f"cumulative excess {name}" for name in results]
    assert alts[len(results) :] == [
        "drawdowns",
        "active size exposure",
        "fill rate and backlog in the crash",
    ]
    for image in page.images:
        source = image["src"] or ""
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_tables_have_no_nan_or_inf_text(page):
    for table in page.tables:
        for row in table:
            for cell in row:
                assert not re.search(r"\b(nan|NaN|inf|None|null)\b", cell), cell
                assert not re.search(r"-0\.0+%", cell), cell


def test_report_window_attribution_columns_add_up_to_the_excess(page):
    brinson = page.tables[2]
    header = brinson[0]
    first_component = header.index("excess_return") + 1
    for row in brinson[1:]:
        values = [float(cell.rstrip("%")) for cell in row[first_component:]]
        excess = float(row[header.index("excess_return")].rstrip("%"))
        # cells are rounded to 0.01 %: allow one rounding step per component
        assert sum(values) == pytest.approx(excess, abs=0.006 * len(values))


def test_report_is_self_contained(page):
    text = " ".join(page.text)
    assert "http://" not in text and "https://" not in text
    assert all((image["src"] or "").startswith("data:") for image in page.images)


def test_format_value_hides_missing_numbers_and_negative_zero():
    assert format_value(None) == format_value(float("nan")) == format_value(float("inf")) == "–"
    assert format_value(-1e-9, percent=True) == "0.00%"
    assert format_value(-0.2345, percent=True) == "-23.45%"


def test_plot_functions_return_figures(results, market):
    attributions = attribute_books(results, market, config=SMALL_MARKET_CONFIG)
    figures = [
        plots.cumulative_excess_figure(attributions["momentum"], kind="factors"),
        plots.drawdowns_figure(list(results.values())),
        plots.active_size_exposure_figure(attributions),
        plots.crash_trading_figure(list(results.values()), window=("2021-01-01", "2021-02-01")),
    ]
    assert all(isinstance(figure, Figure) for figure in figures)
    assert "whole run" in figures[-1].axes[0].get_title()


def test_stacked_groups_keep_the_identity(results, market):
    attributions = attribute_books(results, market, config=SMALL_MARKET_CONFIG)
    grouped = plots.grouped_components(attributions["random"].brinson)
    assert "costs" in grouped.columns and "impact" not in grouped.columns
    components = grouped.drop("date", "portfolio_return", "benchmark_return", "excess_return")
    gap = grouped["excess_return"].to_numpy() - components.to_numpy().sum(axis=1)
    assert np.max(np.abs(gap)) <= 1e-10


def test_parse_benchmarks_takes_one_code_or_book_pairs():
    assert parse_benchmarks([]) is None
    assert parse_benchmarks(["000905"]) == "000905"
    assert parse_benchmarks(["a=000905", "b=cash"]) == {"a": "000905", "b": "cash"}
    with pytest.raises(ValueError, match="BOOK=CODE"):
        parse_benchmarks(["000905", "000852"])


def _write_market(store: Store, market: MarketData) -> None:
    """Write a MarketData's arrays into a store (bars, instruments, calendar, index tables)."""
    days, n = market.shape
    dates = market.dates.astype("datetime64[D]")
    symbols = market.symbols.tolist()
    fields = {name: market[name].ravel() for name in market.fields}
    bars = pl.DataFrame(
        {
            "date": np.repeat(dates, n),
            "symbol": symbols * days,
            **{name: values for name, values in fields.items()},
        }
    ).with_columns(pl.col("volume").cast(pl.Int64))
    store.write("calendar", pl.DataFrame({"date": dates}), source="test")
    store.write(
        "instruments",
        pl.DataFrame(
            {
                "symbol": symbols,
                "exchange": [board_of(s)[0] for s in symbols],
                "board": [board_of(s)[1] for s in symbols],
            }
        ),
        source="test",
    )
    store.write("bars", bars, source="test")
    weights = market.index_weights[BENCHMARK]
    rows, columns = np.nonzero(weights)
    store.write(
        "index_weights",
        pl.DataFrame(
            {
                "date": dates[rows],
                "index_code": [BENCHMARK] * rows.size,
                "symbol": [symbols[c] for c in columns],
                "weight": weights[rows, columns],
            }
        ),
        source="test",
    )
    closes = market.index_closes[BENCHMARK]
    store.write(
        "index_bars",
        pl.DataFrame(
            {
                "date": dates,
                "index_code": [BENCHMARK] * days,
                "open": closes,
                "high": closes,
                "low": closes,
                "close": closes,
            }
        ),
        source="test",
    )


def test_report_command_reads_saved_runs_and_the_store(results, market, tmp_path: Path):
    store_path = tmp_path / "market.duckdb"
    with Store(store_path) as store:
        _write_market(store, market)
        for name, result in results.items():
            result.save(store, run_id=f"run-{name}")
    out = tmp_path / "out" / "report.html"
    args = build_parser().parse_args(
        ["report", "--store", str(store_path), "--out", str(out), "--benchmark", BENCHMARK]
    )
    assert report_main(args) == 0
    parsed = _Page()
    parsed.feed(out.read_text(encoding="utf-8"))
    assert [row[0] for row in parsed.tables[0][1:]] == list(results)


def test_report_command_names_a_missing_store(tmp_path: Path):
    args = build_parser().parse_args(["report", "--store", str(tmp_path / "absent.duckdb")])
    with pytest.raises(ValueError, match="no store at"):
        report_main(args)
