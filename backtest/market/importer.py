"""Import a user's own daily files (CSV or Parquet) into the store, with a column mapping.

Users with Wind or Tushare exports map their columns onto the store's, say their units, and get
the same validated, transactional writes as every other source. What can be derived is derived
(:mod:`backtest.market.derive`), and the returned :class:`ImportReport` says what was derived,
what is missing and what then cannot run.

A store is someone's research data: an import never loses, mixes or invents rows. A malformed
file is refused whole with one sentence naming the file, row and column
(:class:`~backtest.market.import_read.ImportFileError`), before anything is written. Rows already
stored are kept unless the mode says otherwise (``append``, the default, refuses them; ``upsert``
replaces them; ``replace`` replaces the file's symbols over its date range), the calendar is the
exchange's, and a made-up suspended row never replaces a real bar
(:mod:`backtest.market.import_merge` holds these rules).

Examples
--------
Tushare ``daily`` (``ts_code``, ``trade_date`` as YYYYMMDD, ``vol`` in lots, ``amount`` in
thousand CNY) is a preset::

    report = import_file(store, "daily.csv", PRESETS["tushare_daily"])
    print(report)

and any other layout is a mapping (source column -> store column)::

    spec = ImportSpec(column_map=(("trade_date", "date"), ("code", "symbol")), volume_unit="lots")

Industries come from a classification file (``table="industries"``: ``symbol``, ``industry``
and optionally ``start_date``; Tushare's ``stock_basic`` is the preset ``tushare_stock_basic``),
or from an ``industry`` column of a bars file (each symbol's industry from its first row, and
from every row where it changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from backtest.core.ids import board_of
from backtest.market.calendar import all_sessions
from backtest.market.derive import instruments_from_symbols
from backtest.market.import_merge import (
    ENTITY_COLUMN,
    ImportMode,
    caps_onto_bars,
    count_replaced,
    extend_calendar,
    futures_frame,
    merge_bars,
    refuse_conflicts,
    remove_replaced,
    weights_frame,
)
from backtest.market.import_read import (
    FILE_ROW,
    FileRows,
    ImportFileError,
    apply_mapping,
    check_duplicate_keys,
    check_sessions,
    check_values,
    parse_dates,
    parse_flags,
    parse_numbers,
    parse_symbols,
    read_rows,
    to_int64,
)
from backtest.market.schema import BARS, CLASSIFIED_SINCE_ALWAYS, INDUSTRIES, TABLES
from backtest.market.store import Store, WriteMode

__all__ = [
    "PRESETS",
    "AmountUnit",
    "CapUnit",
    "ImportFileError",
    "ImportMode",
    "ImportReport",
    "ImportSpec",
    "ImportTable",
    "PreparedImport",
    "PriceAdjustment",
    "VolumeUnit",
    "import_file",
    "import_frame",
    "prepare_file",
    "prepare_frame",
    "write_prepared",
]

VolumeUnit = Literal["shares", "lots"]
AmountUnit = Literal["cny", "thousand_cny"]
ImportTable = Literal["bars", "caps", "index_bars", "index_weights", "futures_bars", "industries"]
CapUnit = Literal["cny", "ten_thousand_cny", "hundred_million_cny"]
_CAP_SCALE = {"cny": 1.0, "ten_thousand_cny": 1e4, "hundred_million_cny": 1e8}
PriceAdjustment = Literal["raw", "forward", "backward"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "bars": ("date", "symbol", "open", "high", "low", "close", "volume"),
    "index_bars": ("date", "index_code", "open", "high", "low", "close"),
    "index_weights": ("date", "index_code", "symbol", "weight"),
    "caps": ("date", "symbol"),
    "industries": ("symbol", "industry"),
    "futures_bars": (
        "date",
        "contract",
        "open",
        "high",
        "low",
        "close",
        "settle",
        "volume",
        "open_interest",
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportSpec:
    """How to read a file: target table, column mapping, units, date format.

    Parameters
    ----------
    table
        ``bars`` (default), ``index_bars``, ``index_weights``, ``futures_bars``, ``caps``:
        ``total_cap``/``float_cap`` by ``(date, symbol)`` added to bars already stored, or
        ``industries``: ``symbol``, ``industry`` and an optional ``start_date`` (without it a
        row holds since the market opened, 1990-12-19). A bars file may carry an ``industry``
        column too.
    column_map
        Pairs ``(source column, store column)``; unmapped columns that are already store
        column names are kept, the rest are dropped and listed in the report.
    volume_unit
        ``shares`` or ``lots`` (100 shares, as Tushare's ``vol`` and Wind's ``S_DQ_VOLUME``).
    amount_unit
        ``cny`` or ``thousand_cny`` (Tushare's ``amount``, Wind's ``S_DQ_AMOUNT``).
    cap_unit
        ``cny``, ``ten_thousand_cny`` (Tushare ``daily_basic``'s ``total_mv``/``circ_mv``) or
        ``hundred_million_cny``.
    date_format
        strptime format of a text or integer date column (e.g. ``"%Y%m%d"``); None tries
        ``%Y-%m-%d``, ``%Y%m%d`` and ``%Y/%m/%d``.
    prices
        Whether the file's prices are ``raw`` or ``forward``/``backward`` adjusted. Adjusted
        prices are stored as given with ``adj_factor = 1``; the report warns that limit prices
        derived from them are then approximate.
    mode
        ``append`` (default) refuses a file whose rows are already stored, naming the first;
        ``upsert`` replaces stored rows with the file's rows of the same key; ``replace``
        removes the stored rows of the file's symbols (index codes, contracts) between the
        file's first and last date, then writes the file. No mode touches other rows. A caps
        import always puts caps into stored bars.
    fill_suspended
        Add a suspended row (flat at the last close, volume 0) for each session without a bar
        inside a symbol's span, where the store holds no bar either (bars only).
    encoding
        The text encoding of a CSV; None tries UTF-8, then GB18030 (GBK).
    """

    table: ImportTable = "bars"
    column_map: tuple[tuple[str, str], ...] = ()
    volume_unit: VolumeUnit = "shares"
    amount_unit: AmountUnit = "cny"
    cap_unit: CapUnit = "cny"
    date_format: str | None = None
    prices: PriceAdjustment = "raw"
    mode: ImportMode = "append"
    fill_suspended: bool = True
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("append", "upsert", "replace"):
            raise ValueError(f"mode must be 'append', 'upsert' or 'replace', not {self.mode!r}")
        if self.table not in _REQUIRED:
            raise ValueError(f"table must be one of {sorted(_REQUIRED)}, not {self.table!r}")
        if self.volume_unit not in ("shares", "lots"):
            raise ValueError(f"volume_unit must be 'shares' or 'lots', not {self.volume_unit!r}")
        if self.amount_unit not in ("cny", "thousand_cny"):
            raise ValueError(
                f"amount_unit must be 'cny' or 'thousand_cny', not {self.amount_unit!r}"
            )
        if self.cap_unit not in _CAP_SCALE:
            raise ValueError(f"cap_unit must be one of {sorted(_CAP_SCALE)}, not {self.cap_unit!r}")
        if self.prices not in ("raw", "forward", "backward"):
            raise ValueError(f"prices must be 'raw', 'forward' or 'backward', not {self.prices!r}")
        targets = [target for _, target in self.column_map]
        columns = _table_columns(self.table)
        unknown = sorted(set(targets) - columns)
        if unknown:
            raise ValueError(
                f"column_map targets {unknown} are not columns of {self.table!r}; "
                f"they are {sorted(columns)}"
            )

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.column_map)

    def params(self) -> dict[str, object]:
        """The spec as provenance parameters."""
        return {
            "table": self.table,
            "column_map": self.mapping,
            "volume_unit": self.volume_unit,
            "amount_unit": self.amount_unit,
            "cap_unit": self.cap_unit,
            "prices": self.prices,
            "mode": self.mode,
            "fill_suspended": self.fill_suspended,
        }


def _table_columns(table: str) -> set[str]:
    if table == "caps":
        return {"date", "symbol", "total_cap", "float_cap"}
    if table == "bars":  # an industry column of a bars file goes to the industries table
        return {*TABLES[table].names, "industry"}
    return set(TABLES[table].names)


#: Tushare ``pro.daily`` and ``daily_basic``, and Wind's ``AShareEODPrices`` (WDS) layouts.
PRESETS: Mapping[str, ImportSpec] = {
    "tushare_daily": ImportSpec(
        column_map=(("ts_code", "symbol"), ("trade_date", "date"), ("vol", "volume")),
        volume_unit="lots",
        amount_unit="thousand_cny",
        date_format="%Y%m%d",
    ),
    "tushare_daily_basic": ImportSpec(
        table="caps",
        column_map=(
            ("ts_code", "symbol"),
            ("trade_date", "date"),
            ("total_mv", "total_cap"),
            ("circ_mv", "float_cap"),
        ),
        cap_unit="ten_thousand_cny",
        date_format="%Y%m%d",
    ),
    # Tushare stock_basic (ts_code, symbol, name, area, industry, ...): symbol and industry
    # are already store names; the classification is a snapshot, so it holds "since always"
    "tushare_stock_basic": ImportSpec(table="industries"),
    "wind_eod": ImportSpec(
        column_map=(
            ("S_INFO_WINDCODE", "symbol"),
            ("TRADE_DT", "date"),
            ("S_DQ_PRECLOSE", "pre_close"),
            ("S_DQ_OPEN", "open"),
            ("S_DQ_HIGH", "high"),
            ("S_DQ_LOW", "low"),
            ("S_DQ_CLOSE", "close"),
            ("S_DQ_VOLUME", "volume"),
            ("S_DQ_AMOUNT", "amount"),
            ("S_DQ_ADJFACTOR", "adj_factor"),
        ),
        volume_unit="lots",
        amount_unit="thousand_cny",
        date_format="%Y%m%d",
    ),
}


@dataclass(slots=True)
class ImportReport:
    """What an import wrote, derived, dropped, and what is missing with its consequence.

    ``suspended_filled`` maps each symbol that got made-up suspended rows to their count;
    ``encoding`` is the text encoding a CSV was read in (None for Parquet or a frame).
    """

    source: str
    table: str
    mode: str = "append"
    encoding: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suspended_filled: dict[str, int] = field(default_factory=dict)

    def cannot_run(self) -> list[str]:
        """The consequences of what is missing, one line each."""
        return [consequence for _, consequence in self.missing]

    def __str__(self) -> str:
        read = f"; read as {self.encoding}" if self.encoding else ""
        lines = [f"imported {self.source} into {self.table} (mode {self.mode}{read})"]
        lines += [f"  {table:<14} {rows:>10,} rows written" for table, rows in self.rows.items()]
        lines += [f"derived: {item}" for item in self.derived]
        lines += [f"missing: {what} -> {why}" for what, why in self.missing]
        if self.dropped_columns:
            lines.append(
                f"dropped columns (not in the store; map them with --map): "
                f"{', '.join(self.dropped_columns)}"
            )
        lines += [f"warning: {item}" for item in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PreparedImport:
    """A file read, mapped, converted to store units and checked, ready to write.

    Preparing touches no store, so a malformed file is refused before a store is opened.
    """

    rows: FileRows
    spec: ImportSpec
    source: str
    report: ImportReport


#: Store columns parsed as numbers, and the integer ones among them.
_NUMERIC = (
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "settle",
    "volume",
    "open_interest",
    "amount",
    "adj_factor",
    "limit_up",
    "limit_down",
    "float_cap",
    "total_cap",
    "weight",
)
_INTEGER = ("volume", "open_interest")
_FLAGS = ("suspended", "is_st")


def prepare_frame(
    frame: pl.DataFrame, spec: ImportSpec = ImportSpec(), *, source: str
) -> PreparedImport:
    """Map, convert and check a frame as :func:`prepare_file` does a file (rows count from 1)."""
    rows = FileRows(source, frame.with_row_index(FILE_ROW, offset=1))
    return _prepare(rows, spec, source)


def prepare_file(
    path: str | Path, spec: ImportSpec = ImportSpec(), *, source: str | None = None
) -> PreparedImport:
    """Read, map, convert to store units and check a file, without touching any store.

    Raises
    ------
    ImportFileError
        The file is malformed; the message names the file, row and column and what to do.
    FileNotFoundError
        There is no such file.
    """
    path = Path(path)
    rows = read_rows(path, encoding=spec.encoding)
    return _prepare(rows, spec, source or f"import:{path.name}")


def _prepare(rows: FileRows, spec: ImportSpec, source: str) -> PreparedImport:
    report = ImportReport(source=source, table=spec.table, mode=spec.mode, encoding=rows.encoding)
    rows, report.dropped_columns = apply_mapping(
        rows, spec.mapping, _table_columns(spec.table), _REQUIRED[spec.table], spec.table
    )
    if spec.table == "industries":
        return _prepare_industries(rows, spec, source, report)
    rows = parse_dates(rows, "date", spec.date_format)
    if "industry" in rows.frame.columns:
        rows = rows.with_frame(
            rows.frame.with_columns(pl.col("industry").cast(pl.String).str.strip_chars())
        )
    if "symbol" in rows.frame.columns:
        rows = parse_symbols(rows)
    for code in ("index_code", "contract"):
        if code in rows.frame.columns:
            text = pl.col(code).cast(pl.String).str.strip_chars()
            rows = rows.with_frame(rows.frame.with_columns(text.str.to_uppercase().alias(code)))
    rows = parse_numbers(rows, [c for c in _NUMERIC if c in rows.frame.columns])
    rows = parse_flags(rows, [c for c in _FLAGS if c in rows.frame.columns])
    frame = rows.frame
    if "volume" in frame.columns and spec.volume_unit == "lots" and spec.table == "bars":
        frame = frame.with_columns(pl.col("volume") * 100.0)
        report.derived.append("volume in shares = lots x 100")
    if "amount" in frame.columns and spec.amount_unit == "thousand_cny":
        frame = frame.with_columns(pl.col("amount") * 1000.0)
        report.derived.append("amount in CNY = thousand CNY x 1000")
    caps = [c for c in ("total_cap", "float_cap") if c in frame.columns]
    if caps and spec.cap_unit != "cny":
        frame = frame.with_columns(pl.col(caps) * _CAP_SCALE[spec.cap_unit])
        report.derived.append(f"{' and '.join(caps)} in CNY from {spec.cap_unit}")
    if spec.table == "index_weights":
        frame = weights_frame(frame, report.derived)
    rows = rows.with_frame(frame)
    table = BARS if spec.table == "caps" else TABLES[spec.table]
    check_values(rows, table)
    for column in [c for c in _INTEGER if c in rows.frame.columns]:
        rows = to_int64(rows, column)
    check_duplicate_keys(rows, table.key)
    check_sessions(rows, all_sessions(), ENTITY_COLUMN.get(spec.table, "symbol"))
    return PreparedImport(rows, spec, source, report)


def _prepare_industries(
    rows: FileRows, spec: ImportSpec, source: str, report: ImportReport
) -> PreparedImport:
    if "start_date" in rows.frame.columns:
        rows = parse_dates(rows, "start_date", spec.date_format)
    else:
        since = dt.date.fromisoformat(CLASSIFIED_SINCE_ALWAYS)
        rows = rows.with_frame(rows.frame.with_columns(start_date=pl.lit(since)))
        report.derived.append(
            f"start_date = {CLASSIFIED_SINCE_ALWAYS} (the file has none: each industry holds "
            "since the market opened; a snapshot, not point-in-time)"
        )
    rows = parse_symbols(rows)
    rows = rows.with_frame(
        rows.frame.with_columns(pl.col("industry").cast(pl.String).str.strip_chars())
    )
    check_values(rows, INDUSTRIES)
    check_duplicate_keys(rows, INDUSTRIES.key)
    return PreparedImport(rows, spec, source, report)


def import_file(
    store: Store, path: str | Path, spec: ImportSpec = ImportSpec(), *, source: str | None = None
) -> ImportReport:
    """Read and check a CSV/Parquet file (:func:`prepare_file`), then write it."""
    return write_prepared(store, prepare_file(path, spec, source=source))


def import_frame(
    store: Store, frame: pl.DataFrame, spec: ImportSpec, *, source: str
) -> ImportReport:
    """Map, convert, check, derive and write ``frame`` into ``store`` in one transaction.

    Raises
    ------
    ImportFileError
        The frame is malformed (a column, a value, a date off the SSE calendar, a key twice,
        a row already stored in ``append`` mode); the message names the row and column.
    ValueError
        The store refuses a derived row (:class:`~backtest.market.store.StoreValidationError`
        names table, column and row). Nothing is written then.
    """
    return write_prepared(store, prepare_frame(frame, spec, source=source))


def write_prepared(store: Store, prepared: PreparedImport) -> ImportReport:
    """Derive what the file lacks against the store and write it all in one transaction.

    Raises
    ------
    ImportFileError
        A row is already stored (``append``), a date is missing from a store built on another
        calendar, or the store refuses a derived row; the store is then unchanged.
    """
    try:
        return _write(store, prepared)
    except ImportFileError:
        raise
    except ValueError as exc:  # the store's refusal, said as this file's problem
        raise prepared.rows.error(f"the store refused it: {exc}") from exc


def _write(store: Store, prepared: PreparedImport) -> ImportReport:
    rows, spec, source, report = prepared.rows, prepared.spec, prepared.source, prepared.report
    params = spec.params()
    if spec.table == "industries":
        with store.transaction():
            frame = rows.frame.drop(FILE_ROW)
            if spec.mode == "replace":
                symbols = frame["symbol"].unique().to_list()
                stored = store.read("industries", where={"symbol": symbols}).height
                store.connection.execute(
                    "DELETE FROM industries WHERE symbol IN (SELECT UNNEST(?))", [symbols]
                )
                report.derived.append(
                    f"replace: {stored} stored industry rows of the file's {len(symbols)} "
                    "symbols removed before writing"
                )
            report.rows["industries"] = store.write(
                "industries",
                frame,
                source=source,
                params=params,
                mode="append" if spec.mode == "append" else "upsert",
            )
        return report
    if spec.table == "caps":
        with store.transaction():
            report.rows["bars"] = store.write(
                "bars",
                caps_onto_bars(store, rows.frame, report.derived, report.warnings),
                source=source,
                params=params,
            )
        return report
    with store.transaction():
        calendar, added = extend_calendar(store, rows, source, params, report.derived)
        if added:
            report.rows["calendar"] = added
        if spec.mode == "append":
            refuse_conflicts(store, spec.table, rows)
        elif spec.mode == "upsert":
            replaced = count_replaced(store, spec.table, rows)
            report.derived.append(f"upsert: {replaced} stored rows replaced by the file's rows")
        frame = rows.frame
        if spec.table == "bars":
            frames = _bars_frames(store, rows, spec, calendar, report)
        elif spec.table == "futures_bars":
            frames = {"futures_bars": futures_frame(frame.drop(FILE_ROW), calendar, report.derived)}
        elif spec.table == "index_weights":
            frames = {"index_weights": frame.drop(FILE_ROW)}
        else:
            frames = {"index_bars": frame.drop(FILE_ROW)}
            if "amount" not in frame.columns:
                report.missing.append(("amount", "index turnover unknown (informational only)"))
        if spec.mode == "replace":
            removed = remove_replaced(store, spec.table, rows)
            entity = ENTITY_COLUMN[spec.table]
            report.derived.append(
                f"replace: {removed} stored rows of the file's {frame[entity].n_unique()} "
                f"{entity} values between {frame['date'].min()!s} and "
                f"{frame['date'].max()!s} "
                "removed before writing (no other row touched)"
            )
        write_mode: WriteMode = "append" if spec.mode == "append" else "upsert"
        for table, table_rows in frames.items():
            report.rows[table] = store.write(
                table, table_rows, source=source, params=params, mode=write_mode
            )
    return report


def _bars_frames(
    store: Store, rows: FileRows, spec: ImportSpec, calendar: np.ndarray, report: ImportReport
) -> dict[str, pl.DataFrame]:
    frames: dict[str, pl.DataFrame] = {}
    frame = rows.frame
    if "industry" in frame.columns:
        frames["industries"] = _industry_changes(store, frame, report)
        frame = frame.drop("industry")
    instruments = store.instruments()
    known = set(instruments["symbol"].to_list())
    _refuse_unknown_boards(rows, known)
    symbols = frame["symbol"].unique()
    new = symbols.filter(~symbols.is_in(list(known)))
    if new.len():
        new_rows = frame.filter(pl.col("symbol").is_in(new.implode()))
        added = instruments_from_symbols(
            new_rows["symbol"], new_rows["date"], dt.date.fromisoformat(str(calendar[0]))
        )
        frames["instruments"] = added
        instruments = pl.concat([instruments, added])
        report.derived.append(
            f"instruments: {added.height} symbols, exchange and board from the code, listing "
            "date = first bar when after the first session (else unknown); names unknown"
        )
    if "adj_factor" not in frame.columns:
        frame = frame.with_columns(adj_factor=pl.lit(1.0))
        report.derived.append("adj_factor = 1 (the file has none)")
        report.missing.append(
            ("adj_factor", "prices are taken as they are: no split/dividend adjustment")
        )
    if spec.prices != "raw":
        report.warnings.append(
            f"prices are {spec.prices}-adjusted: stored as given with adj_factor 1; limit prices "
            "derived from them are approximate (within a tick or two of the real ones)"
        )
    if "is_st" not in frame.columns:
        frame = frame.with_columns(is_st=pl.lit(False))
        report.missing.append(
            ("is_st", "ST status unknown: every stock gets its board's normal limit (10 % main)")
        )
    if "suspended" not in frame.columns:
        frame = frame.with_columns(suspended=pl.col("volume") == 0)
    if "pre_close" not in frame.columns or frame["pre_close"].null_count():
        report.derived.append(
            "pre_close = close of the symbol's real bar on the previous session (null if none)"
        )
    if "pre_close" not in frame.columns:
        frame = frame.with_columns(pre_close=pl.lit(None, dtype=pl.Float64))
    bars, report.suspended_filled = merge_bars(
        store,
        frame,
        mode=spec.mode,
        fill_suspended=spec.fill_suspended,
        calendar=calendar,
        instruments=instruments,
        notes=report.derived,
    )
    if "amount" not in frame.columns:
        report.missing.append(
            ("amount", "VWAP execution unavailable; participation uses volume only")
        )
    if "total_cap" not in frame.columns:
        report.missing.append(
            (
                "total_cap",
                "no index membership rebuild, no microcap index, no cap-weighted or "
                "size-based books, no size factor in attribution",
            )
        )
    if "float_cap" not in frame.columns:
        report.missing.append(("float_cap", "no free-float index weights"))
    frames["bars"] = bars.drop(FILE_ROW)
    return frames


def _industry_changes(store: Store, frame: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    """The industries rows a bars file's ``industry`` column implies.

    A symbol's first row in the file starts a classification unless the store's classification
    in force that day is the same; a row whose industry differs from the symbol's previous row
    starts a new one. Rows without an industry are skipped.
    """
    runs = (
        frame.select("symbol", "date", "industry")
        .filter(pl.col("industry").is_not_null() & (pl.col("industry") != ""))
        .sort("symbol", "date")
        .filter(
            pl.col("industry").ne_missing(pl.col("industry").shift(1).over("symbol"))
            | (pl.col("date") == pl.col("date").min().over("symbol"))
        )
        .rename({"date": "start_date"})
    )
    if runs.height:
        stored = store.industries(as_of=runs["start_date"].min())
        if stored.height:
            first = runs.group_by("symbol").agg(pl.col("start_date").min().alias("first"))
            same = (
                runs.join(first, on="symbol")
                .join(stored.select("symbol", pl.col("industry").alias("held")), on="symbol")
                .filter(
                    (pl.col("start_date") == pl.col("first"))
                    & (pl.col("industry") == pl.col("held"))
                )
                .select("symbol", "start_date")
            )
            runs = runs.join(same, on=["symbol", "start_date"], how="anti")
    report.derived.append(
        f"industries: {runs.height} rows from the file's industry column (each symbol's first "
        "row and every change; none where the store already holds the same industry)"
    )
    return runs.select(INDUSTRIES.names)


def _refuse_unknown_boards(rows: FileRows, known: set[str]) -> None:
    """Refuse a symbol the store does not know whose code matches no board, naming its row."""
    for symbol in rows.frame["symbol"].unique().sort().to_list():
        if symbol in known:
            continue
        try:
            board_of(symbol)
        except ValueError:
            bad = rows.frame.filter(pl.col("symbol") == symbol)
            raise rows.error(
                f"{rows.at(int(bad[FILE_ROW][0]))}: symbol {symbol} matches no A-share board "
                f"prefix ({bad.height} rows); if it is real (e.g. a renamed code), write its "
                "instruments row first, else remove its rows"
            ) from None
