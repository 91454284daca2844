"""An import never loses, mixes or invents rows, and every mistake is one sentence, exit code 2.

Pins the "nothing lost" rules of :mod:`backtest.market.import_merge` and the malformed-file
refusals of :mod:`backtest.market.import_read`, through the API and the command line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from backtest.apps.cli import main
from backtest.market.calendar import sessions
from backtest.market.importer import PRESETS, ImportFileError, ImportSpec, import_file
from backtest.market.schema import TABLES
from backtest.market.store import Store, StoreValidationError

TUSHARE = PRESETS["tushare_daily"]


def _spec(**changes: object) -> ImportSpec:
    import dataclasses

    return dataclasses.replace(TUSHARE, **changes)  # type: ignore[arg-type]


def _daily() -> pl.DataFrame:
    """Tushare ``daily`` rows: 000001 on four sessions, 600000 on four (Feb 1, 2, 5, 6 2024)."""
    return pl.DataFrame(
        {
            "ts_code": ["000001.SZ"] * 4 + ["600000.SH"] * 4,
            "trade_date": ["20240201", "20240202", "20240205", "20240206"] * 2,
            "open": [9.10, 9.00, 8.90, 8.80, 6.60, 6.55, 6.50, 5.90],
            "high": [9.20, 9.10, 9.00, 9.00, 6.70, 6.60, 6.55, 6.00],
            "low": [9.00, 8.85, 8.80, 8.70, 6.50, 6.45, 5.85, 5.80],
            "close": [9.10, 8.90, 8.85, 8.95, 6.58, 6.50, 5.85, 5.95],
            "vol": [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0, 8000.0],
            "amount": [910.0, 1780.0, 2655.0, 3580.0, 3290.0, 3900.0, 4095.0, 4760.0],
        }
    )


def _csv(tmp_path: Path, frame: pl.DataFrame, name: str = "daily.csv") -> Path:
    path = tmp_path / name
    frame.write_csv(path)
    return path


def _dump(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but provenance, sorted: the store's content."""
    return {t: sorted(store.read(t).rows()) for t in TABLES if t != "provenance"}


def _bar(store: Store, day: str, symbol: str) -> dict[str, object]:
    frame = store.read("bars", start=day, end=day, where={"symbol": [symbol]})
    assert frame.height == 1
    return frame.to_dicts()[0]


# ----------------------------------------------------------------- modes
def test_append_refuses_a_reimport_naming_the_first_stored_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_file(store, _csv(tmp_path, _daily()), TUSHARE)
    before = _dump(store)
    subset = _daily().filter(
        ~((pl.col("ts_code") == "600000.SH") & (pl.col("trade_date") == "20240202"))
    )
    with pytest.raises(ImportFileError) as caught:
        import_file(store, _csv(tmp_path, subset, "again.csv"), TUSHARE)
    assert str(caught.value) == (
        "cannot import again.csv: row 1 (line 2): table 'bars' already holds date 2024-02-01, "
        "symbol 000001 (7 of the file's rows are stored); append never replaces stored rows: "
        "pass --mode upsert to replace them with the file's rows, or --mode replace to replace "
        "the file's symbols over its date range"
    )
    assert _dump(store) == before


def test_upsert_of_a_file_missing_a_row_keeps_that_stored_real_bar(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_file(store, _csv(tmp_path, _daily()), TUSHARE)
    kept = _bar(store, "2024-02-02", "600000")
    subset = (
        _daily()
        .filter(~((pl.col("ts_code") == "600000.SH") & (pl.col("trade_date") == "20240202")))
        .with_columns(pl.col("vol") * 2)
    )
    report = import_file(store, _csv(tmp_path, subset, "again.csv"), _spec(mode="upsert"))
    assert _bar(store, "2024-02-02", "600000") == kept  # bit for bit, not a made-up row
    assert kept["volume"] == 600_000 and not kept["suspended"]
    assert _bar(store, "2024-02-05", "600000")["volume"] == 1_400_000  # the file's real row
    assert report.rows == {"bars": 7}
    assert report.suspended_filled == {}
    assert "upsert: 7 stored rows replaced by the file's rows" in report.derived


def test_upsert_of_a_later_session_takes_pre_close_from_the_stored_bar(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_file(store, _csv(tmp_path, _daily().drop("amount")), TUSHARE)
    later = pl.DataFrame(
        {
            "ts_code": ["600000.SH"],
            "trade_date": ["20240207"],
            "open": [6.0],
            "high": [6.2],
            "low": [5.9],
            "close": [6.1],
            "vol": [10.0],
        }
    )
    import_file(store, _csv(tmp_path, later, "later.csv"), _spec(mode="upsert"))
    row = _bar(store, "2024-02-07", "600000")
    assert (row["pre_close"], row["limit_up"], row["limit_down"]) == (5.95, 6.55, 5.36)


def test_replace_removes_only_the_files_symbols_over_its_dates(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_file(store, _csv(tmp_path, _daily()), TUSHARE)
    other = store.read("bars", where={"symbol": ["000001"]})
    newer = _daily().filter(
        (pl.col("ts_code") == "600000.SH") & pl.col("trade_date").is_in(["20240201", "20240205"])
    )
    report = import_file(store, _csv(tmp_path, newer, "fix.csv"), _spec(mode="replace"))
    assert store.read("bars", where={"symbol": ["000001"]}).equals(other)
    dates = store.read("bars", where={"symbol": ["600000"]})["date"].to_list()
    # 2024-02-02 was removed (inside the file's range) and not refilled; 2024-02-06 is outside
    assert dates == [dt.date(2024, 2, 1), dt.date(2024, 2, 5), dt.date(2024, 2, 6)]
    assert any("1 stored bars on sessions the file has no row for" in n for n in report.derived)
    assert any(n.startswith("replace: 3 stored rows") for n in report.derived)


# ----------------------------------------------------------------- suspended fill
def test_suspended_fill_is_reported_per_symbol_and_can_be_turned_off(tmp_path: Path) -> None:
    gappy = _daily().filter(
        ~(pl.col("trade_date").is_in(["20240202", "20240205"]) & (pl.col("ts_code") == "000001.SZ"))
        & ~((pl.col("trade_date") == "20240205") & (pl.col("ts_code") == "600000.SH"))
    )
    store = Store(tmp_path / "m.duckdb")
    report = import_file(store, _csv(tmp_path, gappy), TUSHARE)
    assert report.suspended_filled == {"000001": 2, "600000": 1}
    assert (
        "suspended: 2 symbols got 3 filled sessions (flat at the last close, volume 0; only where "
        "the store holds no bar): 000001 (2), 600000 (1)"
    ) in report.derived
    made = _bar(store, "2024-02-05", "000001")
    assert (made["open"], made["close"], made["volume"], made["suspended"]) == (9.1, 9.1, 0, True)
    off = Store(tmp_path / "off.duckdb")
    report = import_file(off, _csv(tmp_path, gappy), _spec(fill_suspended=False))
    assert off.read("bars").height == 5
    assert report.rows["bars"] == 5
    assert any(n.startswith("suspended: not filled") for n in report.derived)


# ----------------------------------------------------------------- calendar
def test_a_saturday_row_is_refused_with_its_row_number(tmp_path: Path) -> None:
    frame = _daily().with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("20240203"))
        .otherwise(pl.col("trade_date"))
        .alias("trade_date")
    )
    store = Store(tmp_path / "m.duckdb")
    with pytest.raises(ImportFileError) as caught:
        import_file(store, _csv(tmp_path, frame), TUSHARE)
    assert str(caught.value) == (
        "cannot import daily.csv: row 6 (line 7): date 2024-02-03, symbol 600000: it is not an "
        "SSE trading session (a Saturday) (1 such rows); fix the date or remove the row"
    )
    assert store.is_empty("calendar") and store.is_empty("bars")


def test_a_stray_2019_row_does_not_feed_the_2023_pre_close(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "date": ["2019-01-02", "2023-01-03", "2023-01-04"],
            "symbol": ["600000"] * 3,
            "open": [10.0, 7.0, 7.1],
            "high": [10.0, 7.2, 7.3],
            "low": [10.0, 6.9, 7.0],
            "close": [10.0, 7.1, 7.2],
            "volume": [100, 200, 300],
        }
    )
    store = Store(tmp_path / "m.duckdb")
    report = import_file(store, _csv(tmp_path, frame, "stray.csv"))
    between = sessions("2019-01-02", "2023-01-04")
    assert len(store.calendar()) == len(between) == 974
    first_2023 = _bar(store, "2023-01-03", "600000")
    assert (first_2023["pre_close"], first_2023["limit_up"]) == (None, None)
    assert _bar(store, "2023-01-04", "600000")["pre_close"] == 7.1
    assert report.suspended_filled == {"600000": 971}
    assert any(n.startswith("pre_close: 2 of the file's rows") for n in report.derived)
    off = Store(tmp_path / "off.duckdb")
    import_file(off, _csv(tmp_path, frame, "stray.csv"), ImportSpec(fill_suspended=False))
    assert off.read("bars").height == 3


def test_january_then_february_to_march_extends_the_calendar(tmp_path: Path) -> None:
    def month(days: list[str], closes: list[float]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "date": days,
                "symbol": ["600000"] * len(days),
                "open": closes,
                "high": closes,
                "low": closes,
                "close": closes,
                "volume": [100] * len(days),
            }
        )

    store = Store(tmp_path / "m.duckdb")
    import_file(store, _csv(tmp_path, month(["2024-01-30", "2024-01-31"], [7.0, 7.1]), "jan.csv"))
    report = import_file(
        store, _csv(tmp_path, month(["2024-02-01", "2024-03-01"], [7.2, 7.3]), "febmar.csv")
    )
    assert list(store.calendar()) == list(sessions("2024-01-30", "2024-03-01"))
    assert report.rows["calendar"] == len(sessions("2024-02-01", "2024-03-01")) == 16
    assert _bar(store, "2024-02-01", "600000")["pre_close"] == 7.1  # the stored January close
    import_file(store, _csv(tmp_path, month(["2024-01-29"], [6.9]), "earlier.csv"))
    assert str(store.calendar()[0]) == "2024-01-29"
    # the stored 2024-01-30 bar was not touched, though its previous session is now known
    assert _bar(store, "2024-01-30", "600000")["pre_close"] is None


# ----------------------------------------------------------------- malformed files
def _write_bytes(data: bytes) -> object:
    return lambda path: path.write_bytes(data)


def _with(column: str, row: int, value: str) -> object:
    def write(path: Path) -> None:
        frame = _daily().with_columns(pl.col(column).cast(pl.String))
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row)
            .then(pl.lit(value))
            .otherwise(pl.col(column))
            .alias(column)
        )
        frame.write_csv(path)

    return write


def _text(text: str) -> object:
    return lambda path: path.write_text(text, encoding="utf-8")


_HEADER = "ts_code,trade_date,open,high,low,close,vol,amount\n"
_LINE = "600000.SH,20240201,6.6,6.7,6.5,6.58,5000,3290\n"

MALFORMED = [
    ("empty", _write_bytes(b""), "the file is empty (0 bytes)"),
    ("header only", _text(_HEADER), "the file has a header but no rows"),
    (
        "close abc",
        _with("close", 2, "abc"),
        "row 3 (line 4), column 'close': 'abc' is not a number",
    ),
    (
        "vol abc",
        _with("vol", 4, "abc"),
        "row 5 (line 6), column 'vol' (store column 'volume'): 'abc' is not a number",
    ),
    (
        "binary as csv",
        _write_bytes(b"PAR1\x00\x01\x02binary\x00" * 10),
        "the file holds binary data (NUL bytes), not CSV text",
    ),
    (
        "too many fields",
        _text(_HEADER + _LINE + "600000.SH,20240202,6.6,6.7,6.5,6.58,5000,3290,99\n"),
        "line 3 has 9 fields where the header has 8",
    ),
    (
        "too few fields",
        _text(_HEADER + _LINE + "600000.SH,20240202,6.6,6.7\n"),
        "line 3 has 4 fields where the header has 8",
    ),
    (
        "volume 1e20",
        _with("vol", 1, "1e20"),
        "row 2 (line 3), column 'vol' (store column 'volume') (table 'bars'): value 1e+22: "
        "value above the plausible maximum 1e+13",
    ),
    (
        "code ABC.SZ",
        _with("ts_code", 3, "ABC.SZ"),
        "row 4 (line 5), column 'ts_code' (store column 'symbol'): 'ABC.SZ' is not an A-share code",
    ),
    (
        "duplicate key",
        _with("trade_date", 1, "20240201"),
        "row 1 (line 2) and row 2 (line 3) have the same date 2024-02-01, symbol 000001",
    ),
    (
        "NaN close",
        _with("close", 6, "NaN"),
        "row 7 (line 8), column 'close' (table 'bars'): value nan",
    ),
    (
        "negative low",
        _with("low", 0, "-1"),
        "row 1 (line 2), column 'low' (table 'bars'): value -1.0: value must be > 0",
    ),
    (
        "zero open",
        _with("open", 7, "0"),
        "row 8 (line 9), column 'open' (table 'bars'): value 0.0: value must be > 0",
    ),
    (
        "close 1e300",
        _with("close", 0, "1e300"),
        "row 1 (line 2), column 'close' (table 'bars'): value 1e+300: value above the plausible "
        "maximum 1e+06",
    ),
    (
        "saturday",
        _with("trade_date", 0, "20240203"),
        "row 1 (line 2): date 2024-02-03, symbol 000001: it is not an SSE trading session",
    ),
]


@pytest.mark.parametrize(("case", "write", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_exits_2_with_one_line_and_the_store_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, write: object, expected: str
) -> None:
    store_path = tmp_path / "m.duckdb"
    with Store(store_path) as store:
        import_file(store, _csv(tmp_path, _daily(), "first.csv"), TUSHARE)
    before = store_path.read_bytes()
    path = tmp_path / "daily.csv"
    write(path)  # type: ignore[operator]
    code = main(
        ["data", "import", str(path), "--store", str(store_path), "--preset", "tushare_daily"]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: cannot import daily.csv: ")
    assert expected in err
    assert store_path.read_bytes() == before


def test_truncated_parquet_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = tmp_path / "whole.parquet"
    _daily().write_parquet(whole)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    store_path = tmp_path / "m.duckdb"
    code = main(
        ["data", "import", str(cut), "--store", str(store_path), "--preset", "tushare_daily"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: cannot import cut.parquet: not a readable Parquet file (")
    assert err.rstrip().endswith("it may be truncated or not Parquet at all: export it again")
    assert not store_path.exists()  # a bad file is refused before the store is opened


def test_append_conflict_on_the_command_line_exits_2_and_leaves_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_path = tmp_path / "m.duckdb"
    path = _csv(tmp_path, _daily())
    argv = ["data", "import", str(path), "--store", str(store_path), "--preset", "tushare_daily"]
    assert main(argv) == 0
    with Store(store_path, read_only=True) as store:
        before = _dump(store)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --mode upsert" in err
    with Store(store_path, read_only=True) as store:
        assert _dump(store) == before
    assert main([*argv, "--mode", "upsert", "--no-fill-suspended"]) == 0


# ----------------------------------------------------------------- encodings
def test_a_gbk_csv_is_detected_and_reported(tmp_path: Path) -> None:
    frame = _daily().with_columns(name=pl.lit("浦发银行"))
    path = tmp_path / "gbk.csv"
    path.write_bytes(frame.write_csv().encode("gbk"))
    store = Store(tmp_path / "m.duckdb")
    report = import_file(store, path, TUSHARE)
    assert report.encoding == "gb18030"
    assert (
        str(report).splitlines()[0]
        == "imported import:gbk.csv into bars (mode append; read as gb18030)"
    )
    assert report.rows["bars"] == 8
    with pytest.raises(
        ImportFileError, match=r"does not decode as utf-8; pass the file's encoding"
    ):
        import_file(Store(":memory:"), path, _spec(encoding="utf-8"))


# ----------------------------------------------------------------- schema bounds
def test_the_store_refuses_a_close_of_1e300_naming_table_column_row_and_value() -> None:
    store = Store(":memory:")
    store.write("calendar", pl.DataFrame({"date": [dt.date(2024, 2, 1)]}), source="test")
    store.write(
        "instruments",
        pl.DataFrame({"symbol": ["600000"], "exchange": ["SH"], "board": ["main"]}),
        source="test",
    )
    bar = {
        "date": [dt.date(2024, 2, 1)],
        "symbol": ["600000"],
        "open": [1.0],
        "high": [1e300],
        "low": [1.0],
        "close": [1e300],
        "volume": [1],
        "adj_factor": [1.0],
        "suspended": [False],
        "is_st": [False],
    }
    with pytest.raises(StoreValidationError) as caught:
        store.write("bars", pl.DataFrame(bar), source="test")
    assert str(caught.value).startswith(
        "table 'bars', column 'high', row 0 (date=2024-02-01, symbol=600000, high=1e+300): value "
        "above the plausible maximum 1e+06 (no A-share price, raw or adjusted, comes near 1e6 CNY)"
    )


def test_index_bars_follow_the_same_modes(tmp_path: Path) -> None:
    levels = pl.DataFrame(
        {
            "date": ["2024-02-01", "2024-02-02"],
            "index_code": ["000852", "000852"],
            "open": [5000.0, 4900.0],
            "high": [5010.0, 4950.0],
            "low": [4890.0, 4700.0],
            "close": [4900.0, 4750.0],
        }
    )
    path = _csv(tmp_path, levels, "index.csv")
    store = Store(tmp_path / "m.duckdb")
    import_file(store, path, ImportSpec(table="index_bars"))
    with pytest.raises(
        ImportFileError, match=r"row 1 \(line 2\): table 'index_bars' already holds"
    ):
        import_file(store, path, ImportSpec(table="index_bars"))
    higher = _csv(tmp_path, levels.with_columns(pl.col("high") + 1.0), "index.csv")
    import_file(store, higher, ImportSpec(table="index_bars", mode="upsert"))
    assert store.read("index_bars")["high"].to_list() == [5011.0, 4951.0]


def test_suspended_fill_stops_at_the_delist_date(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    store.write("calendar", pl.DataFrame({"date": [dt.date(2024, 2, 1)]}), source="test")
    listing = {
        "symbol": ["600000"],
        "exchange": ["SH"],
        "board": ["main"],
        "list_date": [dt.date(2024, 2, 1)],
        "delist_date": [dt.date(2024, 2, 2)],
    }
    store.write("instruments", pl.DataFrame(listing), source="test")

    def bar(day: str, close: float) -> pl.DataFrame:
        prices = {"open": [close], "high": [close], "low": [close], "close": [close]}
        return pl.DataFrame({"date": [day], "symbol": ["600000"], **prices, "volume": [100]})

    import_file(store, _csv(tmp_path, bar("2024-02-01", 7.0), "a.csv"))
    report = import_file(store, _csv(tmp_path, bar("2024-02-06", 7.2), "b.csv"))
    assert report.suspended_filled == {"600000": 1}  # 2024-02-02 only, not 2024-02-05
    assert store.read("bars")["date"].to_list() == [
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 2),
        dt.date(2024, 2, 6),
    ]
