"""Recorded akshare frames (Chinese columns, akshare's dtypes) through the pure normalisation."""

from __future__ import annotations

import datetime as dt
import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from backtest.market.akshare_normalise import (
    MalformedResponse,
    contract_expiry,
    normalise_cffex_daily,
    normalise_constituents,
    normalise_index_bars,
    normalise_stock_bars,
    normalise_stock_list,
)
from backtest.market.akshare_source import RecordedAkshareClient, shipped_calendar

FIXTURES = Path(__file__).parent / "fixtures" / "akshare"


@pytest.fixture(scope="module")
def client() -> RecordedAkshareClient:
    return RecordedAkshareClient(FIXTURES)


def _documented_outputs() -> dict[str, list[str]]:
    spec = find_spec("akshare")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "interfaces.json"
    interfaces = json.loads(path.read_text())["interfaces"]
    return {i["name"]: [o["name"] for o in i["outputs"]] for i in interfaces}


@pytest.mark.parametrize(
    ("function", "recording"),
    [
        ("stock_value_em", "stock_value_em__600000.parquet"),
        ("index_zh_a_hist", "index_zh_a_hist__000300.parquet"),
        ("index_stock_cons_weight_csindex", "index_stock_cons_weight_csindex__000905.parquet"),
        ("get_futures_daily", "get_futures_daily__CFFEX.parquet"),
        ("stock_info_bj_name_code", "stock_info_bj_name_code.parquet"),
    ],
)
def test_recorded_frames_have_the_columns_akshare_documents(function: str, recording: str) -> None:
    documented = _documented_outputs()[function]
    recorded = list(pd.read_parquet(FIXTURES / recording).columns)
    assert recorded == documented


def test_recorded_hist_frame_keeps_akshare_dtypes(client: RecordedAkshareClient) -> None:
    frame = client.stock_zh_a_hist("600000", "daily", "20240101", "20240301", "")
    assert list(frame.columns) == [
        "日期",
        "股票代码",
        "开盘",
        "收盘",
        "最高",
        "最低",
        "成交量",
        "成交额",
        "振幅",
        "涨跌幅",
        "涨跌额",
        "换手率",
    ]
    assert isinstance(frame["日期"].iloc[0], dt.date)
    assert frame["成交量"].dtype == np.int64
    assert frame["收盘"].dtype == np.float64


def test_stock_bars_convert_lots_to_shares_and_keep_cny_amount(
    client: RecordedAkshareClient,
) -> None:
    raw = client.stock_zh_a_hist("002123", "daily", "20240129", "20240208", "")
    hfq = client.stock_zh_a_hist("002123", "daily", "20240129", "20240208", "hfq")
    bars = normalise_stock_bars(raw, hfq, client.stock_value_em("002123"), "002123")
    assert bars["volume"].to_list() == [int(v) * 100 for v in raw["成交量"]]
    assert bars["amount"].to_list() == raw["成交额"].tolist()
    assert bars["symbol"].unique().to_list() == ["002123"]


def test_volume_already_in_shares_is_not_multiplied_again(client: RecordedAkshareClient) -> None:
    raw = client.stock_zh_a_hist("688981", "daily", "20240129", "20240208", "")
    hfq = client.stock_zh_a_hist("688981", "daily", "20240129", "20240208", "hfq")
    in_shares = raw.assign(成交量=raw["成交量"] * 100)
    bars = normalise_stock_bars(in_shares, hfq, None, "688981")
    assert bars["volume"].to_list() == in_shares["成交量"].tolist()


def test_pre_close_is_the_exchange_ex_rights_close(client: RecordedAkshareClient) -> None:
    raw = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "")
    hfq = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "hfq")
    bars = normalise_stock_bars(raw, hfq, None, "600000")
    ex_day = bars.filter(pl.col("date") == dt.date(2024, 2, 1))
    # 0.30 dividend: the reference price is the previous close 6.58 minus 0.30
    assert ex_day["pre_close"].item() == pytest.approx(6.28)


def test_adjusted_prices_equal_the_hfq_series(client: RecordedAkshareClient) -> None:
    raw = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "")
    hfq = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "hfq")
    bars = normalise_stock_bars(raw, hfq, None, "600000")
    adjusted = (bars["close"] * bars["adj_factor"]).to_numpy()
    np.testing.assert_allclose(adjusted, hfq["收盘"].to_numpy(), rtol=1e-12)
    assert bars["adj_factor"][3] > bars["adj_factor"][2]  # the factor steps up on the ex-date


def test_caps_join_by_date_in_cny(client: RecordedAkshareClient) -> None:
    raw = client.stock_zh_a_hist("688981", "daily", "20240129", "20240208", "")
    hfq = client.stock_zh_a_hist("688981", "daily", "20240129", "20240208", "hfq")
    value = client.stock_value_em("688981")
    bars = normalise_stock_bars(raw, hfq, value, "688981")
    assert bars["total_cap"].to_list() == value["总市值"].tolist()
    assert bars["float_cap"].to_list() == value["流通市值"].tolist()


def test_missing_column_is_malformed_and_names_it(client: RecordedAkshareClient) -> None:
    raw = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "").drop(
        columns=["涨跌额"]
    )
    hfq = client.stock_zh_a_hist("600000", "daily", "20240129", "20240208", "hfq")
    with pytest.raises(MalformedResponse, match="涨跌额"):
        normalise_stock_bars(raw, hfq, None, "600000")


def test_empty_frame_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="empty frame"):
        normalise_index_bars(pd.DataFrame(), "000905")


def test_stock_list_gives_boards_and_listing_dates(client: RecordedAkshareClient) -> None:
    instruments = normalise_stock_list(
        client.stock_info_sh_name_code("主板A股"),
        client.stock_info_sh_name_code("科创板"),
        client.stock_info_sz_name_code("A股列表"),
        client.stock_info_bj_name_code(),
    )
    rows = {r["symbol"]: r for r in instruments.to_dicts()}
    assert sorted(rows) == ["000001", "002123", "300750", "430047", "600000", "688981"]
    assert [rows[s]["board"] for s in ("600000", "688981", "300750", "430047")] == [
        "main",
        "star",
        "chinext",
        "bse",
    ]
    assert rows["300750"]["list_date"] == dt.date(2018, 6, 11)  # SZSE text date
    assert rows["430047"]["list_date"] == dt.date(2020, 11, 18)  # BSE date object
    assert rows["600000"]["name"] == "浦发银行"


def test_index_bars_rename_and_keep_levels(client: RecordedAkshareClient) -> None:
    frame = client.index_zh_a_hist("932000", "daily", "20240129", "20240208")
    bars = normalise_index_bars(frame, "932000")
    assert bars.columns == ["date", "index_code", "open", "high", "low", "close", "amount"]
    assert bars["close"].to_list() == frame["收盘"].tolist()
    assert bars["date"][0] == dt.date(2024, 1, 29)


def test_constituent_weights_are_fractions_summing_to_one(client: RecordedAkshareClient) -> None:
    weights = normalise_constituents(client.index_stock_cons_weight_csindex("000905"))
    assert weights["symbol"].to_list() == ["000001", "002123"]
    assert weights["weight"].sum() == pytest.approx(1.0)
    assert weights["index_code"].unique().to_list() == ["000905"]


def test_cffex_keeps_index_futures_and_fills_untraded_with_settle(
    client: RecordedAkshareClient,
) -> None:
    frame = client.get_futures_daily("20240205", "20240205", "CFFEX")
    bars = normalise_cffex_daily(frame, shipped_calendar())
    assert sorted(bars["contract"].to_list()) == ["IC2402", "IC2403", "IC2406", "IM2402"]
    untraded = bars.filter(pl.col("contract") == "IC2406").to_dicts()[0]
    assert untraded["open"] == untraded["close"] == untraded["settle"]
    assert untraded["volume"] == 0


def test_contract_expiry_rolls_past_the_spring_festival() -> None:
    sessions = shipped_calendar(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert contract_expiry("IC2402", sessions) == dt.date(2024, 2, 19)  # 02-16 was a holiday
    assert contract_expiry("IF2403", sessions) == dt.date(2024, 3, 15)


def test_missing_recording_names_the_file(client: RecordedAkshareClient) -> None:
    with pytest.raises(FileNotFoundError, match=r"stock_value_em__999999\.parquet"):
        client.stock_value_em("999999")
