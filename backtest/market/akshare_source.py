"""The network boundary to akshare: one protocol, a live client and a recorded one.

Everything the loader asks of the internet goes through an :class:`AkshareClient`, one method
per akshare function used, with akshare's own name, arguments and return frame (pandas, Chinese
column names, akshare's dtypes). The loader never imports akshare itself:

- :class:`LiveAkshareClient` calls akshare (imported lazily on the first call, since importing
  akshare takes seconds) and passes a timeout where akshare accepts one;
- :class:`RecordedAkshareClient` serves frames recorded to Parquet files, for tests and offline
  replays, filtering by the requested dates as the server would.

Tests inject failing clients by wrapping a recorded one; nothing is monkeypatched.

Before a live fetch, :meth:`LiveAkshareClient.check_reachable` opens a TCP connection to each
host the run needs (``LIVE_HOSTS``, or the proxy that would carry the request) with a short
timeout, all at once: with no network a fetch then fails in seconds instead of retrying every
request with backoff.

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
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from backtest.market.akshare_retry import SourceUnreachable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LIVE_HOSTS",
    "AkshareClient",
    "LiveAkshareClient",
    "RecordedAkshareClient",
    "probe_addresses",
    "recording_name",
    "shipped_calendar",
]

#: The servers each live method calls, as ``scheme://host`` (the URLs in akshare 1.19.5's
#: source: ``stock/stock_info.py``, ``stock_feature/stock_hist_em.py``,
#: ``stock_feature/stock_value_em.py``, ``index/index_zh_em.py`` (a code lookup on
#: ``80.push2`` first), ``index/index_cons.py``, ``futures/futures_daily_bar.py``).
LIVE_HOSTS: dict[str, tuple[str, ...]] = {
    "stock_info_sh_name_code": ("https://query.sse.com.cn",),
    "stock_info_sz_name_code": ("https://www.szse.cn",),
    "stock_info_bj_name_code": ("https://www.bse.cn",),
    "stock_zh_a_hist": ("https://push2his.eastmoney.com",),
    "stock_value_em": ("https://datacenter-web.eastmoney.com",),
    "index_zh_a_hist": ("https://80.push2.eastmoney.com", "https://push2his.eastmoney.com"),
    "index_stock_cons_weight_csindex": ("https://oss-ch.csindex.com.cn",),
    "get_futures_daily": ("http://www.cffex.com.cn",),
}


def _connect(address: tuple[str, int], timeout_seconds: float) -> None:
    socket.create_connection(address, timeout=timeout_seconds).close()


def probe_addresses(
    addresses: Iterable[tuple[str, int]],
    *,
    timeout_seconds: float = 3.0,
    connect: Callable[[tuple[str, int], float], None] = _connect,
) -> dict[tuple[str, int], str]:
    """Try a TCP connection to every ``(host, port)`` at once; return the unreachable ones.

    Each probe runs in a daemon thread (a name lookup ignores socket timeouts, so a stuck one
    is abandoned rather than waited for); the whole probe takes at most about
    ``timeout_seconds``. Returns ``{address: "ErrorType: message"}``, empty when all answered.

    >>> import socket
    >>> with socket.socket() as closed:
    ...     closed.bind(("127.0.0.1", 0))
    ...     port = closed.getsockname()[1]
    >>> [host for host, _ in probe_addresses([("127.0.0.1", port)], timeout_seconds=1.0)]
    ['127.0.0.1']
    """
    targets = list(dict.fromkeys(addresses))
    outcome: dict[tuple[str, int], str | None] = {}

    def attempt(address: tuple[str, int]) -> None:
        try:
            connect(address, timeout_seconds)
            outcome[address] = None
        except OSError as error:
            outcome[address] = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=attempt, args=(a,), daemon=True) for a in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_seconds + 0.5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {
        address: outcome.get(address) or f"no answer within {timeout_seconds} s"
        for address in targets
        if outcome.get(address, "pending") is not None
    }


def _address_of(url: str, proxies: Mapping[str, str]) -> tuple[tuple[str, int], str]:
    """The ``(host, port)`` a request to ``url`` connects to (its proxy's when one applies)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return (via.hostname or "", via.port or 80), f"{parts.netloc} (via proxy {via.netloc})"
    return (host, parts.port or (443 if parts.scheme == "https" else 80)), parts.netloc


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
    hosts
        The servers of each method, for :meth:`check_reachable` (default ``LIVE_HOSTS``).
    proxies
        ``{scheme: proxy URL}`` the probe connects to instead (default: the environment's,
        ``urllib.request.getproxies()``, which is what ``requests`` uses too).
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = 15.0,
        hosts: Mapping[str, tuple[str, ...]] = LIVE_HOSTS,
        proxies: Mapping[str, str] | None = None,
    ):
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds}")
        self.timeout_seconds = timeout_seconds
        self.hosts = dict(hosts)
        self.proxies = dict(urllib.request.getproxies() if proxies is None else proxies)
        self._module: Any = None

    def check_reachable(
        self, methods: Iterable[str], *, timeout_seconds: float = 3.0
    ) -> dict[str, str]:
        """Probe the hosts ``methods`` call; raise if none answers, else return the silent ones.

        Returns ``{host: error}`` of the hosts that did not answer (their requests will fail
        and be retried on a rerun) when at least one did.

        Raises
        ------
        SourceUnreachable
            No host answered within ``timeout_seconds``: the network or the proxy is down.
        """
        labels: dict[tuple[str, int], str] = {}
        for method in methods:
            for url in self.hosts[method]:
                address, label = _address_of(url, self.proxies)
                labels.setdefault(address, label)
        silent = probe_addresses(labels, timeout_seconds=timeout_seconds)
        failures = {labels[a]: error for a, error in silent.items()}
        if failures and len(failures) == len(labels):
            raise SourceUnreachable(
                "akshare",
                [f"{label}: {error}" for label, error in failures.items()],
                f"none of its {len(labels)} hosts answered within {timeout_seconds} s",
            )
        return failures

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
