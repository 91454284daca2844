"""Merge an imported file with what the store already holds: calendar, modes, suspended rows.

The rules that keep a store's research data whole (the "nothing lost" rules):

- **Calendar.** The store's calendar is the SSE calendar akshare ships
  (:func:`backtest.market.calendar.all_sessions`), written for the span a file needs and
  extended before the first or after the last stored session when a later file needs more.
  Sessions inside the stored span are never added (a store built on another calendar keeps it).
- **Modes.** ``append`` refuses a file row whose key is already stored; ``upsert`` replaces
  stored rows with the file's rows of the same key; ``replace`` first removes the stored rows of
  the file's symbols (index codes, contracts) dated between the file's first and last date, then
  writes the file (a removed bar the file has no row for is not refilled with a made-up one; the
  report lists them). No mode touches a row outside the file's symbols and date range.
- **Suspended rows.** A session with no bar inside a symbol's span (from its last stored bar
  before the file's rows, or its first file row, to its first stored bar after them, or its last
  file row; never before ``list_date`` or after ``delist_date``) gets a suspended row flat at the
  last close, but only where the store holds no bar: a made-up row never replaces a real one.
- **pre_close.** Derived only from a real bar (the file's or the store's) of the same symbol on
  the *previous session*; after a gap it stays null (no limits that day), because a gap in a
  file may be missing data rather than a suspension. Give ``pre_close`` in the file (Tushare and
  Wind do) to have limits on those days too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from backtest.market.akshare_normalise import contract_expiry
from backtest.market.calendar import all_sessions
from backtest.market.derive import (
    add_limit_prices,
    missing_sessions,
    previous_session_close,
    suspended_rows,
)
from backtest.market.import_read import FILE_ROW, FileRows
from backtest.market.schema import TABLES
from backtest.market.store import Store

__all__ = [
    "ENTITY_COLUMN",
    "ImportMode",
    "caps_onto_bars",
    "count_replaced",
    "extend_calendar",
    "futures_frame",
    "merge_bars",
    "refuse_conflicts",
    "remove_replaced",
    "weights_frame",
]

ImportMode = Literal["append", "upsert", "replace"]
#: The column whose values a file "covers" (with its date range) for ``replace``.
ENTITY_COLUMN: dict[str, str] = {
    "bars": "symbol",
    "index_bars": "index_code",
    "index_weights": "index_code",
    "futures_bars": "contract",
}
#: How many symbols the report lists by name.
_LISTED = 10


def extend_calendar(
    store: Store, rows: FileRows, source: str, params: dict[str, object], notes: list[str]
) -> tuple[np.ndarray, int]:
    """Write the SSE sessions the file needs before/after the stored calendar.

    Returns the whole calendar after the write and how many sessions were added.

    Raises
    ------
    ImportFileError
        A file date inside the stored calendar's span is not one of its sessions.
    """
    span = rows.frame.select(pl.col("date").min().alias("first"), pl.col("date").max())
    first = np.datetime64(span["first"][0], "D")
    last = np.datetime64(span["date"][0], "D")
    sse = all_sessions()
    stored = store.calendar()
    if len(stored) == 0:
        new = sse[(sse >= first) & (sse <= last)]
        what = f"the SSE sessions {new[0]}..{new[-1]} the file spans (the store had none)"
    else:
        new = sse[((sse >= first) & (sse < stored[0])) | ((sse > stored[-1]) & (sse <= last))]
        what = f"extended by the SSE sessions the file needs outside {stored[0]}..{stored[-1]}"
    if len(new):
        days = pl.DataFrame({"date": new}).with_columns(pl.col("date").cast(pl.Date))
        store.write("calendar", days, source=source, params=params)
        notes.append(f"calendar: {len(new)} sessions, {what}")
    calendar = store.calendar()
    known = pl.Series(calendar).cast(pl.Date)
    off = rows.frame.filter(~pl.col("date").is_in(known.implode()))
    if off.height:
        bad = off.sort(FILE_ROW).row(0, named=True)
        raise rows.error(
            f"{rows.at(bad[FILE_ROW])}: date {bad['date']} is an SSE session but the store's "
            f"calendar ({calendar[0]}..{calendar[-1]}) does not hold it ({off.height} such "
            "rows); the store was built on another calendar: import into a new store"
        )
    return calendar, len(new)


def _stored_keys(store: Store, table: str, rows: FileRows) -> pl.DataFrame:
    entity = ENTITY_COLUMN[table]
    frame = rows.frame
    return store.read(
        table,
        start=frame["date"].min(),
        end=frame["date"].max(),
        columns=list(TABLES[table].key),
        where={entity: frame[entity].unique().to_list()},
    )


def refuse_conflicts(store: Store, table: str, rows: FileRows) -> None:
    """In append mode: refuse the file when a row's key is stored, naming the first such row."""
    key = list(TABLES[table].key)
    clash = rows.frame.select(FILE_ROW, *key).join(_stored_keys(store, table, rows), on=key)
    if clash.height == 0:
        return
    first = clash.sort(FILE_ROW).row(0, named=True)
    shown = ", ".join(f"{k} {first[k]}" for k in key)
    raise rows.error(
        f"{rows.at(first[FILE_ROW])}: table {table!r} already holds {shown} ({clash.height} of "
        "the file's rows are stored); append never replaces stored rows: pass --mode upsert to "
        "replace them with the file's rows, or --mode replace to replace the file's symbols over "
        "its date range"
    )


def count_replaced(store: Store, table: str, rows: FileRows) -> int:
    """How many stored rows share a key with the file (what upsert replaces)."""
    key = list(TABLES[table].key)
    return rows.frame.select(key).join(_stored_keys(store, table, rows), on=key).height


def remove_replaced(store: Store, table: str, rows: FileRows) -> int:
    """In replace mode: delete the stored rows of the file's entities over its date range."""
    entity = ENTITY_COLUMN[table]
    frame = rows.frame
    span = [frame["date"].min(), frame["date"].max()]
    values = frame[entity].unique().to_list()
    where = f"date BETWEEN ? AND ? AND {entity} IN (SELECT UNNEST(?))"
    connection = store.connection
    row = connection.execute(f"SELECT count(*) FROM {table} WHERE {where}", [*span, values])
    found = row.fetchone()
    removed = int(found[0]) if found else 0
    connection.execute(f"DELETE FROM {table} WHERE {where}", [*span, values])
    return removed


def _spans(
    file_rows: pl.DataFrame, stored: pl.DataFrame, instruments: pl.DataFrame
) -> pl.DataFrame:
    """Each symbol's fill span: from the stored bar before its file rows to the one after."""
    spans = file_rows.group_by("symbol").agg(
        pl.col("date").min().alias("file_first"), pl.col("date").max().alias("file_last")
    )
    around = spans.join(stored.select("symbol", "date"), on="symbol", how="left")
    before = (
        around.filter(pl.col("date") < pl.col("file_first"))
        .group_by("symbol")
        .agg(pl.col("date").max().alias("before"))
    )
    after = (
        around.filter(pl.col("date") > pl.col("file_last"))
        .group_by("symbol")
        .agg(pl.col("date").min().alias("after"))
    )
    listing = instruments.select("symbol", "list_date", "delist_date")
    return (
        spans.join(before, on="symbol", how="left")
        .join(after, on="symbol", how="left")
        .join(listing, on="symbol", how="left")
        .select(
            "symbol",
            pl.max_horizontal(pl.coalesce("before", "file_first"), pl.col("list_date")).alias(
                "first"
            ),
            pl.min_horizontal(pl.coalesce("after", "file_last"), pl.col("delist_date")).alias(
                "last"
            ),
        )
    )


def merge_bars(
    store: Store,
    file_rows: pl.DataFrame,
    *,
    mode: ImportMode,
    fill_suspended: bool,
    calendar: np.ndarray,
    instruments: pl.DataFrame,
    notes: list[str],
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Return the bars to write (the file's rows plus made-up suspended rows) and fill counts.

    ``file_rows`` hold every bar column but ``pre_close`` may be null and limits absent. The
    stored bars of the file's symbols are the context: their closes feed ``pre_close`` on the
    session after them and bound the suspended fill; in ``upsert`` mode the rows the file
    replaces, and in ``replace`` mode the rows it removes, are not context.
    """
    symbols = file_rows["symbol"].unique().to_list()
    held = store.read("bars", where={"symbol": symbols})
    stored = held
    if mode == "replace":
        first, last = file_rows["date"].min(), file_rows["date"].max()
        stored = held.filter(~pl.col("date").is_between(first, last))
        vacated = held.filter(pl.col("date").is_between(first, last)).join(
            file_rows.select("date", "symbol"), on=["date", "symbol"], how="anti"
        )
        if vacated.height:
            shown = ", ".join(
                f"{s} {d}" for d, s in vacated.select("date", "symbol").head(_LISTED).iter_rows()
            )
            notes.append(
                f"replace: {vacated.height} stored bars on sessions the file has no row for are "
                f"removed and not refilled (a made-up row never takes a real bar's place): {shown}"
            )
    elif mode == "upsert":
        stored = held.join(file_rows.select("date", "symbol"), on=["date", "symbol"], how="anti")
    real = pl.concat([stored, file_rows.drop(FILE_ROW)], how="diagonal_relaxed")
    # a session where the store held a bar before this import is never filled
    occupied = pl.concat([real.select("date", "symbol"), held.select("date", "symbol")])
    missing = missing_sessions(_spans(file_rows, stored, instruments), calendar, occupied)
    counts: dict[str, int] = {}
    if missing.height:
        per_symbol = (
            missing.group_by("symbol").len().sort(["len", "symbol"], descending=[True, False])
        )
        counts = dict(zip(per_symbol["symbol"].to_list(), per_symbol["len"].to_list(), strict=True))
    listed = ", ".join(f"{s} ({n})" for s, n in list(counts.items())[:_LISTED])
    more = f", and {len(counts) - _LISTED} more" if len(counts) > _LISTED else ""
    if fill_suspended and counts:
        notes.append(
            f"suspended: {len(counts)} symbols got {missing.height} filled sessions (flat at the "
            f"last close, volume 0; only where the store holds no bar): {listed}{more}"
        )
        made = suspended_rows(real, missing)
    else:
        if counts:
            notes.append(
                f"suspended: not filled (fill turned off): {missing.height} sessions of "
                f"{len(counts)} symbols have no bar: {listed}{more}"
            )
        made = file_rows.clear().drop(FILE_ROW)
    written = pl.concat([file_rows, made], how="diagonal_relaxed")
    # pre_close only from a real bar on the previous session, never from a made-up one
    previous = previous_session_close(written, calendar, basis=real)
    written = written.with_columns(pl.col("pre_close").fill_null(previous))
    unknown = written.filter(pl.col(FILE_ROW).is_not_null() & pl.col("pre_close").is_null())
    if unknown.height:
        notes.append(
            f"pre_close: {unknown.height} of the file's rows have no real bar of their symbol on "
            "the previous session (a first bar, or after a gap): left null, so no price limits "
            "that day; give pre_close in the file to have them"
        )
    if "limit_up" not in written.columns or "limit_down" not in written.columns:
        written = add_limit_prices(
            written.drop("limit_up", "limit_down", strict=False), instruments, calendar
        )
        notes.append("limit_up/limit_down from pre_close and the board rules")
    return written.sort("symbol", "date"), counts


def caps_onto_bars(
    store: Store, frame: pl.DataFrame, notes: list[str], warnings: list[str]
) -> pl.DataFrame:
    """Stored bars of the file's symbols and dates with the file's caps put in."""
    caps = [c for c in ("total_cap", "float_cap") if c in frame.columns]
    if not caps:
        raise ValueError(
            "a caps import needs total_cap or float_cap; map them, e.g. --map total_mv=total_cap"
        )
    if store.is_empty("bars"):
        raise ValueError("the store holds no bars: import the bars first, then their caps")
    stored = store.read(
        "bars",
        start=frame["date"].min(),
        end=frame["date"].max(),
        where={"symbol": frame["symbol"].unique().to_list()},
    )
    incoming = frame.select("date", "symbol", *caps)
    matched = stored.join(incoming, on=["date", "symbol"], how="inner", suffix="_new")
    unmatched = incoming.height - matched.height
    if unmatched:
        warnings.append(
            f"{unmatched} cap rows have no stored bar (same date and symbol) and were ignored"
        )
    notes.append(f"caps put into {matched.height} stored bars")
    return matched.with_columns(
        [pl.col(f"{c}_new").fill_null(pl.col(c)).alias(c) for c in caps]
    ).select(stored.columns)


def futures_frame(frame: pl.DataFrame, calendar: np.ndarray, notes: list[str]) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("contract").cast(pl.String).str.to_uppercase())
    if "product" not in frame.columns:
        frame = frame.with_columns(product=pl.col("contract").str.slice(0, 2))
        notes.append("product from the contract code")
    if "expiry" not in frame.columns:
        contracts = frame["contract"].unique().sort().to_list()
        expiries = pl.DataFrame(
            {"contract": contracts, "expiry": [contract_expiry(c, calendar) for c in contracts]},
            schema={"contract": pl.String, "expiry": pl.Date},
        )
        frame = frame.join(expiries, on="contract", how="left")
        notes.append("expiry: third Friday of the contract month, next session if closed")
    return frame


def weights_frame(frame: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("index_code").cast(pl.String))
    totals = frame.group_by("date", "index_code").agg(pl.col("weight").sum())
    median = totals["weight"].median() if totals.height else None
    if isinstance(median, float) and median > 1.5:
        notes.append("weights were in percent: divided by 100")
    return frame.with_columns(pl.col("weight") / pl.col("weight").sum().over("date", "index_code"))
