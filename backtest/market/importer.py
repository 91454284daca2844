"""Import a user's own daily files (CSV or Parquet) into the store, with a column mapping.

Users with Wind or Tushare exports map their columns onto the store's, say their units, and get
the same validated, transactional writes as every other source. What can be derived is derived
(:mod:`backtest.market.derive`), and the returned :class:`ImportReport` says what was derived,
what is missing and what then cannot run.

Examples
--------
Tushare ``daily`` (``ts_code``, ``trade_date`` as YYYYMMDD, ``vol`` in lots, ``amount`` in
thousand CNY) is a preset::

    report = import_file(store, "daily.csv", PRESETS["tushare_daily"])
    print(report)

and any other layout is a mapping (source column -> store column)::

    spec = ImportSpec(column_map=(("trade_date", "date"), ("code", "symbol")), volume_unit="lots")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from backtest.market.akshare_normalise import contract_expiry
from backtest.market.derive import (
    add_limit_prices,
    add_pre_close,
    fill_suspended_sessions,
    instruments_from_symbols,
    normalise_symbol_expr,
)
from backtest.market.schema import TABLES, board_of
from backtest.market.store import Store

__all__ = [
    "PRESETS",
    "AmountUnit",
    "CapUnit",
    "ImportReport",
    "ImportSpec",
    "ImportTable",
    "PriceAdjustment",
    "VolumeUnit",
    "import_file",
    "import_frame",
]

VolumeUnit = Literal["shares", "lots"]
AmountUnit = Literal["cny", "thousand_cny"]
ImportTable = Literal["bars", "caps", "index_bars", "index_weights", "futures_bars"]
CapUnit = Literal["cny", "ten_thousand_cny", "hundred_million_cny"]
_CAP_SCALE = {"cny": 1.0, "ten_thousand_cny": 1e4, "hundred_million_cny": 1e8}
PriceAdjustment = Literal["raw", "forward", "backward"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "bars": ("date", "symbol", "open", "high", "low", "close", "volume"),
    "index_bars": ("date", "index_code", "open", "high", "low", "close"),
    "index_weights": ("date", "index_code", "symbol", "weight"),
    "caps": ("date", "symbol"),
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
        ``bars`` (default), ``index_bars``, ``index_weights``, ``futures_bars``, or ``caps``:
        ``total_cap``/``float_cap`` by ``(date, symbol)`` added to bars already stored.
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
    """

    table: ImportTable = "bars"
    column_map: tuple[tuple[str, str], ...] = ()
    volume_unit: VolumeUnit = "shares"
    amount_unit: AmountUnit = "cny"
    cap_unit: CapUnit = "cny"
    date_format: str | None = None
    prices: PriceAdjustment = "raw"

    def __post_init__(self) -> None:
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


def _table_columns(table: str) -> set[str]:
    if table == "caps":
        return {"date", "symbol", "total_cap", "float_cap"}
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
    """What an import wrote, derived, dropped, and what is missing with its consequence."""

    source: str
    table: str
    rows: dict[str, int] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def cannot_run(self) -> list[str]:
        """The consequences of what is missing, one line each."""
        return [consequence for _, consequence in self.missing]

    def __str__(self) -> str:
        lines = [f"imported {self.source} into {self.table}"]
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


def _read(path: Path, spec: ImportSpec) -> pl.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"no file {path} to import")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(path)
    if suffix in (".csv", ".txt", ".tsv"):
        # code and date columns are read as text so "000001" keeps its zeros
        text_columns = {
            src
            for src, dst in spec.column_map
            if dst in ("symbol", "date", "index_code", "contract")
        }
        text_columns |= {"symbol", "date", "index_code", "contract"}
        header = pl.read_csv(path, n_rows=0, separator="\t" if suffix == ".tsv" else ",")
        overrides = {c: pl.String for c in header.columns if c in text_columns}
        return pl.read_csv(
            path,
            separator="\t" if suffix == ".tsv" else ",",
            schema_overrides=overrides,
            infer_schema_length=10_000,
        )
    raise ValueError(f"cannot import {path.name}: use a .csv, .tsv or .parquet file")


def _parse_dates(frame: pl.DataFrame, column: str, date_format: str | None) -> pl.DataFrame:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return frame
    if isinstance(dtype, pl.Datetime):
        return frame.with_columns(pl.col(column).dt.date())
    text = pl.col(column).cast(pl.String).str.strip_chars()
    formats = [date_format] if date_format else ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]
    parsed = pl.coalesce([text.str.strptime(pl.Date, f, strict=False) for f in formats])
    result = frame.with_columns(parsed.alias(column))
    bad = result.with_row_index("_row").filter(pl.col(column).is_null()).head(1)
    if bad.height:
        row = int(bad["_row"][0])
        raise ValueError(
            f"column {column!r}, row {row}: {frame[column][row]!r} is not a date in "
            f"{' or '.join(formats)}; pass the file's format with --date-format"
        )
    return result


def _apply_mapping(frame: pl.DataFrame, spec: ImportSpec, report: ImportReport) -> pl.DataFrame:
    mapping = {src: dst for src, dst in spec.mapping.items() if src in frame.columns}
    absent = sorted(set(spec.mapping) - set(frame.columns))
    if absent and not mapping:
        raise ValueError(f"mapped columns {absent} are not in the file; it has {frame.columns}")
    frame = frame.rename(mapping)
    table_columns = _table_columns(spec.table)
    report.dropped_columns = [c for c in frame.columns if c not in table_columns]
    frame = frame.drop(report.dropped_columns)
    missing = [c for c in _REQUIRED[spec.table] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the file has no column for {missing} of table {spec.table!r} (after mapping; "
            f"it has {frame.columns}). Map them, e.g. --map your_column={missing[0]}"
        )
    return frame


def import_file(
    store: Store, path: str | Path, spec: ImportSpec = ImportSpec(), *, source: str | None = None
) -> ImportReport:
    """Read a CSV/Parquet file and import it with :func:`import_frame`."""
    path = Path(path)
    frame = _read(path, spec)
    return import_frame(store, frame, spec, source=source or f"import:{path.name}")


def import_frame(
    store: Store, frame: pl.DataFrame, spec: ImportSpec, *, source: str
) -> ImportReport:
    """Map, convert, derive and write ``frame`` into ``store`` in one transaction.

    Raises
    ------
    ValueError
        A required column is missing, a date does not parse, or the store refuses a row
        (:class:`~backtest.market.store.StoreValidationError` names table, column and row).
        Nothing is written then.
    """
    report = ImportReport(source=source, table=spec.table)
    frame = _apply_mapping(frame, spec, report)
    frame = _parse_dates(frame, "date", spec.date_format)
    if "symbol" in frame.columns:
        frame = frame.with_columns(normalise_symbol_expr("symbol"))
    if "volume" in frame.columns:
        scale = 100.0 if spec.volume_unit == "lots" else 1.0
        frame = frame.with_columns(
            (pl.col("volume").cast(pl.Float64) * scale).round(0).cast(pl.Int64)
        )
        if scale != 1.0:
            report.derived.append("volume in shares = lots x 100")
    if "amount" in frame.columns and spec.amount_unit == "thousand_cny":
        frame = frame.with_columns(pl.col("amount").cast(pl.Float64) * 1000.0)
        report.derived.append("amount in CNY = thousand CNY x 1000")
    params: dict[str, object] = {
        "table": spec.table,
        "column_map": spec.mapping,
        "volume_unit": spec.volume_unit,
        "amount_unit": spec.amount_unit,
        "cap_unit": spec.cap_unit,
        "prices": spec.prices,
    }
    caps = [c for c in ("total_cap", "float_cap") if c in frame.columns]
    if caps and spec.cap_unit != "cny":
        frame = frame.with_columns(pl.col(caps).cast(pl.Float64) * _CAP_SCALE[spec.cap_unit])
        report.derived.append(f"{' and '.join(caps)} in CNY from {spec.cap_unit}")
    if spec.table == "caps":
        with store.transaction():
            report.rows["bars"] = store.write(
                "bars", _caps_onto_bars(store, frame, report), source=source, params=params
            )
        return report
    with store.transaction():
        calendar = _ensure_calendar(store, frame, source, params, report)
        if spec.table == "bars":
            frames = _bars_frames(store, frame, spec, calendar, report)
        elif spec.table == "futures_bars":
            frames = {"futures_bars": _futures_frame(frame, calendar, report)}
        elif spec.table == "index_weights":
            frames = {"index_weights": _weights_frame(frame, report)}
        else:
            frames = {"index_bars": frame.with_columns(pl.col("index_code").cast(pl.String))}
            if "amount" not in frame.columns:
                report.missing.append(("amount", "index turnover unknown (informational only)"))
        for table, rows in frames.items():
            report.rows[table] = store.write(table, rows, source=source, params=params)
    return report


def _ensure_calendar(
    store: Store, frame: pl.DataFrame, source: str, params: dict[str, object], report: ImportReport
) -> np.ndarray:
    calendar = store.calendar()
    if len(calendar) == 0:
        days = frame.select(pl.col("date").unique().sort())
        report.rows["calendar"] = store.write("calendar", days, source=source, params=params)
        report.derived.append(
            f"calendar: the {days.height} distinct dates of the file (the store had none)"
        )
        calendar = store.calendar()
    return calendar


def _bars_frames(
    store: Store, frame: pl.DataFrame, spec: ImportSpec, calendar: np.ndarray, report: ImportReport
) -> dict[str, pl.DataFrame]:
    frames: dict[str, pl.DataFrame] = {}
    known = set(store.symbols().tolist())
    frame = _drop_unknown_boards(frame, known, report)
    symbols = frame["symbol"].unique()
    new = symbols.filter(~symbols.is_in(list(known)))
    instruments = store.instruments()
    if new.len():
        rows = frame.filter(pl.col("symbol").is_in(new.implode()))
        added = instruments_from_symbols(
            rows["symbol"], rows["date"], dt.date.fromisoformat(str(calendar[0]))
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
        before = frame.height
        frame = fill_suspended_sessions(frame, calendar)
        report.derived.append(
            f"suspended: {frame.height - before} missing sessions inside a symbol's range added "
            "as suspended rows (flat at the previous close, volume 0)"
        )
    if "pre_close" not in frame.columns or frame["pre_close"].null_count():
        report.derived.append("pre_close = previous close of the symbol (null on its first row)")
    frame = add_pre_close(frame)
    if "limit_up" not in frame.columns or "limit_down" not in frame.columns:
        frame = add_limit_prices(
            frame.drop("limit_up", "limit_down", strict=False), instruments, calendar
        )
        report.derived.append("limit_up/limit_down from pre_close and the board rules")
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
    frames["bars"] = frame
    return frames


def _caps_onto_bars(store: Store, frame: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
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
    incoming = frame.select("date", "symbol", *caps).unique(["date", "symbol"], keep="last")
    matched = stored.join(incoming, on=["date", "symbol"], how="inner", suffix="_new")
    unmatched = incoming.height - matched.height
    if unmatched:
        report.warnings.append(
            f"{unmatched} cap rows have no stored bar (same date and symbol) and were ignored"
        )
    report.derived.append(f"caps put into {matched.height} stored bars")
    return matched.with_columns(
        [pl.col(f"{c}_new").fill_null(pl.col(c)).alias(c) for c in caps]
    ).select(stored.columns)


def _drop_unknown_boards(
    frame: pl.DataFrame, known: set[str], report: ImportReport
) -> pl.DataFrame:
    """Drop symbols the store does not know and whose code matches no board, and say so."""
    unknown = []
    for symbol in frame["symbol"].unique().sort().to_list():
        if symbol in known:
            continue
        try:
            board_of(symbol)
        except ValueError:
            unknown.append(symbol)
    if not unknown:
        return frame
    dropped = frame.filter(pl.col("symbol").is_in(unknown))
    report.warnings.append(
        f"{len(unknown)} symbols match no A-share board prefix and were not imported "
        f"({dropped.height} rows): {', '.join(unknown[:10])}; add them to instruments first "
        "if they are real (e.g. a renamed code)"
    )
    return frame.filter(~pl.col("symbol").is_in(unknown))


def _futures_frame(frame: pl.DataFrame, calendar: np.ndarray, report: ImportReport) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("contract").cast(pl.String).str.to_uppercase())
    if "product" not in frame.columns:
        frame = frame.with_columns(product=pl.col("contract").str.slice(0, 2))
        report.derived.append("product from the contract code")
    if "expiry" not in frame.columns:
        contracts = frame["contract"].unique().sort().to_list()
        expiries = pl.DataFrame(
            {"contract": contracts, "expiry": [contract_expiry(c, calendar) for c in contracts]},
            schema={"contract": pl.String, "expiry": pl.Date},
        )
        frame = frame.join(expiries, on="contract", how="left")
        report.derived.append("expiry: third Friday of the contract month, next session if closed")
    return frame


def _weights_frame(frame: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("index_code").cast(pl.String))
    totals = frame.group_by("date", "index_code").agg(pl.col("weight").sum())
    median = totals["weight"].median() if totals.height else None
    if isinstance(median, float) and median > 1.5:
        report.derived.append("weights were in percent: divided by 100")
    return frame.with_columns(pl.col("weight") / pl.col("weight").sum().over("date", "index_code"))
