"""Import of a user's own files, the derivations every real source shares, and the CLI."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.apps.cli import build_parser
from backtest.market.derive import add_limit_prices, fill_suspended_sessions
from backtest.market.importer import (
    PRESETS,
    ImportFileError,
    ImportSpec,
    import_file,
    import_frame,
)
from backtest.market.store import Store
from backtest.rules.ashare import BOARD_CODES
from backtest.rules.presets import CHINA_A_2023_2024

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_BARS = REAL / "ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet"

DAYS = [dt.date(2024, 2, 1), dt.date(2024, 2, 2), dt.date(2024, 2, 5), dt.date(2024, 2, 6)]
CALENDAR = np.array(DAYS, dtype="datetime64[D]")


def _tushare_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_code": ["000001.SZ", "000001.SZ", "600000.SH", "600000.SH", "600000.SH"],
            "trade_date": ["20240201", "20240205", "20240201", "20240202", "20240205"],
            "open": [9.10, 9.00, 6.60, 6.55, 6.50],
            "high": [9.20, 9.10, 6.70, 6.60, 6.55],
            "low": [9.00, 8.85, 6.50, 6.45, 5.85],
            "close": [9.10, 8.90, 6.58, 6.50, 5.85],
            "pre_close": [9.15, 9.10, 6.60, 6.58, 6.50],
            "change": [-0.05, -0.20, -0.02, -0.08, -0.65],
            "pct_chg": [-0.55, -2.2, -0.3, -1.2, -10.0],
            "vol": [1000.0, 2000.0, 3000.0, 4000.0, 5000.0],
            "amount": [910.0, 1780.0, 1974.0, 2600.0, 2925.0],
        }
    )


def test_tushare_preset_converts_units_and_reports_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "daily.csv"
    _tushare_frame().write_csv(path)
    store = Store(tmp_path / "m.duckdb")
    report = import_file(store, path, PRESETS["tushare_daily"])
    bars = store.read("bars")
    assert bars["symbol"].unique().sort().to_list() == ["000001", "600000"]
    first = bars.filter(pl.col("symbol") == "000001").to_dicts()
    assert first[0]["volume"] == 100_000 and first[0]["amount"] == pytest.approx(910_000.0)
    # 2024-02-02 is missing for 000001: a suspended row is derived
    assert first[1]["date"] == dt.date(2024, 2, 2) and first[1]["suspended"]
    assert report.rows == {"calendar": 3, "instruments": 2, "bars": 6}
    assert sorted(report.dropped_columns) == ["change", "pct_chg"]
    missing = dict(report.missing)
    assert "no microcap index" in missing["total_cap"]
    assert "amount" not in missing
    assert "adj_factor" in missing
    text = str(report)
    assert "missing: total_cap" in text and "derived: calendar" in text


def test_limit_down_from_tushare_pre_close(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_frame(store, _tushare_frame(), PRESETS["tushare_daily"], source="test")
    crash = store.read("bars", start="2024-02-05", where={"symbol": ["600000"]}).to_dicts()[0]
    assert crash["limit_down"] == 5.85 == crash["close"]
    assert crash["limit_up"] == 7.15


def test_wind_preset_reads_parquet_with_adj_factor(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "S_INFO_WINDCODE": ["300750.SZ", "300750.SZ"],
            "TRADE_DT": ["20240201", "20240202"],
            "S_DQ_PRECLOSE": [150.0, 148.0],
            "S_DQ_OPEN": [149.0, 147.0],
            "S_DQ_HIGH": [151.0, 149.0],
            "S_DQ_LOW": [147.0, 140.0],
            "S_DQ_CLOSE": [148.0, 141.0],
            "S_DQ_VOLUME": [10.0, 20.0],
            "S_DQ_AMOUNT": [148.0, 282.0],
            "S_DQ_ADJFACTOR": [1.02, 1.02],
        }
    )
    path = tmp_path / "eod.parquet"
    frame.write_parquet(path)
    store = Store(tmp_path / "m.duckdb")
    report = import_file(store, path, PRESETS["wind_eod"])
    bars = store.read("bars")
    assert bars["adj_factor"].to_list() == [1.02, 1.02]
    assert bars["limit_up"].to_list() == [180.0, 177.6]  # ChiNext 20 %
    assert store.instruments()["board"].to_list() == ["chinext"]
    assert "adj_factor" not in dict(report.missing)


def test_tushare_daily_basic_adds_caps_to_stored_bars(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    import_frame(store, _tushare_frame(), PRESETS["tushare_daily"], source="test")
    basic = pl.DataFrame(
        {
            "ts_code": ["600000.SH", "600000.SH", "600000.SH"],
            "trade_date": ["20240201", "20240205", "20240206"],
            "total_mv": [19_300_000.0, 17_200_000.0, 1.0],
            "circ_mv": [19_300_000.0, 17_200_000.0, 1.0],
            "pe": [4.0, 3.6, 3.5],
        }
    )
    report = import_frame(store, basic, PRESETS["tushare_daily_basic"], source="basic")
    bars = store.read("bars", where={"symbol": ["600000"]})
    assert bars["total_cap"].to_list() == [193e9, None, 172e9]
    assert bars["close"].to_list() == [6.58, 6.50, 5.85]  # the bars themselves are unchanged
    assert report.rows == {"bars": 2}
    assert any("1 cap rows have no stored bar" in w for w in report.warnings)


def test_missing_required_column_says_which_and_how_to_map(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    frame = _tushare_frame().drop("vol")
    with pytest.raises(ValueError, match=r"no column for \['volume'\].*--map"):
        import_frame(store, frame, PRESETS["tushare_daily"], source="test")


def test_unparseable_date_names_the_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    frame = _tushare_frame().with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("2024-13-45"))
        .otherwise(pl.col("trade_date"))
        .alias("trade_date")
    )
    expected = r"row 4, column 'trade_date' \(store column 'date'\): '2024-13-45' is not a date"
    with pytest.raises(ImportFileError, match=expected):
        import_frame(store, frame, PRESETS["tushare_daily"], source="test")


def test_invalid_rows_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    frame = _tushare_frame().with_columns(
        pl.when(pl.col("ts_code") == "000001.SZ").then(8.0).otherwise(pl.col("high")).alias("high")
    )
    with pytest.raises(ImportFileError, match=r"row 1, column 'high' .*high < low"):
        import_frame(store, frame, PRESETS["tushare_daily"], source="test")
    assert store.is_empty("calendar") and store.is_empty("instruments") and store.is_empty("bars")


def test_spec_refuses_a_mapping_onto_an_unknown_column() -> None:
    with pytest.raises(ValueError, match=r"targets \['vol'\] are not columns of 'bars'"):
        ImportSpec(column_map=(("x", "vol"),))


def test_futures_import_derives_product_and_expiry(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    store.write(
        "calendar",
        pl.DataFrame({"date": [dt.date(2024, 2, 5), dt.date(2024, 2, 19)]}),
        source="test",
    )
    frame = pl.DataFrame(
        {
            "date": ["2024-02-05"],
            "contract": ["im2402"],
            "open": [4500.0],
            "high": [4600.0],
            "low": [4100.0],
            "close": [4200.0],
            "settle": [4210.0],
            "volume": [1],
            "open_interest": [2],
        }
    )
    report = import_frame(store, frame, ImportSpec(table="futures_bars"), source="test")
    row = store.read("futures_bars").to_dicts()[0]
    assert (row["product"], row["expiry"]) == ("IM", dt.date(2024, 2, 19))
    assert report.rows["futures_bars"] == 1


# ----------------------------------------------------------------- derivations
def _bars(pre_close: float, board_symbol: str, day: dt.date, is_st: bool = False) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": [day], "symbol": [board_symbol], "pre_close": [pre_close], "is_st": [is_st]}
    )


def _instruments(symbol: str, board: str, list_date: dt.date | None) -> pl.DataFrame:
    return pl.DataFrame(
        {"symbol": [symbol], "board": [board], "list_date": [list_date]},
        schema={"symbol": pl.String, "board": pl.String, "list_date": pl.Date},
    )


@pytest.mark.parametrize(
    ("symbol", "board", "is_st", "expected_up", "expected_down"),
    [
        ("600000", "main", False, 11.0, 9.0),
        ("600001", "main", True, 10.5, 9.5),
        ("300001", "chinext", False, 12.0, 8.0),
        ("688001", "star", False, 12.0, 8.0),
        ("430001", "bse", False, 13.0, 7.0),
    ],
)
def test_limit_fraction_follows_board_and_st(
    symbol: str, board: str, is_st: bool, expected_up: float, expected_down: float
) -> None:
    out = add_limit_prices(
        _bars(10.0, symbol, DAYS[-1], is_st), _instruments(symbol, board, None), CALENDAR
    ).to_dicts()[0]
    assert (out["limit_up"], out["limit_down"]) == (expected_up, expected_down)


def test_limits_round_half_up_to_the_tick() -> None:
    out = add_limit_prices(
        _bars(10.05, "600000", DAYS[-1]), _instruments("600000", "main", None), CALENDAR
    ).to_dicts()[0]
    assert out["limit_up"] == 11.06  # 11.055 rounds up
    assert out["limit_down"] == 9.05  # 9.045 rounds up


@pytest.mark.parametrize(
    ("list_date", "board", "session", "has_limit"),
    [
        (dt.date(2024, 2, 1), "main", 3, False),  # registration system: 5 free sessions
        (dt.date(2023, 3, 1), "main", 0, False),  # before 2023-04-10: only the listing day
        (dt.date(2024, 2, 1), "star", 3, False),
        (dt.date(2024, 2, 1), "bse", 1, True),
    ],
)
def test_new_listings_trade_without_limits_at_first(
    list_date: dt.date, board: str, session: int, has_limit: bool
) -> None:
    days = np.array([np.datetime64(list_date, "D") + i for i in range(8)], dtype="datetime64[D]")
    day = dt.date.fromisoformat(str(days[session]))
    out = add_limit_prices(
        _bars(10.0, "600000", day), _instruments("600000", board, list_date), days
    ).to_dicts()[0]
    assert (out["limit_up"] is not None) == has_limit


@settings(max_examples=60, deadline=None)
@given(pre_close=st.floats(0.5, 3000.0), board=st.sampled_from(["main", "chinext", "star", "bse"]))
def test_limits_are_within_half_a_tick_of_the_exact_band(pre_close: float, board: str) -> None:
    pre_close = round(pre_close, 2)
    out = add_limit_prices(
        _bars(pre_close, "600000", DAYS[-1]), _instruments("600000", board, None), CALENDAR
    ).to_dicts()[0]
    fraction = {"main": 0.10, "chinext": 0.20, "star": 0.20, "bse": 0.30}[board]
    assert abs(out["limit_up"] - pre_close * (1 + fraction)) <= 0.005 + 1e-6
    assert abs(out["limit_down"] - pre_close * (1 - fraction)) <= 0.005 + 1e-6


def test_limits_agree_with_the_market_rules() -> None:
    pre_close = np.array([10.05, 7.77, 33.33, 101.01])
    boards = ["main", "chinext", "star", "bse"]
    symbols = ["600000", "300001", "688001", "430001"]
    frame = pl.DataFrame(
        {"date": [DAYS[-1]] * 4, "symbol": symbols, "pre_close": pre_close, "is_st": [False] * 4}
    )
    instruments = pl.DataFrame(
        {"symbol": symbols, "board": boards, "list_date": [None] * 4},
        schema_overrides={"list_date": pl.Date},
    )
    ours = add_limit_prices(frame, instruments, CALENDAR)
    codes = np.array([BOARD_CODES[b] for b in boards])
    up, down = CHINA_A_2023_2024.equities.limit_prices(
        pre_close, codes, np.zeros(4, dtype=bool), np.full(4, 100), DAYS[-1]
    )
    np.testing.assert_allclose(ours["limit_up"].to_numpy(), up)
    np.testing.assert_allclose(ours["limit_down"].to_numpy(), down)


def test_suspended_gap_is_filled_flat_at_the_previous_close() -> None:
    bars = pl.DataFrame(
        {
            "date": [DAYS[0], DAYS[3]],
            "symbol": ["600000"] * 2,
            "open": [1.0, 2.0],
            "high": [1.1, 2.1],
            "low": [0.9, 1.9],
            "close": [1.05, 2.0],
            "volume": [10, 20],
        }
    )
    filled = fill_suspended_sessions(bars, CALENDAR)
    assert filled["date"].to_list() == DAYS
    assert filled["suspended"].to_list() == [False, True, True, False]
    assert filled["close"].to_list() == [1.05, 1.05, 1.05, 2.0]
    assert filled["volume"].to_list() == [10, 0, 0, 20]


# ----------------------------------------------------------------- command line
def _parse_data(argv: list[str]) -> argparse.Namespace:
    """Parse ``backtest data ARGV`` with the command's one parser."""
    return build_parser().parse_args(["data", *argv])


def test_cli_import_with_map_and_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.csv"
    _tushare_frame().rename({"ts_code": "code", "trade_date": "day"}).write_csv(path)
    args = _parse_data(
        [
            "import",
            str(path),
            "--store",
            str(tmp_path / "m.duckdb"),
            "--map",
            "code=symbol",
            "--map",
            "day=date",
            "--map",
            "vol=volume",
            "--volume-unit",
            "lots",
            "--amount-unit",
            "thousand_cny",
            "--date-format",
            "%Y%m%d",
        ]
    )
    assert args.handler(args) == 0
    assert "bars" in capsys.readouterr().out
    with Store(tmp_path / "m.duckdb") as store:
        assert store.read("bars")["volume"].max() == 500_000


def test_cli_fetch_replays_recorded_frames_and_exits_1_on_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "akshare"
    argv = [
        "fetch",
        "--store",
        str(tmp_path / "m.duckdb"),
        "--start",
        "2024-01-29",
        "--end",
        "2024-02-08",
        "--replay",
        str(fixtures),
        "--rate-limit",
        "0",
        "--quiet",
    ]
    args = _parse_data(argv)
    assert args.handler(args) == 1  # the BSE stock has no bars: reported, exit code 1
    out = capsys.readouterr().out
    assert "430047" in out and "empty" in out
    args = _parse_data([*argv, "--symbols", "600000"])
    assert args.handler(args) == 0


def test_cli_fetch_parses_range_and_refuses_bad_dates() -> None:
    args = _parse_data(
        [
            "fetch",
            "--start",
            "2024-02-01",
            "--end",
            "2024-02-08",
            "--universe",
            "csi1000",
            "--symbols",
            "600000,000001",
        ]
    )
    assert (args.start, args.universe, args.symbols) == (
        dt.date(2024, 2, 1),
        "csi1000",
        "600000,000001",
    )
    with pytest.raises(SystemExit):
        _parse_data(["fetch", "--start", "2024-02-30", "--end", "2024-03-01"])


# ----------------------------------------------------------------- real data
@pytest.mark.real_data
def test_real_panel_import_says_what_is_missing(real_store: tuple[Store, object, float]) -> None:
    _, report, seconds = real_store
    missing = dict(report.missing)  # type: ignore[attr-defined]
    assert "VWAP" in missing["amount"]
    assert "no index membership rebuild" in missing["total_cap"]
    assert report.rows["bars"] > 1_500_000  # type: ignore[attr-defined]
    assert seconds < 60


@pytest.mark.real_data
def test_real_crash_day_has_far_more_limit_down_closes(
    real_store: tuple[Store, object, float],
) -> None:
    store, _, _ = real_store
    # prices are forward-adjusted: allow a tick of rounding around the derived limit
    shares = store.sql(
        "SELECT date, avg(CASE WHEN close <= limit_down + 0.011 THEN 1.0 ELSE 0.0 END) AS share "
        "FROM bars WHERE NOT suspended AND limit_down IS NOT NULL GROUP BY date ORDER BY date"
    )
    crash = shares.filter(pl.col("date") == dt.date(2024, 2, 5))["share"].item()
    typical = shares["share"].median()
    assert crash > 0.25
    assert crash > 20 * typical


@pytest.mark.real_data
def test_real_store_loads_full_close_and_volume_panels(
    real_store: tuple[Store, object, float],
) -> None:
    store, _, _ = real_store
    panel = store.panel(["close", "volume"])
    assert panel.shape == (len(store.calendar()), len(store.symbols()))
    assert panel.shape[0] > 480 and panel.shape[1] > 3000
    assert np.isfinite(panel["close"]).mean() > 0.9
    assert np.nanmin(panel["volume"]) >= 0
