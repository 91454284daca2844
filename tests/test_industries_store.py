"""Industries in the store: schema, point-in-time reads, imports, and MarketData's codes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from backtest.market.importer import PRESETS, ImportFileError, ImportSpec, import_frame
from backtest.market.panel import MarketData
from backtest.market.schema import CLASSIFIED_SINCE_ALWAYS
from backtest.market.store import Store, StoreValidationError

D = dt.date


def _industries(rows: list[tuple[str, dt.date, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["symbol", "start_date", "industry"], orient="row")


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


def test_industries_round_trip_with_their_history(store) -> None:
    rows = _industries(
        [
            ("600000", D(2000, 1, 1), "银行"),
            ("000001", D(1991, 4, 3), "银行"),
            ("300750", D(2018, 6, 11), "电气设备"),
            ("300750", D(2024, 1, 2), "汽车配件"),
        ]
    )
    assert store.write("industries", rows, source="test") == 4
    back = store.industries()
    assert back.equals(rows.sort("symbol", "start_date"))
    assert store.provenance().filter(pl.col("table_name") == "industries").height == 1


def test_industries_as_of_a_day_take_the_row_in_force(store) -> None:
    store.write(
        "industries",
        _industries(
            [
                ("300750", D(2018, 6, 11), "电气设备"),
                ("300750", D(2024, 1, 2), "汽车配件"),
                ("688981", D(2024, 6, 3), "半导体"),
            ]
        ),
        source="test",
    )
    early = dict(store.industries(as_of="2023-06-30").select("symbol", "industry").iter_rows())
    late = dict(store.industries(as_of="2024-12-31").select("symbol", "industry").iter_rows())
    assert early == {"300750": "电气设备", "688981": "半导体"}  # a later listing: its first row
    assert late == {"300750": "汽车配件", "688981": "半导体"}


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([("600000", D(2000, 1, 1), " ")], "industry is empty"),
        ([("600000", D(2000, 1, 1), None)], "null"),
        ([("60000", D(2000, 1, 1), "银行")], "six-digit"),
    ],
)
def test_malformed_industries_are_refused(store, rows, fragment) -> None:
    with pytest.raises(StoreValidationError, match=fragment):
        store.write("industries", _industries(rows), source="test")
    assert store.industries().height == 0


def test_a_store_without_industries_reads_an_empty_frame(store) -> None:
    assert store.industries().height == 0
    assert store.industries(as_of="2024-01-02").columns == ["symbol", "start_date", "industry"]


def test_stock_basic_preset_imports_a_snapshot(store) -> None:
    frame = pl.DataFrame(
        {
            "ts_code": ["000001.SZ", "600000.SH"],
            "symbol": ["000001", "600000"],
            "name": ["平安银行", "浦发银行"],
            "area": ["深圳", "上海"],
            "industry": ["银行", " 银行 "],
        }
    )
    report = import_frame(store, frame, PRESETS["tushare_stock_basic"], source="stock_basic")
    assert report.rows == {"industries": 2}
    stored = store.industries()
    assert stored["industry"].to_list() == ["银行", "银行"]
    assert stored["start_date"].to_list() == [D.fromisoformat(CLASSIFIED_SINCE_ALWAYS)] * 2
    with pytest.raises(ImportFileError, match="already stored"):  # append refuses a second time
        import_frame(store, frame, PRESETS["tushare_stock_basic"], source="stock_basic")
    moved = frame.with_columns(industry=pl.lit("多元金融"))
    spec = ImportSpec(table="industries", mode="upsert")
    import_frame(store, moved, spec, source="again")
    assert store.industries()["industry"].to_list() == ["多元金融", "多元金融"]


def test_industries_import_takes_a_mapped_column_and_dates(store) -> None:
    frame = pl.DataFrame(
        {
            "code": ["300750.SZ", "300750.SZ"],
            "sw1": ["电力设备", "汽车"],
            "since": ["20180611", "20240102"],
        }
    )
    spec = ImportSpec(
        table="industries",
        column_map=(("code", "symbol"), ("sw1", "industry"), ("since", "start_date")),
    )
    import_frame(store, frame, spec, source="sw")
    assert store.industries(as_of="2024-02-05")["industry"].to_list() == ["汽车"]


def test_bars_import_with_an_industry_column_writes_its_changes(store) -> None:
    frame = pl.DataFrame(
        {
            "date": ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-02"],
            "symbol": ["600000", "600000", "600000", "000001"],
            "open": [10.0, 10.0, 10.0, 9.0],
            "high": [10.5, 10.5, 10.5, 9.5],
            "low": [9.5, 9.5, 9.5, 8.5],
            "close": [10.0, 10.1, 10.2, 9.0],
            "volume": [1e6, 1e6, 1e6, 1e6],
            "sector": ["银行", "银行", "多元金融", "银行"],
        }
    )
    spec = ImportSpec(column_map=(("sector", "industry"),))
    report = import_frame(store, frame, spec, source="bars")
    assert report.rows["bars"] == 4 and report.rows["industries"] == 3
    assert store.industries().rows() == [
        ("000001", D(2024, 1, 2), "银行"),
        ("600000", D(2024, 1, 2), "银行"),
        ("600000", D(2024, 1, 4), "多元金融"),
    ]
    market = MarketData.from_store(store)
    assert market.has_industries
    # as of the first session loaded: nothing from after the start
    assert market.industry_of().tolist() == ["银行", "银行"]


def test_a_bars_import_without_industries_leaves_the_market_without_them(store) -> None:
    frame = pl.DataFrame(
        {
            "date": ["2024-01-02"],
            "symbol": ["600000"],
            "open": [10.0],
            "high": [10.0],
            "low": [10.0],
            "close": [10.0],
            "volume": [1e6],
        }
    )
    import_frame(store, frame, ImportSpec(), source="bars")
    market = MarketData.from_store(store)
    assert not market.has_industries
    assert market.industry_codes.tolist() == [-1]
    with pytest.raises(ValueError, match="tushare_stock_basic"):
        market.require_industries("industry attribution")


def test_market_data_from_arrays_codes_sorted_names() -> None:
    market = MarketData.from_arrays(
        dates=["2024-02-05"],
        symbols=["600000", "000001", "688981"],
        close=np.ones((1, 3)),
        industries=["银行", None, "半导体"],
    )
    assert market.industry_names == ("半导体", "银行")
    assert market.industry_codes.dtype == np.int16
    assert market.industry_codes.tolist() == [1, -1, 0]
    assert market.industry_of().tolist() == ["银行", None, "半导体"]
    assert market.require_industries("test") is market.industry_codes


def test_scenario_store_carries_industries_into_market_data(scenario_store_path) -> None:
    with Store(scenario_store_path, read_only=True) as store:
        market = MarketData.from_store(store, start="2024-01-02", end="2024-01-31")
        stored = store.industries(as_of="2024-01-02")
    assert market.has_industries
    assert len(market.industry_names) >= 100
    expected = dict(stored.select("symbol", "industry").iter_rows())
    got = market.industry_of()
    assert all(expected[s] == g for s, g in zip(market.symbols.tolist(), got.tolist(), strict=True))
