"""Derive the bar columns a source does not deliver, the same way for every source.

Both real-data paths (akshare, a user's CSV/Parquet) end with frames that lack some columns of
``bars``: suspended sessions are missing rows, ``pre_close`` may be absent, and no source sends
price limits. This module fills them in, vectorised in polars (no per-row Python), so that a
1.5 M-row panel completes in about a second.

Rules (sources: SSE/SZSE trading rules; CSRC registration-system reform)
-----------------------------------------------------------------------
Price-limit fraction ``p`` by board, on the session's date:

- main board 10 %, main-board ST 5 %;
- ChiNext 20 % from 2020-08-24 (10 % before, ST 5 % before);
- STAR 20 %, BSE 30 %.

No limit on the first sessions after listing: 5 sessions on STAR, on ChiNext for listings from
2020-08-24, and on the main board for listings from 2023-04-10 (registration system); 1 session
(the listing day) otherwise. Main-board IPOs before 2023-04-10 had a +44 % / -36 % first-day band;
it is modelled as "no limit" on that one day, which only matters for IPO-day trading.

Limit prices round half up to the tick of 0.01 CNY (exchange rule)::

    limit_up   = floor(pre_close * (1 + p) * 100 + 0.5) / 100
    limit_down = max(floor(pre_close * (1 - p) * 100 + 0.5) / 100, 0.01)

The percentages and unlimited sessions are read from the market rules' dated tables
(:class:`backtest.rules.ashare.MarketRules`, the one home the engine and the scenario read too),
so the store's limits and the rules cannot drift apart; a test also holds the results equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from backtest.core.ids import board_of
from backtest.rules.ashare import BOARD_NAMES, BoardRules, MarketRules
from backtest.rules.presets import CHINA_A_2023_2024

__all__ = [
    "CARRIED_FORWARD",
    "add_limit_prices",
    "add_pre_close",
    "fill_suspended_sessions",
    "instruments_from_symbols",
    "missing_sessions",
    "normalise_symbol_expr",
    "previous_session_close",
    "suspended_rows",
]

#: Float slack so that 10.05 * 1.1 * 100 + 0.5 lands on the right side of floor(); the same
#: rounding as :func:`backtest.rules.ashare.limit_price_round`, as a polars expression.
_ROUNDING_SLACK = 1e-7


def normalise_symbol_expr(column: str = "symbol") -> pl.Expr:
    """Return an expression turning "000001.SZ", "sh600000", "SZ000001" or 1 into "000001".

    A code of up to six digits with an optional exchange prefix (``SH``, ``SZ``, ``BJ``, with or
    without a dot) or suffix (``.SH``, ``.SZ``, ``.BJ``), in any case; anything else (``ABC.SZ``,
    ``600000.HK``, ``6000001``) becomes null, for the caller to refuse by row.

    >>> pl.DataFrame({"symbol": ["000001.SZ", "sh600000", "BJ430047", "1", "ABC.SZ"]}).select(
    ...     normalise_symbol_expr()
    ... )["symbol"].to_list()
    ['000001', '600000', '430047', '000001', None]
    """
    pattern = r"(?i)^(?:(?:SH|SZ|BJ)\.?)?(\d{1,6})(?:\.(?:SH|SZ|BJ))?$"
    digits = pl.col(column).cast(pl.String).str.strip_chars().str.extract(pattern, 1)
    return digits.str.zfill(6).alias(column)


def _session_index(dates: pl.Series, calendar: np.ndarray) -> np.ndarray:
    """Index of the first session on or after each date (len(calendar) when after the last)."""
    values = dates.cast(pl.Int32).to_numpy()  # days since epoch
    return np.searchsorted(calendar.astype("datetime64[D]").astype(np.int64), values)


#: Columns a suspended row carries over from the symbol's previous bar.
CARRIED_FORWARD: tuple[str, ...] = ("adj_factor", "float_cap", "total_cap", "is_st")


def missing_sessions(
    spans: pl.DataFrame, calendar: np.ndarray, occupied: pl.DataFrame
) -> pl.DataFrame:
    """Return the ``(date, symbol)`` sessions inside each symbol's span that hold no bar.

    Parameters
    ----------
    spans
        ``symbol``, ``first``, ``last`` (dates, inclusive); a span with ``first > last`` is empty.
    calendar
        The sessions (``datetime64[D]``, ascending).
    occupied
        ``date`` and ``symbol`` of every bar that exists (in the file or in the store).

    >>> days = np.array(["2024-02-01", "2024-02-02", "2024-02-05"], dtype="datetime64[D]")
    >>> spans = pl.DataFrame({"symbol": ["600000"], "first": [dt.date(2024, 2, 1)],
    ...                       "last": [dt.date(2024, 2, 5)]})
    >>> have = pl.DataFrame({"date": [dt.date(2024, 2, 1), dt.date(2024, 2, 5)],
    ...                      "symbol": ["600000", "600000"]})
    >>> missing_sessions(spans, days, have)["date"].to_list()
    [datetime.date(2024, 2, 2)]
    """
    empty = pl.DataFrame(schema={"date": pl.Date, "symbol": pl.String})
    if spans.height == 0 or len(calendar) == 0:
        return empty
    days = calendar.astype("datetime64[D]").astype(np.int64)
    first = np.searchsorted(days, spans["first"].cast(pl.Int32).to_numpy(), side="left")
    last = np.searchsorted(days, spans["last"].cast(pl.Int32).to_numpy(), side="right") - 1
    lengths = np.maximum(last - first + 1, 0)
    if lengths.sum() == 0:
        return empty
    owner = np.repeat(np.arange(spans.height), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    expected = pl.DataFrame(
        {
            "date": calendar.astype("datetime64[D]")[np.repeat(first, lengths) + offsets],
            "symbol": spans["symbol"].cast(pl.String).gather(owner),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    return expected.join(
        occupied.select("date", pl.col("symbol").cast(pl.String)).unique(),
        on=["date", "symbol"],
        how="anti",
    ).sort("symbol", "date")


def suspended_rows(known: pl.DataFrame, missing: pl.DataFrame) -> pl.DataFrame:
    """Build a suspended bar for each ``(date, symbol)`` of ``missing`` from the bars ``known``.

    The row is flat at the symbol's previous known close (``open = high = low = close``), with
    ``volume = 0``, ``amount = 0`` and ``suspended = True``, and carries the previous bar's
    :data:`CARRIED_FORWARD` columns present in ``known``. A missing session with no earlier
    known bar of its symbol is dropped (there is no price to carry).
    """
    carried = [c for c in CARRIED_FORWARD if c in known.columns]
    marked = pl.concat(
        [
            known.select("date", "symbol", "close", *carried).with_columns(_made=pl.lit(False)),
            missing.select("date", "symbol").with_columns(_made=pl.lit(True)),
        ],
        how="diagonal_relaxed",
    )
    filled = marked.with_columns(
        pl.col("close", *carried).forward_fill().over("symbol", order_by="date")
    )
    made = filled.filter(pl.col("_made") & pl.col("close").is_not_null()).drop("_made")
    return made.with_columns(
        open=pl.col("close"),
        high=pl.col("close"),
        low=pl.col("close"),
        volume=pl.lit(0, dtype=pl.Int64),
        amount=pl.lit(0.0),
        suspended=pl.lit(True),
    ).sort("symbol", "date")


def fill_suspended_sessions(bars: pl.DataFrame, calendar: np.ndarray) -> pl.DataFrame:
    """Add a suspended row for every session a symbol has no bar between its first and last bar.

    The added rows are :func:`suspended_rows`; rows already present keep their values and get
    ``suspended = volume == 0`` when the column is absent.

    Parameters
    ----------
    bars
        At least ``date``, ``symbol``, ``open``, ``high``, ``low``, ``close``, ``volume``.
    calendar
        The sessions (``datetime64[D]``, ascending); bars off the calendar are kept as they are
        (the store will refuse them with a clear message).
    """
    if "suspended" not in bars.columns:
        bars = bars.with_columns(suspended=pl.col("volume") == 0)
    if bars.height == 0:
        return bars
    spans = bars.group_by("symbol").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
    )
    made = suspended_rows(bars, missing_sessions(spans, calendar, bars))
    if made.height == 0:
        return bars
    made = made.select([c for c in made.columns if c in bars.columns])
    return (
        pl.concat([bars, made], how="diagonal_relaxed").sort("symbol", "date").select(bars.columns)
    )


def previous_session_close(
    bars: pl.DataFrame, calendar: np.ndarray, *, basis: pl.DataFrame | None = None
) -> pl.Series:
    """Return, per row, the symbol's close on the previous session (null when it has no bar).

    Only the session right before the row's own counts: after a gap (or on a symbol's first
    bar) the previous close is unknown, so a limit is never derived from a stale close. The
    closes are looked up in ``basis`` (``date``, ``symbol``, ``close``; default ``bars``).

    >>> days = np.array(["2024-02-01", "2024-02-02", "2024-02-05"], dtype="datetime64[D]")
    >>> bars = pl.DataFrame({"date": [dt.date(2024, 2, 1), dt.date(2024, 2, 5)],
    ...                      "symbol": ["600000"] * 2, "close": [10.0, 11.0]})
    >>> previous_session_close(bars, days).to_list()  # 2024-02-02 has no bar
    [None, None]
    """
    days = calendar.astype("datetime64[D]").astype(np.int64)  # days since epoch
    dates = bars["date"].cast(pl.Int32).to_numpy().astype(np.int64)
    index = np.searchsorted(days, dates, side="left")
    padded = np.append(days, np.iinfo(np.int64).max)  # index len(days): after the last session
    has_previous = (padded[index] == dates) & (index > 0)
    previous = np.where(has_previous, padded[np.maximum(index - 1, 0)], 0)
    keyed = bars.select("date", "symbol").with_columns(
        pl.Series("_previous", previous, dtype=pl.Int32).cast(pl.Date),
        pl.Series("_has", has_previous),
    )
    keyed = keyed.with_columns(pl.when(pl.col("_has")).then(pl.col("_previous")).alias("_previous"))
    lookup = (
        (bars if basis is None else basis)
        .select(
            pl.col("date").alias("_previous"), "symbol", pl.col("close").alias("_previous_close")
        )
        .unique(["_previous", "symbol"])
    )
    joined = keyed.join(lookup, on=["_previous", "symbol"], how="left", maintain_order="left")
    return joined["_previous_close"].alias("pre_close")


def add_pre_close(bars: pl.DataFrame, calendar: np.ndarray | None = None) -> pl.DataFrame:
    """Fill a null or absent ``pre_close`` with the symbol's previous close.

    With ``calendar``, the previous close is the symbol's close on the previous session
    (:func:`previous_session_close`; null after a gap). Without it, the close of the previous
    row of the same symbol (sorted by date). The first row of each symbol keeps a null
    ``pre_close`` (unknown), so it has no limits. A source's own ``pre_close`` (ex-rights
    adjusted by the exchange) is kept where present.
    """
    if calendar is not None:
        previous: pl.Expr | pl.Series = previous_session_close(bars, calendar)
    else:
        previous = pl.col("close").shift(1).over("symbol", order_by="date")
    if "pre_close" not in bars.columns:
        return bars.with_columns(pre_close=previous)
    return bars.with_columns(pl.col("pre_close").fill_null(previous))


def _board_dated_expr(
    rules: MarketRules,
    table_of: Callable[[BoardRules], tuple[tuple[dt.date, Any], ...]],
    date: pl.Expr,
    *,
    default: float,
    st_table: bool = False,
    st: pl.Expr | None = None,
) -> pl.Expr:
    """A polars expression reading a board's dated rule table on each row's ``date``.

    The tables are :class:`backtest.rules.ashare.MarketRules`' own, so a rule changed there (a
    new dated row) changes the derived limits too. ST rows read ``limit_pct_st``.
    """
    expr = pl.lit(default)
    for name in BOARD_NAMES:
        board_rules = rules.board(name)
        tables = [(table_of(board_rules), pl.lit(True))]
        if st_table and st is not None:
            tables = [(table_of(board_rules), ~st), (board_rules.limit_pct_st, st)]
        for table, flag in tables:
            for start, value in table:  # later rows win: they are chained last
                expr = (
                    pl.when((pl.col("board") == name) & flag & (date >= start))
                    .then(pl.lit(value))
                    .otherwise(expr)
                )
    return expr


def add_limit_prices(
    bars: pl.DataFrame,
    instruments: pl.DataFrame,
    calendar: np.ndarray,
    rules: MarketRules = CHINA_A_2023_2024.equities,
) -> pl.DataFrame:
    """Add ``limit_up`` and ``limit_down`` from ``pre_close``, board, ST flag and listing age.

    Parameters
    ----------
    bars
        ``date``, ``symbol``, ``pre_close`` and ``is_st`` (False when absent).
    instruments
        ``symbol``, ``board``, ``list_date`` (null: listed before the calendar, limits apply).
    calendar
        The sessions, to count sessions since listing.
    rules
        The market rules whose dated limit tables apply (by default the preset's equities).

    Returns
    -------
    polars.DataFrame
        ``bars`` with ``limit_up``/``limit_down`` (null where the session has no limit or the
        ``pre_close`` is unknown). The formula is in the module docstring.
    """
    if "is_st" not in bars.columns:
        bars = bars.with_columns(is_st=pl.lit(False))
    info = instruments.select("symbol", "board", "list_date")
    frame = bars.drop([c for c in ("board", "list_date") if c in bars.columns]).join(
        info, on="symbol", how="left"
    )
    date_index = _session_index(frame["date"], calendar)
    list_index = _session_index(frame["list_date"].fill_null(dt.date(1900, 1, 1)), calendar)
    frame = frame.with_columns(
        pl.Series("_age", date_index - list_index, dtype=pl.Int64),
    )
    list_date = pl.col("list_date")
    st = pl.col("is_st").fill_null(False)
    pct = _board_dated_expr(
        rules, lambda b: b.limit_pct, pl.col("date"), default=0.10, st_table=True, st=st
    )
    unlimited_sessions = _board_dated_expr(
        rules, lambda b: b.no_limit_first_sessions, list_date, default=1
    )
    has_limit = list_date.is_null() | (pl.col("_age") >= unlimited_sessions)
    pre = pl.col("pre_close")

    def tick_round(price: pl.Expr) -> pl.Expr:
        # round(2) snaps 585 * 0.01 = 5.8500000000000005 to the double nearest 5.85
        return ((price * 100.0 + 0.5 + _ROUNDING_SLACK).floor() / 100.0).round(2)

    frame = frame.with_columns(
        pl.when(has_limit).then(tick_round(pre * (1.0 + pct))).alias("limit_up"),
        pl.when(has_limit)
        .then(tick_round(pre * (1.0 - pct)).clip(lower_bound=0.01))
        .alias("limit_down"),
    )
    keep = [c for c in bars.columns if c not in ("limit_up", "limit_down")]
    return frame.select(*keep, "limit_up", "limit_down")


def instruments_from_symbols(
    symbols: pl.Series, first_dates: pl.Series | None = None, calendar_start: dt.date | None = None
) -> pl.DataFrame:
    """Build ``instruments`` rows from six-digit symbols: exchange and board from the code.

    ``list_date`` is the symbol's first bar date when that is later than ``calendar_start``
    (the stock listed inside the data), else null (listed before the data begins). Names are
    unknown (null). One Python call per distinct symbol, not per row.

    >>> instruments_from_symbols(pl.Series(["600000", "300750"]))["board"].to_list()  # by symbol
    ['chinext', 'main']
    """
    unique = symbols.unique(maintain_order=True).to_list()
    exchanges, boards = zip(*(board_of(s) for s in unique), strict=True) if unique else ((), ())
    frame = pl.DataFrame(
        {
            "symbol": unique,
            "name": [None] * len(unique),
            "exchange": list(exchanges),
            "board": list(boards),
        },
        schema={"symbol": pl.String, "name": pl.String, "exchange": pl.String, "board": pl.String},
    )
    list_date = pl.lit(None, dtype=pl.Date)
    if first_dates is not None and calendar_start is not None:
        firsts = (
            pl.DataFrame({"symbol": symbols, "first": first_dates})
            .group_by("symbol")
            .agg(pl.col("first").min())
        )
        frame = frame.join(firsts, on="symbol", how="left")
        list_date = pl.when(pl.col("first") > calendar_start).then(pl.col("first"))
    return (
        frame.with_columns(
            list_date.cast(pl.Date).alias("list_date"),
            pl.lit(None, dtype=pl.Date).alias("delist_date"),
        )
        .select("symbol", "name", "exchange", "board", "list_date", "delist_date")
        .sort("symbol")
    )
