"""Pure normalisation of akshare frames to the store's schema (no network, no store).

Each function takes the pandas frames an akshare function returns (Chinese column names,
akshare's dtypes) and returns a polars frame with the store's English snake_case columns and
units: shares, not lots; CNY, not thousands; weights as fractions. A frame missing a column the
loader needs, or empty where rows are required, raises :class:`MalformedResponse`, which the
fetch reports and does not retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from backtest.core.ids import FUTURES_PRODUCTS
from backtest.market.derive import instruments_from_symbols
from backtest.market.schema import FUTURES_BARS
from backtest.rules.cffex import futures_expiry

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SHARES_PER_LOT",
    "MalformedResponse",
    "contract_expiry",
    "normalise_cffex_daily",
    "normalise_constituents",
    "normalise_index_bars",
    "normalise_stock_bars",
    "normalise_stock_list",
]

#: Eastmoney reports ``成交量`` in lots (手) of 100 shares.
SHARES_PER_LOT = 100


class MalformedResponse(ValueError):
    """An akshare frame lacks a column the loader needs, or is empty where rows are required."""

    def __init__(self, function: str, problem: str):
        self.function = function
        super().__init__(f"akshare.{function} returned {problem}")


def _to_polars(frame: pd.DataFrame, function: str, required: Sequence[str]) -> pl.DataFrame:
    if frame is None or len(frame.columns) == 0 or len(frame) == 0:
        raise MalformedResponse(function, "an empty frame (no rows)")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MalformedResponse(
            function,
            f"a frame without columns {missing} (it has {list(frame.columns)}); akshare's "
            "interface may have changed: update akshare or the loader's column map",
        )
    result = pl.from_pandas(frame[list(required)].reset_index(drop=True))
    assert isinstance(result, pl.DataFrame)
    return result


def _parse_date(column: str) -> pl.Expr:
    """Parse dates given as date objects, "YYYY-MM-DD", "YYYYMMDD" text or integers."""
    text = pl.col(column).cast(pl.String).str.replace_all(r"[^0-9]", "").str.slice(0, 8)
    return text.str.strptime(pl.Date, "%Y%m%d", strict=False).alias(column)


def normalise_stock_list(
    sh_main: pd.DataFrame, sh_star: pd.DataFrame, sz: pd.DataFrame, bj: pd.DataFrame
) -> pl.DataFrame:
    """Build ``instruments`` rows from the SSE, SZSE and BSE lists (with listing dates).

    Exchange and board follow from the code (:func:`backtest.core.ids.board_of`); the
    ``delist_date`` is null (the lists hold listed stocks only).
    """
    parts = []
    for frame, function, code, name, listed in (
        (sh_main, "stock_info_sh_name_code", "证券代码", "证券简称", "上市日期"),
        (sh_star, "stock_info_sh_name_code", "证券代码", "证券简称", "上市日期"),
        (sz, "stock_info_sz_name_code", "A股代码", "A股简称", "A股上市日期"),
        (bj, "stock_info_bj_name_code", "证券代码", "证券简称", "上市日期"),
    ):
        part = _to_polars(frame, function, [code, name, listed]).rename(
            {code: "symbol", name: "name", listed: "list_date"}
        )
        parts.append(
            part.with_columns(
                pl.col("symbol").cast(pl.String).str.zfill(6),
                pl.col("name").cast(pl.String),
                _parse_date("list_date"),
            )
        )
    stocks = pl.concat(parts).unique("symbol", keep="first")
    stocks = stocks.filter(pl.col("symbol").str.contains(r"^\d{6}$"))
    boards = instruments_from_symbols(stocks["symbol"]).drop("name", "list_date")
    return (
        boards.join(stocks, on="symbol", how="left")
        .select("symbol", "name", "exchange", "board", "list_date", "delist_date")
        .sort("symbol")
    )


_HIST_COLUMNS = ("日期", "开盘", "收盘", "最高", "最低", "成交量", "成交额", "涨跌额")
_VALUE_COLUMNS = ("数据日期", "总市值", "流通市值")


def normalise_stock_bars(
    raw: pd.DataFrame, hfq: pd.DataFrame, value: pd.DataFrame | None, symbol: str
) -> pl.DataFrame:
    """Turn one stock's ``stock_zh_a_hist`` (raw and hfq) and ``stock_value_em`` into bars.

    - ``volume`` = ``成交量`` (lots) x 100 shares, the unit checked against the amount (a
      frame already in shares is taken as it is); ``amount`` = ``成交额`` (CNY);
    - ``pre_close`` = ``收盘 - 涨跌额`` rounded to the tick (Eastmoney's change is against the
      exchange's ex-rights previous close);
    - ``adj_factor`` = hfq close / raw close, so ``raw * adj_factor`` is the hfq series;
    - ``total_cap``/``float_cap`` = ``总市值``/``流通市值`` (CNY) of the same date, null where
      ``stock_value_em`` has no row (the loader still stores the bar).

    Suspension rows, limit prices and ``is_st`` are added later, for all sources alike
    (:mod:`backtest.market.derive`).
    """
    bars = _to_polars(raw, "stock_zh_a_hist", _HIST_COLUMNS).with_columns(_parse_date("日期"))
    adjusted = (
        _to_polars(hfq, "stock_zh_a_hist", ("日期", "收盘"))
        .with_columns(_parse_date("日期"))
        .rename({"收盘": "hfq_close"})
    )
    lot = _shares_per_volume_unit(bars)
    frame = bars.join(adjusted, on="日期", how="left").select(
        pl.col("日期").alias("date"),
        pl.lit(symbol).alias("symbol"),
        pl.col("开盘").cast(pl.Float64).alias("open"),
        pl.col("最高").cast(pl.Float64).alias("high"),
        pl.col("最低").cast(pl.Float64).alias("low"),
        pl.col("收盘").cast(pl.Float64).alias("close"),
        (pl.col("收盘") - pl.col("涨跌额")).round(2).alias("pre_close"),
        (pl.col("成交量").cast(pl.Float64) * lot).round(0).cast(pl.Int64).alias("volume"),
        pl.col("成交额").cast(pl.Float64).alias("amount"),
        (pl.col("hfq_close") / pl.col("收盘")).alias("adj_factor"),
    )
    missing_factor = frame.filter(pl.col("adj_factor").is_null() | pl.col("adj_factor").is_nan())
    if missing_factor.height:
        raise MalformedResponse(
            "stock_zh_a_hist",
            f"no hfq row for {symbol} on {missing_factor['date'][0]} although the raw frame "
            "has one; the two answers disagree, fetch the symbol again",
        )
    if value is not None and len(value):
        caps = _to_polars(value, "stock_value_em", _VALUE_COLUMNS).select(
            _parse_date("数据日期").alias("date"),
            pl.col("总市值").cast(pl.Float64).alias("total_cap"),
            pl.col("流通市值").cast(pl.Float64).alias("float_cap"),
        )
        caps = caps.filter(pl.col("total_cap") > 0).unique("date", keep="last")
        frame = frame.join(caps, on="date", how="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("total_cap"),
            pl.lit(None, dtype=pl.Float64).alias("float_cap"),
        )
    return frame.with_columns(pl.col("pre_close").fill_nan(None)).sort("date")


def _shares_per_volume_unit(bars: pl.DataFrame) -> int:
    """Return 100 when ``成交量`` is in lots, 1 when it is in shares, checked against the amount.

    The average traded price ``成交额 / (成交量 x unit)`` must lie inside the day's range
    ``[最低, 最高]`` (2 % slack for rounding) on most traded days; lots (100) is Eastmoney's
    documented unit and wins when the amount cannot tell (no amount, or neither fits).
    """
    traded = bars.filter((pl.col("成交量") > 0) & (pl.col("成交额") > 0))
    if traded.height == 0:
        return SHARES_PER_LOT

    def fits(unit: int) -> float:
        price = pl.col("成交额") / (pl.col("成交量").cast(pl.Float64) * unit)
        inside = price.is_between(pl.col("最低") * 0.98, pl.col("最高") * 1.02)
        return float(traded.select(inside.mean()).item())

    if fits(SHARES_PER_LOT) >= 0.5:
        return SHARES_PER_LOT
    return 1 if fits(1) >= 0.5 else SHARES_PER_LOT


def normalise_index_bars(frame: pd.DataFrame, index_code: str) -> pl.DataFrame:
    """Turn ``index_zh_a_hist`` into ``index_bars`` rows (``amount`` in CNY)."""
    return (
        _to_polars(frame, "index_zh_a_hist", ("日期", "开盘", "收盘", "最高", "最低", "成交额"))
        .select(
            _parse_date("日期").alias("date"),
            pl.lit(index_code).alias("index_code"),
            pl.col("开盘").cast(pl.Float64).alias("open"),
            pl.col("最高").cast(pl.Float64).alias("high"),
            pl.col("最低").cast(pl.Float64).alias("low"),
            pl.col("收盘").cast(pl.Float64).alias("close"),
            pl.col("成交额").cast(pl.Float64).alias("amount"),
        )
        .sort("date")
    )


def normalise_constituents(frame: pd.DataFrame) -> pl.DataFrame:
    """Turn ``index_stock_cons_weight_csindex`` into ``index_weights`` rows.

    ``权重`` is in percent; weights are divided by their sum per date so they sum to 1 exactly
    (CSIndex rounds to 0.001 %).
    """
    parts = _to_polars(
        frame, "index_stock_cons_weight_csindex", ("日期", "指数代码", "成分券代码", "权重")
    )
    return (
        parts.select(
            _parse_date("日期").alias("date"),
            pl.col("指数代码").cast(pl.String).str.zfill(6).alias("index_code"),
            pl.col("成分券代码").cast(pl.String).str.zfill(6).alias("symbol"),
            pl.col("权重").cast(pl.Float64).alias("weight"),
        )
        .filter(pl.col("weight") > 0)
        .with_columns(pl.col("weight") / pl.col("weight").sum().over("date", "index_code"))
        .sort("date", "index_code", "symbol")
    )


def contract_expiry(contract: str, sessions: np.ndarray) -> dt.date:
    """Last trading day of a CFFEX index future: the third Friday, or the next session.

    >>> sessions = np.array(["2024-02-15", "2024-02-16", "2024-02-19"], dtype="datetime64[D]")
    >>> contract_expiry("IC2402", sessions)
    datetime.date(2024, 2, 16)
    """
    return futures_expiry(2000 + int(contract[2:4]), int(contract[4:6]), sessions)


def normalise_cffex_daily(frame: pd.DataFrame, sessions: np.ndarray) -> pl.DataFrame:
    """Turn ``get_futures_daily(market="CFFEX")`` into ``futures_bars`` rows of IF/IH/IC/IM.

    Options and bond futures are dropped. A contract that did not trade that day has no open,
    high, low or close: they are set to the settlement price (CFFEX publishes one for every
    listed contract), with ``volume`` 0.
    """
    columns = (
        "symbol",
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "open_interest",
        "settle",
        "variety",
    )
    bars = _to_polars(frame, "get_futures_daily", columns)
    bars = bars.with_columns(pl.col("symbol").cast(pl.String).str.strip_chars().str.to_uppercase())
    bars = bars.filter(
        pl.col("variety").cast(pl.String).is_in(list(FUTURES_PRODUCTS))
        & pl.col("symbol").str.contains(r"^(IF|IH|IC|IM)\d{4}$")
    )
    if bars.height == 0:
        return _empty_futures()
    settle = pl.col("settle").cast(pl.Float64)

    def price(column: str) -> pl.Expr:
        value = pl.col(column).cast(pl.Float64, strict=False)
        return (
            pl.when(value.is_null() | value.is_nan() | (value <= 0)).then(settle).otherwise(value)
        )

    bars = bars.select(
        _parse_date("date"),
        pl.col("symbol").alias("contract"),
        pl.col("variety").cast(pl.String).alias("product"),
        price("open").alias("open"),
        price("high").alias("high"),
        price("low").alias("low"),
        price("close").alias("close"),
        settle.alias("settle"),
        pl.col("volume").cast(pl.Float64).fill_nan(0).fill_null(0).cast(pl.Int64).alias("volume"),
        pl.col("open_interest")
        .cast(pl.Float64)
        .fill_nan(0)
        .fill_null(0)
        .cast(pl.Int64)
        .alias("open_interest"),
    ).with_columns(
        pl.max_horizontal("high", "open", "close").alias("high"),
        pl.min_horizontal("low", "open", "close").alias("low"),
    )
    contracts = bars["contract"].unique().sort().to_list()
    expiries = pl.DataFrame(
        {"contract": contracts, "expiry": [contract_expiry(c, sessions) for c in contracts]},
        schema={"contract": pl.String, "expiry": pl.Date},
    )
    return bars.join(expiries, on="contract", how="left").sort("date", "contract")


def _empty_futures() -> pl.DataFrame:
    return pl.DataFrame(schema=FUTURES_BARS.polars_schema)
