"""The network boundary to akshare: one protocol, a live client and a recorded one.

Everything the loader asks of the internet goes through an :class:`AkshareClient`, one method
per akshare function used, with akshare's own name, arguments and return frame (pandas, Chinese
column names, akshare's dtypes). The loader never imports akshare itself:

- :class:`LiveAkshareClient` calls akshare (imported lazily on the first call, since importing
  akshare takes seconds) and passes a timeout where akshare accepts one;
- :class:`RecordedAkshareClient` serves frames recorded to Parquet files, for tests and offline
  replays, filtering by the requested dates as the server would.

Tests inject failing clients by wrapping a recorded one; nothing is monkeypatched.

Which akshare functions, and why (akshare 1.19.5)
-------------------------------------------------
- stock list with listing dates: ``stock_info_sh_name_code`` ("主板A股", "科创板"),
  ``stock_info_sz_name_code`` ("A股列表"), ``stock_info_bj_name_code`` (the exchanges' own
  lists; ``stock_info_a_code_name`` has no listing dates);
- daily bars: ``stock_zh_a_hist`` (Eastmoney) twice, ``adjust=""`` (raw prices, volume in lots,
  amount in CNY, and ``涨跌额`` from which the exchange's ex-rights ``pre_close`` follows) and
  ``adjust="hfq"``; ``adj_factor = hfq close / raw close``, so ``raw * adj_factor`` is exactly
  Eastmoney's backward-adjusted series (the tick rounding cancels). The Sina variant
  (``stock_zh_a_daily``) returns the factor only through a second, slower endpoint;
- market-cap history: ``stock_value_em`` (daily total and free-float cap and shares; Baidu's
  ``stock_zh_valuation_baidu`` returns one indicator per call and rounds to 0.01 bn);
- index bars: ``index_zh_a_hist`` (Eastmoney; covers 932000);
- current constituents and weights: ``index_stock_cons_weight_csindex`` (CSIndex close weights);
- CFFEX contracts: ``get_futures_daily(market="CFFEX")`` (settlement price, open interest, every
  listed contract per day; ``futures_zh_daily_sina`` has no settlement of expired contracts);
- the calendar: ``tool_trade_date_hist_sina`` downloads it from Sina; akshare also ships it as
  ``akshare/file_fold/calendar.json``, which :func:`shipped_calendar` reads without the network.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AkshareClient",
    "LiveAkshareClient",
    "RecordedAkshareClient",
    "recording_name",
    "shipped_calendar",
]


class AkshareClient(Protocol):
    """The akshare functions the loader uses; each returns akshare's own pandas frame."""

    def stock_info_sh_name_code(self, symbol: str) -> pd.DataFrame: ...

    def stock_info_sz_name_code(self, symbol: str) -> pd.DataFrame: ...

    def stock_info_bj_name_code(self) -> pd.DataFrame: ...

    def stock_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str, adjust: str
    ) -> pd.DataFrame: ...

    def stock_value_em(self, symbol: str) -> pd.DataFrame: ...

    def index_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str
    ) -> pd.DataFrame: ...

    def index_stock_cons_weight_csindex(self, symbol: str) -> pd.DataFrame: ...

    def get_futures_daily(self, start_date: str, end_date: str, market: str) -> pd.DataFrame: ...


class LiveAkshareClient:
    """Call akshare over the network (imported on first use).

    Parameters
    ----------
    timeout_seconds
        Passed to the akshare functions that accept a timeout (``stock_zh_a_hist``).
    """

    def __init__(self, *, timeout_seconds: float = 15.0):
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.timeout_seconds = timeout_seconds
        self._module: Any = None

    @property
    def _ak(self) -> Any:
        if self._module is None:
            self._module = importlib.import_module("akshare")
        return self._module

    def stock_info_sh_name_code(self, symbol: str) -> pd.DataFrame:
        return self._ak.stock_info_sh_name_code(symbol=symbol)

    def stock_info_sz_name_code(self, symbol: str) -> pd.DataFrame:
        return self._ak.stock_info_sz_name_code(symbol=symbol)

    def stock_info_bj_name_code(self) -> pd.DataFrame:
        return self._ak.stock_info_bj_name_code()

    def stock_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str, adjust: str
    ) -> pd.DataFrame:
        return self._ak.stock_zh_a_hist(
            symbol=symbol,
            period=period,
            start_date=start_date,
            end_date=end_date,
            adjust=adjust,
            timeout=self.timeout_seconds,
        )

    def stock_value_em(self, symbol: str) -> pd.DataFrame:
        return self._ak.stock_value_em(symbol=symbol)

    def index_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str
    ) -> pd.DataFrame:
        return self._ak.index_zh_a_hist(
            symbol=symbol, period=period, start_date=start_date, end_date=end_date
        )

    def index_stock_cons_weight_csindex(self, symbol: str) -> pd.DataFrame:
        return self._ak.index_stock_cons_weight_csindex(symbol=symbol)

    def get_futures_daily(self, start_date: str, end_date: str, market: str) -> pd.DataFrame:
        return self._ak.get_futures_daily(start_date=start_date, end_date=end_date, market=market)


def recording_name(function: str, *key: str) -> str:
    """File name of a recorded frame: ``function__key1__key2.parquet`` (empty keys dropped).

    >>> recording_name("stock_zh_a_hist", "000001", "hfq")
    'stock_zh_a_hist__000001__hfq.parquet'
    >>> recording_name("stock_zh_a_hist", "000001", "")
    'stock_zh_a_hist__000001.parquet'
    """
    parts = [function, *[k for k in key if k]]
    return "__".join(parts) + ".parquet"


class RecordedAkshareClient:
    """Serve akshare frames recorded as Parquet files in ``folder``.

    A request whose recording is missing raises ``FileNotFoundError`` naming the file to record.
    Date-ranged functions return only the recorded rows inside the requested range, as the
    server does. Frames keep akshare's column names, order and dtypes (dates as
    ``datetime.date`` objects where akshare returns them so, text where akshare returns text).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no recorded akshare frames at {self.folder}")
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def _load(self, function: str, *key: str) -> pd.DataFrame:
        import pandas as pd

        self.calls.append((function, key))
        path = self.folder / recording_name(function, *key)
        if not path.exists():
            raise FileNotFoundError(
                f"no recording {path.name} in {self.folder}; record {function}{key} first"
            )
        return pd.read_parquet(path)

    @staticmethod
    def _between(frame: pd.DataFrame, column: str, start: str, end: str) -> pd.DataFrame:
        import pandas as pd

        if frame.empty:
            return frame
        days = pd.to_datetime(frame[column].astype(str), format="mixed")
        mask = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
        return frame.loc[mask.to_numpy()].reset_index(drop=True)

    def stock_info_sh_name_code(self, symbol: str) -> pd.DataFrame:
        return self._load("stock_info_sh_name_code", symbol)

    def stock_info_sz_name_code(self, symbol: str) -> pd.DataFrame:
        return self._load("stock_info_sz_name_code", symbol)

    def stock_info_bj_name_code(self) -> pd.DataFrame:
        return self._load("stock_info_bj_name_code")

    def stock_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str, adjust: str
    ) -> pd.DataFrame:
        frame = self._load("stock_zh_a_hist", symbol, adjust)
        return self._between(frame, "日期", start_date, end_date)

    def stock_value_em(self, symbol: str) -> pd.DataFrame:
        return self._load("stock_value_em", symbol)

    def index_zh_a_hist(
        self, symbol: str, period: str, start_date: str, end_date: str
    ) -> pd.DataFrame:
        frame = self._load("index_zh_a_hist", symbol)
        return self._between(frame, "日期", start_date, end_date)

    def index_stock_cons_weight_csindex(self, symbol: str) -> pd.DataFrame:
        return self._load("index_stock_cons_weight_csindex", symbol)

    def get_futures_daily(self, start_date: str, end_date: str, market: str) -> pd.DataFrame:
        frame = self._load("get_futures_daily", market)
        return self._between(frame, "date", start_date, end_date)


def shipped_calendar(start: dt.date | None = None, end: dt.date | None = None) -> np.ndarray:
    """Return the SSE sessions akshare ships (``file_fold/calendar.json``) as ``datetime64[D]``.

    Reads the file without importing akshare (slow) or touching the network.
    """
    spec = find_spec("akshare")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("akshare is not installed; it ships the trading calendar")
    path = Path(next(iter(spec.submodule_search_locations))) / "file_fold" / "calendar.json"
    days = np.array(
        [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in json.loads(path.read_text())],
        dtype="datetime64[D]",
    )
    if start is not None:
        days = days[days >= np.datetime64(start, "D")]
    if end is not None:
        days = days[days <= np.datetime64(end, "D")]
    return days
