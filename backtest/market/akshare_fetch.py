"""A fetch from akshare a person can trust: resumable, rate-limited, retried, transactional.

:func:`fetch_akshare` fills a store, for a date range and a universe, in steps:

1. the calendar akshare ships (offline) for the range;
2. the stock list with boards and listing dates (``instruments``);
3. current CSIndex constituents of the universe's index (for ``csi500``/``csi1000``/``csi2000``);
   written to ``index_weights`` too when their date lies inside the range;
4. per stock: raw and hfq daily bars and the cap history, normalised and completed (suspended
   sessions, ``pre_close``, limit prices; :mod:`backtest.market.derive`), then written with the
   stock's fetch-log row in one transaction;
5. index bars of CSI 300/500/1000/2000; 6. CFFEX IF/IH/IC/IM bars month by month;
7. historical index membership (and the microcap index) rebuilt from the cap history by the
   scenario's rules (:func:`backtest.market.indices.build_index_weights`), when the universe is
   the whole market.

Every request is logged in ``fetch_log``; a rerun skips what an ``ok`` row covers, so an
interrupted fetch (Ctrl-C, a crash) resumes where it stopped with nothing lost or duplicated.
Failures are collected per symbol in the returned :class:`FetchReport` and printed. When
``give_up_after`` requests in a row fail on the network, the run stops with
:class:`~backtest.market.akshare_retry.SourceUnreachable` (whose ``report`` holds what was done):
the source is down, and retrying every remaining stock would take hours. Nothing is half
written (each request's frames and log row share one transaction), so a rerun resumes.

Known limits of the data (also in each write's provenance ``params``)
---------------------------------------------------------------------
- ``is_st`` is False: akshare has no point-in-time ST history, so ST stocks get 10 % limits;
- CSIndex constituents are today's (survivorship); history comes from the rebuild in step 7;
- the stock lists hold listed stocks only: delisted names are missing (survivorship).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000
from backtest.market.akshare_normalise import (
    MalformedResponse,
    normalise_cffex_daily,
    normalise_constituents,
    normalise_index_bars,
    normalise_stock_bars,
    normalise_stock_list,
)
from backtest.market.akshare_retry import (
    CircuitBreaker,
    RateLimiter,
    RetryExhausted,
    RetryPolicy,
    SourceUnreachable,
    call_with_retry,
)
from backtest.market.akshare_source import AkshareClient, shipped_calendar
from backtest.market.derive import add_limit_prices, add_pre_close, fill_suspended_sessions
from backtest.market.fetch_log import (
    FetchReport,
    FetchStatus,
    covered_requests,
    ensure_fetch_log,
    record_fetch,
)
from backtest.market.indices import build_index_weights
from backtest.market.schema import BARS
from backtest.market.store import Store

__all__ = ["SOURCE", "FetchConfig", "FetchReport", "Universe", "fetch_akshare", "methods_needed"]

SOURCE = "akshare"
Universe = Literal["csi500", "csi1000", "csi2000", "microcap", "all"]
UNIVERSE_INDEX: dict[str, str] = {"csi500": CSI500, "csi1000": CSI1000, "csi2000": CSI2000}
INDEX_CODES_FETCHED: tuple[str, ...] = (CSI300, CSI500, CSI1000, CSI2000)
DATA_NOTES: dict[str, str] = {
    "is_st": "False for every row: akshare has no point-in-time ST history (ST limits are 10 %)",
    "constituents": "CSIndex current weights only (survivorship); history is rebuilt from caps",
    "stock_list": "listed stocks only: delisted names are missing (survivorship)",
    "prices": "raw; adj_factor = hfq close / raw close (Eastmoney)",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchConfig:
    """What to fetch and how politely.

    Parameters
    ----------
    start, end
        Inclusive date range of the bars.
    universe
        ``csi500``/``csi1000``/``csi2000``: today's members of that index; ``microcap`` and
        ``all``: every listed A-share (ranking the microcap needs the whole market's caps).
    symbols
        Fetch exactly these stocks instead of a universe (e.g. a few names to try the source).
    rate_limit_seconds
        Least time between the starts of two requests (>= 0).
    retry
        Retry policy for network errors and timeouts.
    give_up_after
        Stop the run after this many requests in a row failed on the network (>= 1).
    """

    start: dt.date
    end: dt.date
    universe: Universe = "all"
    symbols: tuple[str, ...] | None = None
    rate_limit_seconds: float = 0.3
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    include_indices: bool = True
    include_futures: bool = True
    give_up_after: int = 3

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if self.universe not in ("csi500", "csi1000", "csi2000", "microcap", "all"):
            raise ValueError(
                f"universe must be csi500, csi1000, csi2000, microcap or all, not {self.universe!r}"
            )
        if self.rate_limit_seconds < 0:
            raise ValueError(f"rate_limit_seconds must be >= 0, got {self.rate_limit_seconds}")
        if self.give_up_after < 1:
            raise ValueError(f"give_up_after must be >= 1 request, got {self.give_up_after}")

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "universe": self.universe,
            "symbols": list(self.symbols) if self.symbols else None,
            "notes": DATA_NOTES,
        }


def methods_needed(config: FetchConfig) -> tuple[str, ...]:
    """The :class:`~backtest.market.akshare_source.AkshareClient` methods a fetch may call.

    >>> methods_needed(FetchConfig(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 8),
    ...     symbols=("600000",), include_futures=False))[-2:]
    ('stock_value_em', 'index_zh_a_hist')
    """
    methods = [
        "stock_info_sh_name_code",
        "stock_info_sz_name_code",
        "stock_info_bj_name_code",
        "stock_zh_a_hist",
        "stock_value_em",
    ]
    if not config.symbols and config.universe in UNIVERSE_INDEX:
        methods.append("index_stock_cons_weight_csindex")
    if config.include_indices:
        methods.append("index_zh_a_hist")
    if config.include_futures:
        methods.append("get_futures_daily")
    return tuple(methods)


def _yyyymmdd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


@dataclass(slots=True)
class _Fetcher:
    store: Store
    client: AkshareClient
    config: FetchConfig
    report: FetchReport
    limiter: RateLimiter
    sleep: Callable[[float], None]
    sessions: np.ndarray  # the full shipped calendar (listing ages need sessions before start)
    breaker: CircuitBreaker

    def call(self, what: str, function: Callable[[], Any]) -> tuple[Any, int]:
        return call_with_retry(
            function, what=what, policy=self.config.retry, limiter=self.limiter, sleep=self.sleep
        )

    def run_request(
        self,
        dataset: str,
        symbol: str,
        fetch: Callable[[], tuple[dict[str, pl.DataFrame], int]],
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> bool:
        """Fetch one request and write its frames and its log row in one transaction."""
        start = start or self.config.start
        end = end or self.config.end
        attempts = 0
        try:
            frames, attempts = fetch()
            with self.store.transaction():
                written = self.store.write_many(
                    frames, source=SOURCE, params={**self.config.params(), "dataset": dataset}
                )
                rows = sum(written.values())
                record_fetch(
                    self.store,
                    dataset=dataset,
                    symbol=symbol,
                    start=start,
                    end=end,
                    status="ok",
                    error=None,
                    rows=rows,
                )
        except MalformedResponse as error:
            status: FetchStatus = "empty" if "empty frame" in str(error) else "malformed"
            self._fail(dataset, symbol, start, end, status, error, attempts or 1)
            self.breaker.answered()
            return False
        except RetryExhausted as error:
            self._fail(dataset, symbol, start, end, "network", error, error.attempts)
            self.breaker.failed(f"{dataset} {symbol}", error.last)
            return False
        except Exception as error:  # reported per symbol; KeyboardInterrupt still propagates
            self._fail(dataset, symbol, start, end, "error", error, attempts or 1)
            return False
        self.report.add(dataset, symbol, "ok", rows, None, attempts)
        self.breaker.answered()
        return True

    def _fail(
        self,
        dataset: str,
        symbol: str,
        start: dt.date,
        end: dt.date,
        status: FetchStatus,
        error: BaseException,
        attempts: int,
    ) -> None:
        text = f"{type(error).__name__}: {error}"
        record_fetch(
            self.store,
            dataset=dataset,
            symbol=symbol,
            start=start,
            end=end,
            status=status,
            error=text,
            rows=0,
        )
        self.report.add(dataset, symbol, status, 0, text, attempts)

    # ---------------------------------------------------------------- steps
    def calendar(self) -> None:
        days = self.sessions[
            (self.sessions >= np.datetime64(self.config.start, "D"))
            & (self.sessions <= np.datetime64(self.config.end, "D"))
        ]
        stored = self.store.calendar(self.config.start, self.config.end)
        if len(stored) < len(days):
            self.store.write(
                "calendar",
                pl.DataFrame({"date": days}).with_columns(pl.col("date").cast(pl.Date)),
                source=f"{SOURCE}:file_fold/calendar.json",
                params=self.config.params(),
            )

    def instruments(self) -> None:
        if "*" in covered_requests(self.store, "instruments", self.config.start, self.config.end):
            self.report.skipped.append(("instruments", "*"))
            return

        def fetch() -> tuple[dict[str, pl.DataFrame], int]:
            c = self.client
            sh_main, a1 = self.call("stock list SSE", lambda: c.stock_info_sh_name_code("主板A股"))
            star, a2 = self.call("stock list STAR", lambda: c.stock_info_sh_name_code("科创板"))
            sz, a3 = self.call("stock list SZSE", lambda: c.stock_info_sz_name_code("A股列表"))
            bj, a4 = self.call("stock list BSE", lambda: c.stock_info_bj_name_code())
            return {"instruments": normalise_stock_list(sh_main, star, sz, bj)}, a1 + a2 + a3 + a4

        self.run_request("instruments", "*", fetch)

    def universe(self) -> list[str]:
        known = self.store.instruments()
        listed = known.filter(
            pl.col("list_date").is_null() | (pl.col("list_date") <= self.config.end)
        )["symbol"].to_list()
        if self.config.symbols:
            missing = sorted(set(self.config.symbols) - set(known["symbol"].to_list()))
            if missing:
                self.report.gaps.append(
                    f"symbols {missing} are not in the stock list; they were not fetched"
                )
            return [s for s in self.config.symbols if s not in missing]
        code = UNIVERSE_INDEX.get(self.config.universe)
        if code is None:
            return listed
        frame, _ = self.call(
            f"constituents {code}", lambda: self.client.index_stock_cons_weight_csindex(code)
        )
        members = normalise_constituents(frame)
        snapshot = members.filter(pl.col("symbol").is_in(known["symbol"].implode()))
        if snapshot.height and self.config.start <= snapshot["date"][0] <= self.config.end:
            sessions = self.store.calendar()
            if np.datetime64(snapshot["date"][0], "D") in sessions:
                self.store.write(
                    "index_weights",
                    snapshot,
                    source=f"{SOURCE}:csindex",
                    params=self.config.params(),
                )
        return sorted(set(members["symbol"].to_list()) & set(listed))

    def stock_bars(self, symbols: list[str], progress: bool) -> None:
        done = covered_requests(self.store, "stock_bars", self.config.start, self.config.end)
        instruments = self.store.instruments()
        start, end = _yyyymmdd(self.config.start), _yyyymmdd(self.config.end)
        for symbol in tqdm(symbols, desc="stock bars", unit="stock", disable=not progress):
            if symbol in done:
                self.report.skipped.append(("stock_bars", symbol))
                continue

            def fetch(symbol: str = symbol) -> tuple[dict[str, pl.DataFrame], int]:
                c = self.client
                raw, a1 = self.call(
                    f"{symbol} raw bars", lambda: c.stock_zh_a_hist(symbol, "daily", start, end, "")
                )
                if raw is None or len(raw) == 0:  # no bars (not yet listed, or suspended)
                    raise MalformedResponse("stock_zh_a_hist", f"an empty frame for {symbol}")
                hfq, a2 = self.call(
                    f"{symbol} hfq bars",
                    lambda: c.stock_zh_a_hist(symbol, "daily", start, end, "hfq"),
                )
                value, a3 = self.call(f"{symbol} caps", lambda: c.stock_value_em(symbol))
                bars = normalise_stock_bars(raw, hfq, value, symbol)
                bars = bars.filter(pl.col("date").is_between(self.config.start, self.config.end))
                return {"bars": self.complete_bars(bars, instruments)}, a1 + a2 + a3

            self.run_request("stock_bars", symbol, fetch)

    def complete_bars(self, bars: pl.DataFrame, instruments: pl.DataFrame) -> pl.DataFrame:
        bars = fill_suspended_sessions(bars.with_columns(is_st=pl.lit(False)), self.sessions)
        bars = add_limit_prices(add_pre_close(bars), instruments, self.sessions)
        return bars.select(BARS.names)

    def index_bars(self) -> None:
        done = covered_requests(self.store, "index_bars", self.config.start, self.config.end)
        start, end = _yyyymmdd(self.config.start), _yyyymmdd(self.config.end)
        for code in INDEX_CODES_FETCHED:
            if code in done:
                self.report.skipped.append(("index_bars", code))
                continue

            def fetch(code: str = code) -> tuple[dict[str, pl.DataFrame], int]:
                frame, attempts = self.call(
                    f"index {code}", lambda: self.client.index_zh_a_hist(code, "daily", start, end)
                )
                return {"index_bars": normalise_index_bars(frame, code)}, attempts

            self.run_request("index_bars", code, fetch)

    def futures_bars(self) -> None:
        month = self.config.start.replace(day=1)
        while month <= self.config.end:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            first = max(month, self.config.start)
            last = min(following - dt.timedelta(days=1), self.config.end)
            key = month.strftime("%Y%m")
            if key in covered_requests(self.store, "futures_bars", first, last):
                self.report.skipped.append(("futures_bars", key))
            else:

                def fetch(
                    first: dt.date = first, last: dt.date = last, key: str = key
                ) -> tuple[dict[str, pl.DataFrame], int]:
                    frame, attempts = self.call(
                        f"CFFEX {key}",
                        lambda: self.client.get_futures_daily(
                            _yyyymmdd(first), _yyyymmdd(last), "CFFEX"
                        ),
                    )
                    return {"futures_bars": normalise_cffex_daily(frame, self.sessions)}, attempts

                self.run_request("futures_bars", key, fetch, start=first, end=last)
            month = following

    def index_weights(self) -> None:
        if self.config.symbols or self.config.universe not in ("all", "microcap"):
            self.report.gaps.append(
                "historical index membership and the microcap index were not rebuilt: they "
                "rank the whole market by cap; fetch --universe all to rebuild them"
            )
            return
        rebuild_index_weights(self.store, self.config.start, self.config.end, self.report)


def rebuild_index_weights(store: Store, start: dt.date, end: dt.date, report: FetchReport) -> int:
    """Rebuild point-in-time CSI 300/500/1000/2000 and microcap weights from the stored caps.

    Uses the scenario's own rules (:func:`backtest.market.indices.build_index_weights`), so real
    and synthetic markets get membership the same way. Returns rows written (0 when there are no
    caps, with the reason in ``report.gaps``).
    """
    panel = store.panel(["close", "total_cap", "float_cap", "is_st", "suspended"], start, end)
    if np.isnan(panel["total_cap"]).all():
        report.gaps.append("index membership not rebuilt: no market caps are stored")
        return 0
    listed = ~np.isnan(panel["close"])
    weights = build_index_weights(
        panel.dates,
        panel.symbols,
        panel["total_cap"],
        panel["float_cap"],
        panel["is_st"],
        listed,
        panel["suspended"],
    )
    return store.write(
        "index_weights",
        weights,
        source=f"{SOURCE}:rebuilt",
        params={
            "method": "rebuilt from akshare cap history by backtest.market.indices rules "
            "(CSI 300/500/1000/2000 by cap rank at semi-annual reviews; microcap: 400 smallest "
            "by total cap, equal weight, daily)",
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )


def fetch_akshare(
    store: Store,
    client: AkshareClient,
    config: FetchConfig,
    *,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FetchReport:
    """Fetch ``config``'s range and universe from akshare into ``store``; resume if rerun.

    Parameters
    ----------
    store
        The market store to fill.
    client
        The network boundary (:class:`~backtest.market.akshare_source.LiveAkshareClient`, or a
        recorded client in tests).
    config
        Range, universe, rate limit and retry policy.
    progress
        Show a tqdm progress bar over stocks.
    sleep, clock
        Injected for tests (no real waiting).

    Returns
    -------
    FetchReport
        Outcomes per request, skipped requests and gaps; ``str(report)`` is the printed table.

    Raises
    ------
    SourceUnreachable
        ``config.give_up_after`` requests in a row failed on the network; ``error.report``
        holds the outcomes so far. Rerun to resume.
    """
    ensure_fetch_log(store)
    report = FetchReport()
    fetcher = _Fetcher(
        store=store,
        client=client,
        config=config,
        report=report,
        limiter=RateLimiter(config.rate_limit_seconds, clock=clock, sleep=sleep),
        sleep=sleep,
        sessions=shipped_calendar(),
        breaker=CircuitBreaker(threshold=config.give_up_after, source=SOURCE),
    )
    try:
        _run_steps(fetcher, store, config, report, progress)
    except SourceUnreachable as error:
        error.report = report
        raise
    return report


def _run_steps(
    fetcher: _Fetcher, store: Store, config: FetchConfig, report: FetchReport, progress: bool
) -> None:
    fetcher.calendar()
    fetcher.instruments()
    if store.is_empty("instruments"):
        report.gaps.append("no stock list is stored, so no stock bars were fetched; rerun")
    else:
        try:
            symbols = fetcher.universe()
        except (MalformedResponse, RetryExhausted) as error:
            report.add("constituents", config.universe, "error", 0, str(error), 1)
            if isinstance(error, RetryExhausted):
                fetcher.breaker.failed(f"constituents {config.universe}", error.last)
            symbols = []
        fetcher.stock_bars(symbols, progress)
    if config.include_indices:
        fetcher.index_bars()
    if config.include_futures:
        fetcher.futures_bars()
    if not store.is_empty("bars"):
        fetcher.index_weights()
