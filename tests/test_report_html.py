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
        self.captions: list[str] = []
        self.folded: list[bool] = []  # per table: inside a <details>
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._in_style = False
        self._details = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "table":
            self.tables.append([])
            self.captions.append("")
            self.folded.append(self._details > 0)
        elif tag == "caption":
            self._caption = []
        elif tag == "details":
            self._details += 1
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
        elif tag == "caption" and self._caption is not None:
            self.captions[-1] = "".join(self._caption).strip()
            self._caption = None
        elif tag == "details":
            self._details -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)
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


def _tables(page: _Page, caption_start: str) -> list[list[list[str]]]:
    return [
        t for t, c in zip(page.tables, page.captions, strict=True) if c.startswith(caption_start)
    ]


def test_report_shows_every_book_in_the_headline_and_window_tables(page, results):
    headline = page.tables[0]
    assert page.captions[0].startswith("Every book at a glance")
    assert [row[0] for row in headline[1:]] == list(results)
    assert headline[1][1] == "CSI 1000"  # benchmarks by name, not by code
    # two windows, each with the grouped lines shown and Brinson, factors, buckets folded
    grouped = _tables(page, "Where the excess came from")
    assert len(grouped) == 2
    detail = [_tables(page, start) for start in ("Brinson", "Factors", "Mean weight")]
    assert [len(tables) for tables in detail] == [2, 2, 2]
    for table in grouped + [t for tables in detail for t in tables]:
        assert sorted(row[0] for row in table[1:]) == sorted(results)
    folded = dict(zip(page.captions, page.folded, strict=True))
    assert not any(folded[c] for c in page.captions if c.startswith("Where the excess"))
    assert all(folded[c] for c in page.captions if c.startswith(("Brinson", "Factors")))


def test_report_groups_attribution_into_a_handful_of_lines(page):
    header = _tables(page, "Where the excess came from")[0][0]
    lines = header[header.index("excess") + 1 :]
    assert set(lines) <= {"stock selection", "trading", "costs", "hedge", "financing", "other"}
    assert {"stock selection", "trading", "costs"} <= set(lines)


def test_report_has_a_tear_sheet_block_per_book(page, results):
    for name in results:
        for start in ("yearly returns", "monthly returns", "five worst drawdowns", "top holdings"):
            assert len(_tables(page, f"{name}: {start}")) == 1, (name, start)
        assert len(_tables(page, f"{name}: crash diagnostics")) == 1
    runs = _tables(page, "Runs")[0]
    assert runs[0][-2:] == ["run hash", "parameters"]
    assert all(len(row[-2]) == 64 for row in runs[1:])


def test_report_monthly_table_compounds_to_the_yearly_figures(page, results):
    for name in results:
        yearly = _tables(page, f"{name}: yearly returns")[0]
        monthly = _tables(page, f"{name}: monthly returns")[0]
        assert monthly[0][0:2] == ["year", "series"] and monthly[0][-1] == "year"
        by_year = {row[0]: row for row in yearly[1:]}
        for row in monthly[1:]:
            if row[1] == "book":
                months = [float(c.rstrip("%")) / 100 for c in row[2:-1] if c != "–"]
                compounded = np.prod([1 + m for m in months]) - 1
                # months are shown to 0.1 %: allow the rounding of each
                assert compounded == pytest.approx(float(row[-1].rstrip("%")) / 100, abs=3e-3)
                year_book = float(by_year[row[0]][yearly[0].index("book")].rstrip("%"))
                assert year_book == pytest.approx(float(row[-1].rstrip("%")), abs=0.051)


def test_report_embeds_the_tear_sheet_figures(page, results):
    alts = [image["alt"] for image in page.images]
    assert alts[:7] == [
        "equity against the benchmark",
        "cumulative excess",
        "drawdowns",
        "rolling figures",
        "exposures and hedge ratio",
        "holdings and concentration",
        "crash diagnostics",
    ]
    assert alts[7:] == [f"cumulative excess {name}" for name in results] + ["active size exposure"]
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


@pytest.mark.parametrize(
    ("caption", "excess_column"),
    [("Brinson", "excess_return"), ("Where the excess came from", "excess")],
)
def test_report_window_attribution_columns_add_up_to_the_excess(page, caption, excess_column):
    for table in _tables(page, caption):
        header = table[0]
        first_component = header.index(excess_column) + 1
        for row in table[1:]:
            values = [float(cell.rstrip("%")) for cell in row[first_component:]]
            excess = float(row[header.index(excess_column)].rstrip("%"))
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
