"""The dense market the engine runs on: (days x symbols) arrays loaded once.

A :class:`MarketData` holds every bar field as a C-ordered ``(days, n)`` array (float64, NaN
where a stock has no bar; bool flags False where no bar), the board code of each symbol, index
weights per index code (dense, 0 where not a member), index closes, and the industry of each
symbol when the store has industries (``industry_codes``, int16 into ``industry_names``). It is
built once per run from a :class:`~backtest.market.store.Store` (:meth:`MarketData.from_store`)
or directly from arrays (:meth:`MarketData.from_arrays`, for tests and synthetic markets). All
arrays are read-only; a session's row is a contiguous view, so the engine feeds kernels without
copies.

Derived arrays (:class:`~backtest.market.features.MarketFeatures`: adjusted closes, volatility,
ADV, VWAP, the mark and the lock flags) are computed once per market and window pair
(:meth:`MarketData.features`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from backtest.core.ids import FUTURES_UNDERLYING, INDEX_CODES, board_of
from backtest.market.features import MarketFeatures, derive_features, read_only
from backtest.market.futures_panel import FuturesPanel, align_futures, futures_panel
from backtest.rules.ashare import BOARD_CODES

FLOAT_FIELDS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "volume",
    "amount",
    "limit_up",
    "limit_down",
    "float_cap",
    "total_cap",
    "adj_factor",
)
BOOL_FIELDS: tuple[str, ...] = ("suspended", "is_st")


@dataclass(frozen=True, slots=True)
class MarketData:
    """Dense, read-only market arrays for one date range (see the module docs).

    Build with :meth:`from_store` or :meth:`from_arrays`; ``fields[name]`` is a ``(days, n)``
    array for each name of ``FLOAT_FIELDS`` and ``BOOL_FIELDS``.
    """

    dates: np.ndarray
    symbols: np.ndarray
    board_codes: np.ndarray
    fields: Mapping[str, np.ndarray]
    index_weights: Mapping[str, np.ndarray] = field(default_factory=dict)
    index_closes: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: index opens per code (used to split a futures trade's P&L at the open); may be empty
    index_opens: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: CFFEX futures bars aligned on ``dates`` (``None`` when the market has none)
    futures: FuturesPanel | None = None
    #: ``(n,)`` int16 code of each symbol's industry into ``industry_names``, -1 where unknown
    #: (every symbol when the market has no industries); see :meth:`require_industries`
    industry_codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int16))
    #: the industries' names (sorted; as the source gives them, e.g. 银行), () when none
    industry_names: tuple[str, ...] = ()
    #: what the data was loaded from, when known (:meth:`from_store`: the store's identity and
    #: the query); ``None``: :meth:`identity` hashes the arrays themselves
    source_identity: str | None = None
    #: derived arrays already computed, by window settings (see :meth:`features`)
    _feature_cache: dict[tuple[int, int], MarketFeatures] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _content_hash: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(days, n)``."""
        return (int(self.dates.size), int(self.symbols.size))

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(
                f"market data has no field {name!r}; fields are {sorted(self.fields)}"
            ) from None

    @property
    def has_industries(self) -> bool:
        """Whether any symbol has an industry."""
        return bool(self.industry_names) and bool(np.any(self.industry_codes >= 0))

    def industry_of(self) -> np.ndarray:
        """Return each symbol's industry name, ``(n,)`` object array, None where unknown."""
        names = np.array([*self.industry_names, None], dtype=object)
        codes = self.industry_codes if self.industry_codes.size else np.full(self.shape[1], -1)
        return names[codes]

    def require_industries(self, purpose: str) -> np.ndarray:
        """Return ``industry_codes``, or raise saying which command supplies industries.

        ``purpose`` names what needs them (``"industry attribution"``) in the message.
        """
        if not self.has_industries:
            raise ValueError(
                f"{purpose} needs each stock's industry and this market has none; write them "
                "into the store with `backtest data import FILE --preset tushare_stock_basic` "
                "(a Tushare stock_basic export, or any file with symbol and industry columns: "
                "--table industries), a bars import with an `industry` column, or rebuild the "
                "scenario (`backtest data build --force`)"
            )
        return self.industry_codes

    def data_range(self) -> dict[str, Any]:
        """First and last session and the symbol count, for run hashes."""
        days, n = self.shape
        return {
            "first": str(self.dates[0]) if days else None,
            "last": str(self.dates[-1]) if days else None,
            "sessions": days,
            "symbols": n,
        }

    def identity(self) -> str:
        """Return the hash that identifies this market's data (folded into every run hash).

        ``source_identity`` when the market was loaded from a store (the store's
        :meth:`~backtest.market.store.Store.identity`, which changes with every write, and the
        query), else the sha256 of the arrays (dates, symbols, boards, every field, the index
        and futures arrays), computed once (about 1 GB/s).
        """
        if self.source_identity is not None:
            return self.source_identity
        if not self._content_hash:
            self._content_hash.append(_content_hash(self))
        return self._content_hash[0]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        *,
        dates: Sequence[Any] | np.ndarray,
        symbols: Sequence[str] | np.ndarray,
        close: np.ndarray,
        boards: Sequence[str] | None = None,
        index_weights: Mapping[str, np.ndarray] | None = None,
        index_closes: Mapping[str, np.ndarray] | None = None,
        index_opens: Mapping[str, np.ndarray] | None = None,
        futures: FuturesPanel | None = None,
        source_identity: str | None = None,
        industries: Sequence[str | None] | None = None,
        **arrays: np.ndarray,
    ) -> MarketData:
        """Build from ``(days, n)`` arrays; only ``close`` is required.

        Missing fields default to: open/high/low = close; pre_close = the previous close;
        volume NaN (no trading: give volumes for anything to fill); amount, limits and caps NaN
        (no limit); adj_factor 1; flags False. Missing constant fields are read-only broadcast
        arrays (no memory). Given float64 C-ordered arrays are used **without a copy** (the
        market's view of them is read-only): do not modify them afterwards.
        ``boards`` defaults to each symbol's board from its code (:func:`board_of`).
        ``futures`` (a :class:`~backtest.market.futures_panel.FuturesPanel`) is reindexed onto
        ``dates`` (NaN on sessions it lacks); ``index_opens`` are ``(days,)`` like closes.
        ``source_identity`` names the data when the caller knows it (else :meth:`identity`
        hashes the arrays). ``industries`` gives each symbol's industry name (None where
        unknown); codes number the sorted names.

        >>> market = MarketData.from_arrays(
        ...     dates=["2024-02-05", "2024-02-06"], symbols=["600000", "688981"],
        ...     close=np.array([[10.0, 50.0], [10.5, 49.0]]), volume=np.full((2, 2), 1e6))
        >>> market.shape, market["pre_close"][1].tolist(), market.board_codes.tolist()
        ((2, 2), [10.0, 50.0], [0, 2])
        """
        day_axis = np.asarray(dates, dtype="datetime64[D]")
        symbol_axis = np.array([str(s) for s in symbols], dtype=object)
        shape = (day_axis.size, symbol_axis.size)
        if len(set(symbol_axis.tolist())) != symbol_axis.size:
            raise ValueError("symbols must be unique; remove the duplicate symbols")
        if day_axis.size > 1 and not bool(np.all(day_axis[1:] > day_axis[:-1])):
            raise ValueError("dates must be strictly increasing sessions")
        unknown = sorted(set(arrays) - set(FLOAT_FIELDS) - set(BOOL_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown fields {unknown}; fields are {list(FLOAT_FIELDS + BOOL_FIELDS)}"
            )
        given: dict[str, np.ndarray] = {"close": close, **arrays}
        for name, array in given.items():
            if np.shape(array) != shape:
                raise ValueError(
                    f"field {name!r} has shape {np.shape(array)}; expected (days, symbols) = "
                    f"{shape}"
                )
        close64 = np.asarray(close, dtype=np.float64)
        pre_close = np.full(shape, np.nan)
        pre_close[1:] = close64[:-1]
        defaults: dict[str, np.ndarray] = {
            "open": close64,
            "high": close64,
            "low": close64,
            "pre_close": pre_close,
            "adj_factor": np.broadcast_to(np.float64(1.0), shape),
        }
        out: dict[str, np.ndarray] = {}
        # a missing field is a read-only broadcast constant: no memory for (days x n) NaNs
        for name in FLOAT_FIELDS:
            source = given.get(name, defaults.get(name))
            out[name] = (
                np.broadcast_to(np.float64(np.nan), shape)
                if source is None
                else read_only(np.asarray(source, dtype=np.float64))
            )
        for name in BOOL_FIELDS:
            source = given.get(name)
            out[name] = (
                np.broadcast_to(np.False_, shape)
                if source is None
                else read_only(np.asarray(source, dtype=bool))
            )
        board_names = (
            [board_of(s)[1] for s in symbol_axis.tolist()] if boards is None else list(boards)
        )
        if len(board_names) != shape[1]:
            raise ValueError(f"boards has {len(board_names)} entries; expected {shape[1]}")
        bad = sorted({b for b in board_names if b not in BOARD_CODES})
        if bad:
            raise ValueError(f"unknown boards {bad}; boards are {list(BOARD_CODES)}")
        weights = {
            code: read_only(np.asarray(w, dtype=np.float64))
            for code, w in (index_weights or {}).items()
        }
        for code, w in weights.items():
            if w.shape != shape:
                raise ValueError(f"index_weights[{code!r}] has shape {w.shape}; expected {shape}")
        closes = {
            code: read_only(np.asarray(c, dtype=np.float64))
            for code, c in (index_closes or {}).items()
        }
        opens = {
            code: read_only(np.asarray(c, dtype=np.float64))
            for code, c in (index_opens or {}).items()
        }
        for label, series in (("index_closes", closes), ("index_opens", opens)):
            for code, c in series.items():
                if c.shape != (shape[0],):
                    raise ValueError(
                        f"{label}[{code!r}] has shape {c.shape}; expected ({shape[0]},)"
                    )
        industry_codes, industry_names = _industry_codes(industries, shape[1])
        return cls(
            dates=read_only(day_axis),
            symbols=read_only(symbol_axis),
            board_codes=read_only(np.array([BOARD_CODES[b] for b in board_names], dtype=np.int8)),
            fields=out,
            index_weights=weights,
            index_closes=closes,
            index_opens=opens,
            futures=None if futures is None else align_futures(futures, day_axis),
            source_identity=source_identity,
            industry_codes=read_only(industry_codes),
            industry_names=industry_names,
        )

    @classmethod
    def from_store(
        cls,
        store: Any,
        *,
        start: Any = None,
        end: Any = None,
        symbols: Sequence[str] | None = None,
        index_codes: Sequence[str] = INDEX_CODES,
    ) -> MarketData:
        """Load a date range from a :class:`~backtest.market.store.Store` (one query per table).

        Index codes without weights in the store get no entry in ``index_weights``; index codes
        without bars get no entry in ``index_closes``. Futures bars, when the store has any,
        become ``futures`` (with the closes and opens of their underlying indices). Each symbol's
        industry is the one in force on the first session loaded (a later listing: its first
        classification), so nothing is read from after the start; none when the store has none.
        ``source_identity`` is the store's identity with the query (start, end, symbols, index
        codes), so two stores, or two builds of one, never share a run hash.
        """
        source_identity = store_query_identity(
            store.identity(), start=start, end=end, symbols=symbols, index_codes=index_codes
        )
        # one query for every field; it streams in batches, so the transient Arrow memory stays
        # at one batch whatever the number of fields
        panel = store.panel(list(FLOAT_FIELDS + BOOL_FIELDS), start, end, symbols)
        if panel.shape[0] == 0:
            raise ValueError(
                f"the store has no sessions between {start} and {end}; build or import a market "
                "first (backtest data build) or widen the range"
            )
        instruments = store.instruments()
        board_by_symbol = dict(
            zip(instruments["symbol"].to_list(), instruments["board"].to_list(), strict=True)
        )
        boards = [board_by_symbol[s] for s in panel.symbols.tolist()]
        weights: dict[str, np.ndarray] = {}
        for code in index_codes:
            wpanel = store.index_weight_panel(code, start, end, panel.symbols.tolist())
            if np.any(wpanel.values["weight"] > 0):
                weights[code] = wpanel.values["weight"]
        closes: dict[str, np.ndarray] = {}
        opens: dict[str, np.ndarray] = {}
        futures = None
        if not store.is_empty("futures_bars"):
            futures = futures_panel(
                store.read("futures_bars", start=start, end=end),
                fields=("open", "close", "settle", "open_interest"),
            )
            index_codes = tuple(dict.fromkeys([*index_codes, *FUTURES_UNDERLYING.values()]))
        if list(index_codes):
            bars = store.read(
                "index_bars",
                start=start,
                end=end,
                columns=["date", "index_code", "open", "close"],
                where={"index_code": list(index_codes)},
            )
            positions = {d: i for i, d in enumerate(panel.dates.astype("datetime64[D]").tolist())}
            for code in index_codes:
                rows = bars.filter(bars["index_code"] == code)
                if rows.height == 0:
                    continue
                where = np.array([positions[d] for d in rows["date"].to_list()], dtype=np.int64)
                for column, target in (("close", closes), ("open", opens)):
                    series = np.full(panel.shape[0], np.nan)
                    series[where] = rows[column].cast(pl.Float64).to_numpy()
                    target[code] = series
        volume = panel.values["volume"]
        classified = store.industries(as_of=panel.dates[0])
        industry_by_symbol = dict(
            zip(classified["symbol"].to_list(), classified["industry"].to_list(), strict=True)
        )
        return cls.from_arrays(
            dates=panel.dates,
            symbols=panel.symbols,
            boards=boards,
            index_weights=weights,
            index_closes=closes,
            index_opens=opens,
            futures=futures,
            **{name: panel.values[name] for name in FLOAT_FIELDS if name != "volume"},
            volume=volume,
            source_identity=source_identity,
            industries=[industry_by_symbol.get(s) for s in panel.symbols.tolist()]
            if industry_by_symbol
            else None,
            **{name: panel.values[name] for name in BOOL_FIELDS},
        )

    # ------------------------------------------------------------------ derived arrays
    def features(self, *, volatility_window: int = 20, adv_window: int = 20) -> MarketFeatures:
        """Return the derived arrays (see the module docs) for the given windows.

        They depend only on the market's read-only arrays and the windows, so they are computed
        once per market and window pair and shared by every later run (a parameter sweep over
        one market pays for them once).
        """
        key = (volatility_window, adv_window)
        cached = self._feature_cache.get(key)
        if cached is None:
            cached = self._feature_cache[key] = derive_features(
                self.fields, volatility_window, adv_window
            )
        return cached


def _industry_codes(
    industries: Sequence[str | None] | None, count: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """int16 codes (-1 for None) into the sorted distinct names."""
    if industries is None:
        return np.full(count, -1, dtype=np.int16), ()
    labels = list(industries)
    if len(labels) != count:
        raise ValueError(f"industries has {len(labels)} entries; expected one per symbol, {count}")
    names = tuple(sorted({str(x) for x in labels if x is not None}))
    if len(names) > np.iinfo(np.int16).max:
        raise ValueError(f"{len(names)} industries do not fit int16 codes")
    position = {name: k for k, name in enumerate(names)}
    codes = np.array([-1 if x is None else position[str(x)] for x in labels], dtype=np.int16)
    return codes, names


def store_query_identity(
    store_identity: str,
    *,
    start: Any = None,
    end: Any = None,
    symbols: Sequence[str] | None = None,
    index_codes: Sequence[str] = INDEX_CODES,
) -> str:
    """The identity of a market loaded from a store: sha256 of the store's and the query's.

    >>> len(store_query_identity("0123abcd", start="2024-01-02"))
    64
    """
    query = {
        "store": store_identity,
        "start": None if start is None else str(start),
        "end": None if end is None else str(end),
        "symbols": None if symbols is None else [str(s) for s in symbols],
        "index_codes": list(index_codes),
    }
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode("ascii")).hexdigest()


def _content_hash(market: MarketData) -> str:
    """sha256 (hex) of every array of ``market``, in a fixed order (names included)."""
    digest = hashlib.sha256()

    def add(name: str, array: np.ndarray) -> None:
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        if array.dtype == object:
            digest.update("\x1f".join(str(v) for v in array.ravel().tolist()).encode())
        elif array.size and all(stride == 0 for stride in array.strides):
            digest.update(np.ascontiguousarray(array.flat[0]).tobytes())  # a broadcast constant
        else:
            digest.update(np.ascontiguousarray(array).view(np.uint8).data)

    add("dates", market.dates.astype("datetime64[D]"))
    add("symbols", market.symbols)
    add("boards", market.board_codes)
    for name in sorted(market.fields):
        add(f"field.{name}", market.fields[name])
    for label, series in (
        ("weights", market.index_weights),
        ("closes", market.index_closes),
        ("opens", market.index_opens),
    ):
        for code in sorted(series):
            add(f"{label}.{code}", series[code])
    if market.industry_names:  # only when present: hashes of markets without them unchanged
        add("industry_codes", market.industry_codes)
        add("industry_names", np.array(market.industry_names, dtype=object))
    futures = market.futures
    if futures is not None:
        add("futures.contracts", np.asarray(futures.contracts, dtype=object))
        add("futures.expiry", np.asarray(futures.expiry, dtype="datetime64[D]"))
        add("futures.multiplier", np.asarray(futures.multiplier, dtype=np.float64))
        for name in sorted(futures.values):
            add(f"futures.{name}", np.asarray(futures.values[name]))
    return digest.hexdigest()
