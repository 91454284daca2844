"""The market store: one DuckDB file holding one market, whatever its source.

The store creates the tables declared in :mod:`backtest.market.schema`, validates every frame
before it is written (:mod:`backtest.market.validation`), writes inside transactions (a failed or
interrupted write leaves the store exactly as it was), records a provenance row per write, and
loads what the engine needs: polars frames, and dense ``(days x symbols)`` numpy panels.

Dense panels are built by a join in DuckDB that maps each row to its ``(day, symbol)`` position,
an Arrow transfer, and one numpy scatter; ``DataFrame.pivot`` is avoided (100x slower here).

Examples
--------
>>> import polars as pl, datetime as dt
>>> store = Store(":memory:")
>>> store.write("calendar", pl.DataFrame({"date": [dt.date(2024, 2, 5)]}), source="doc")
1
>>> store.calendar()
array(['2024-02-05'], dtype='datetime64[D]')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl

from backtest.market.lock import busy_message
from backtest.market.schema import (
    BAR_FIELDS,
    INDEX_WEIGHTS,
    INDUSTRIES,
    PROVENANCE,
    TABLES,
    Table,
)
from backtest.market.validation import StoreValidationError, validate_frame

__all__ = [
    "DEFAULT_STORE",
    "NotAStoreError",
    "Panel",
    "Store",
    "StoreValidationError",
    "WriteMode",
    "open_duckdb",
]

#: Where the market store lives unless a command is given ``--store`` (relative to the working
#: folder; the notebooks resolve it against the repository, :mod:`backtest.apps.notebook`). The
#: one spelling of this path: every app reads it from here.
DEFAULT_STORE = Path("data/market.duckdb")

WriteMode = Literal["upsert", "append", "replace"]

_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.Date: "DATE",
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Boolean: "BOOLEAN",
    pl.Datetime: "TIMESTAMPTZ",
}
_BOOL_FIELDS = frozenset({"suspended", "is_st"})
#: Rows per Arrow batch when scattering a panel (about 20 MB of a 14-field batch).
_PANEL_BATCH_ROWS = 200_000


class NotAStoreError(OSError):
    """The path is not a market store (another file type, or another application's DuckDB)."""


def open_duckdb(path: str, *, read_only: bool, what: str) -> duckdb.DuckDBPyConnection:
    """Connect to a DuckDB file, turning DuckDB's errors into sentences a user can act on.

    ``what`` names the kind of file in the messages (``"market store"``, ``"runs store"``).
    A lock held by another process becomes :class:`~backtest.market.lock.StoreBusyError` (with
    its PID); a file that is not a DuckDB database becomes :class:`NotAStoreError`.
    """
    if read_only and path != ":memory:" and not Path(path).exists():
        hint = (
            "save a run with `backtest replay --save NAME`"
            if what == "runs store"
            else f"build one with `backtest data build --store {path}`"
        )
        raise FileNotFoundError(f"no {what} at {path}; {hint}")
    if path != ":memory:" and Path(path).is_file() and Path(path).stat().st_size:
        with open(path, "rb") as handle:
            header = handle.read(12)
        if header[8:12] != b"DUCK":  # DuckDB's magic bytes, after an 8-byte checksum
            raise NotAStoreError(
                f"{path} is not a DuckDB {what} (it looks like another kind of file); give the "
                f"path of a {what}, or a new file name to create one"
            )
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.Error as exc:
        busy = busy_message(path, exc)
        if busy is not None:
            raise busy from exc
        text = str(exc)
        if "not a valid DuckDB database" in text or "Invalid Input" in text or "magic" in text:
            raise NotAStoreError(
                f"{path} is not a DuckDB {what} ({text.splitlines()[0][:160]}); give the path "
                f"of a {what}, or a new file name to create one"
            ) from exc
        if "Permission denied" in text or "read-only" in text.lower():
            raise PermissionError(
                f"cannot open the {what} {path} for writing: the file or its folder is "
                "write-protected; use a copy you may write, or change its permissions"
            ) from exc
        raise OSError(f"cannot open the {what} {path}: {text.splitlines()[0]}") from exc


def _duckdb_type(dtype: pl.DataType) -> str:
    for base, name in _DUCKDB_TYPES.items():
        if isinstance(dtype, base):
            return name
    raise TypeError(f"no DuckDB type for polars dtype {dtype}")


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return dt.date.fromisoformat(str(value.astype("datetime64[D]")))
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Panel:
    """Dense ``(days x symbols)`` arrays of one or more fields over one date range.

    ``values[field][i, j]`` is the value on ``dates[i]`` for ``symbols[j]``: float64 with NaN
    where the store has no row (not yet listed, delisted), bool with False for the flag fields.
    """

    dates: np.ndarray
    symbols: np.ndarray
    values: dict[str, np.ndarray]

    def __getitem__(self, field: str) -> np.ndarray:
        try:
            return self.values[field]
        except KeyError:
            raise KeyError(
                f"panel has no field {field!r}; it holds {sorted(self.values)}"
            ) from None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.dates), len(self.symbols))


class Store:
    """A DuckDB-backed market store.

    Parameters
    ----------
    path
        The DuckDB file (created with its parent folder if missing), or ``":memory:"``; default
        :data:`DEFAULT_STORE`.
    read_only
        Open an existing file read-only (several processes may then read it at once).
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, read_only: bool = False):
        self.path = str(path)
        self.read_only = read_only
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = open_duckdb(self.path, read_only=read_only, what="market store")
        self._in_transaction = False
        try:
            self._check_is_market()
            if not read_only:
                self._create_schema()
        except BaseException:
            self._con.close()
            raise

    # ------------------------------------------------------------------ lifecycle
    def _check_is_market(self) -> None:
        """Refuse a DuckDB file that holds tables but none of a market store's."""
        names = {
            row[0]
            for row in self._con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        }
        if names and not names & set(TABLES):
            kind = "a runs store" if "runs" in names else "another application's database"
            raise NotAStoreError(
                f"{self.path} is {kind}, not a market store (it holds tables "
                f"{', '.join(sorted(names)[:6])}); give the path of a market store, or a new "
                "file name to create one"
            )

    def _create_schema(self) -> None:
        for table in TABLES.values():
            cols = ", ".join(f"{c.name} {_duckdb_type(c.dtype)}" for c in table.columns)
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for modules that keep tables of their own (e.g. results)."""
        return self._con

    # ------------------------------------------------------------------ writing
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several writes into one all-or-nothing transaction.

        Inside the block, ``write`` calls join the transaction; any exception (including
        ``KeyboardInterrupt``) rolls every one of them back and propagates.
        """
        if self._in_transaction:
            yield self
            return
        self._con.begin()
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            # a statement interrupted by Ctrl-C leaves the transaction aborted; ROLLBACK is
            # then the one statement DuckDB accepts, and the original exception propagates
            with suppress(duckdb.Error):
                self._con.rollback()
            raise
        else:
            self._con.commit()
        finally:
            self._in_transaction = False

    def write(
        self,
        table: str,
        frame: pl.DataFrame,
        *,
        source: str,
        params: dict[str, Any] | None = None,
        mode: WriteMode = "upsert",
    ) -> int:
        """Validate ``frame`` against ``table``'s schema and write it in one transaction.

        Parameters
        ----------
        table
            A table of :data:`backtest.market.schema.TABLES` (not ``provenance``).
        frame
            The rows; column order is free, nullable columns may be omitted.
        source
            What produced the rows (``"scenario:ashare-2023-2024"``, ``"akshare"``, ...).
        params
            The parameters that produced them, stored as JSON in ``provenance``.
        mode
            ``"upsert"`` replaces rows with the same key, ``"append"`` refuses existing keys,
            ``"replace"`` empties the table first.

        Returns
        -------
        int
            Rows written.

        Raises
        ------
        StoreValidationError
            The frame breaks the schema; the message names table, column and an offending row.
            Nothing is written.
        """
        spec = self._table(table)
        if spec.name == PROVENANCE.name:
            raise ValueError("provenance rows are written by the store itself, not by callers")
        if mode not in ("upsert", "append", "replace"):
            raise ValueError(f"mode must be 'upsert', 'append' or 'replace', not {mode!r}")
        with self.transaction():
            clean = validate_frame(
                spec,
                frame,
                sessions=self._sessions_for(spec),
                symbols=self._symbols_for(spec),
            )
            if mode == "replace":
                self._con.execute(f"DELETE FROM {spec.name}")
            if clean.height:
                self._insert(spec, clean, mode)
            self._record_provenance(spec.name, source, params or {}, clean.height)
        return clean.height

    def write_many(
        self,
        frames: dict[str, pl.DataFrame],
        *,
        source: str,
        params: dict[str, Any] | None = None,
        mode: WriteMode = "upsert",
    ) -> dict[str, int]:
        """Write several tables in one transaction, in dependency order; return rows per table."""
        order = [t for t in TABLES if t in frames]
        unknown = sorted(set(frames) - set(order))
        if unknown:
            raise KeyError(f"unknown tables {unknown}; the store has {sorted(TABLES)}")
        with self.transaction():
            return {
                name: self.write(name, frames[name], source=source, params=params, mode=mode)
                for name in order
            }

    def _insert(self, spec: Table, clean: pl.DataFrame, mode: WriteMode) -> None:
        incoming = clean.to_arrow()
        self._con.register("_incoming", incoming)
        try:
            key_match = " AND ".join(f"t.{k} = i.{k}" for k in spec.key)
            if mode == "append":
                clash = self._con.execute(
                    f"SELECT {', '.join('i.' + k for k in spec.key)} FROM _incoming i "
                    f"JOIN {spec.name} t ON {key_match} LIMIT 1"
                ).fetchall()
                if clash:
                    raise StoreValidationError(
                        spec.name,
                        ", ".join(spec.key),
                        None,
                        f"row with key {dict(zip(spec.key, clash[0], strict=True))} is already "
                        "stored; append refuses duplicates. Use mode='upsert' to replace it.",
                    )
            elif mode == "upsert" and not self.is_empty(spec.name):
                self._con.execute(f"DELETE FROM {spec.name} t USING _incoming i WHERE {key_match}")
            cols = ", ".join(spec.names)
            self._con.execute(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM _incoming")
        finally:
            with suppress(duckdb.Error):  # an aborted transaction refuses this too
                self._con.unregister("_incoming")

    def _record_provenance(
        self, table: str, source: str, params: dict[str, Any], rows: int
    ) -> None:
        self._con.execute(
            "INSERT INTO provenance VALUES (?, ?, ?, ?, ?)",
            [
                table,
                source,
                json.dumps(params, sort_keys=True, default=str),
                dt.datetime.now(dt.UTC),
                rows,
            ],
        )

    def _sessions_for(self, spec: Table) -> np.ndarray | None:
        if spec.session_column is None:
            return None
        return self.calendar()

    def _symbols_for(self, spec: Table) -> np.ndarray | None:
        if spec.symbol_column is None:
            return None
        rows = self._con.execute("SELECT symbol FROM instruments ORDER BY symbol").fetchall()
        return np.array([r[0] for r in rows], dtype=object)

    # ------------------------------------------------------------------ reading
    def _table(self, table: str) -> Table:
        try:
            return TABLES[table]
        except KeyError:
            raise KeyError(f"unknown table {table!r}; the store has {sorted(TABLES)}") from None

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run a SQL query and return a polars frame."""
        relation = self._con.sql(query, params=list(params) if params is not None else None)
        result = pl.from_arrow(relation.to_arrow_table())
        assert isinstance(result, pl.DataFrame)
        return result

    def read(
        self,
        table: str,
        *,
        start: Any = None,
        end: Any = None,
        columns: Sequence[str] | None = None,
        where: dict[str, Sequence[Any]] | None = None,
    ) -> pl.DataFrame:
        """Read a table as a polars frame, filtered by date range and column values.

        ``where={"symbol": ["600000", "000001"]}`` keeps rows whose column is in the list.
        Rows come sorted by the table's key.
        """
        spec = self._table(table)
        cols = list(columns) if columns is not None else spec.names
        for c in cols:
            spec.column(c)  # raises a clear KeyError for an unknown column
        clauses, params = self._date_filter(spec, start, end)
        for column, values in (where or {}).items():
            spec.column(column)
            clauses.append(f"{column} IN (SELECT UNNEST(?))")
            params.append(list(values))
        sql = f"SELECT {', '.join(cols)} FROM {spec.name}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY " + ", ".join(spec.key)
        frame = self.sql(sql, params)
        if frame.height == 0:
            return pl.DataFrame(schema={c: spec.column(c).dtype for c in cols})
        return frame

    @staticmethod
    def _date_filter(spec: Table, start: Any, end: Any) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if "date" not in spec.names:
            if start is not None or end is not None:
                raise ValueError(f"table {spec.name!r} has no date column to filter on")
            return clauses, params
        if start is not None:
            clauses.append("date >= ?")
            params.append(_as_date(start))
        if end is not None:
            clauses.append("date <= ?")
            params.append(_as_date(end))
        return clauses, params

    def is_empty(self, table: str) -> bool:
        """Whether ``table`` holds no rows."""
        spec = self._table(table)
        return not self._con.execute(f"SELECT 1 FROM {spec.name} LIMIT 1").fetchall()

    def calendar(self, start: Any = None, end: Any = None) -> np.ndarray:
        """Return the sessions in ``[start, end]`` as ``datetime64[D]``, ascending."""
        clauses, params = self._date_filter(TABLES["calendar"], start, end)
        sql = "SELECT date FROM calendar"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        arrow = self._con.sql(sql + " ORDER BY date", params=params).to_arrow_table()
        return arrow.column("date").to_numpy().astype("datetime64[D]")

    def instruments(self) -> pl.DataFrame:
        """Return every instrument, sorted by symbol."""
        return self.read("instruments")

    def has_table(self, table: str) -> bool:
        """Whether the file holds ``table`` (a store written by an older version, opened
        read-only, may lack the tables added since; opened for writing it gets them)."""
        return bool(
            self._con.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_name = ?",
                [self._table(table).name],
            ).fetchall()
        )

    def industries(self, as_of: Any = None) -> pl.DataFrame:
        """Return the stocks' industries (``symbol``, ``start_date``, ``industry``).

        ``as_of=None``: every row, the whole point-in-time history, sorted by symbol and start
        date. With a date: one row per symbol, the classification in force on that day (the
        latest row starting on or before it); a symbol first classified after it (a later
        listing) gets its first row. An empty frame when the store has no industries: write
        them with ``backtest data import FILE --preset tushare_stock_basic`` (a Tushare
        ``stock_basic`` export), a bars import with an ``industry`` column, or
        ``backtest data build`` (the scenario's).
        """
        if not self.has_table(INDUSTRIES.name):
            return pl.DataFrame(schema=INDUSTRIES.polars_schema)
        frame = self.read(INDUSTRIES.name)
        if as_of is None or frame.height == 0:
            return frame
        day = _as_date(as_of)
        in_force = frame.filter(pl.col("start_date") <= day)
        later = frame.filter(~pl.col("symbol").is_in(in_force["symbol"].implode()))
        return (
            pl.concat([in_force.group_by("symbol").last(), later.group_by("symbol").first()])
            .select(INDUSTRIES.names)
            .sort("symbol")
        )

    def symbols(self) -> np.ndarray:
        """Return every instrument's symbol, sorted (the default column axis of panels)."""
        return np.array(self.instruments()["symbol"].to_list(), dtype=object)

    def panel(
        self,
        fields: str | Sequence[str],
        start: Any = None,
        end: Any = None,
        symbols: Sequence[str] | None = None,
    ) -> Panel:
        """Load bar fields as dense ``(days x symbols)`` arrays.

        Parameters
        ----------
        fields
            One field or several of :data:`backtest.market.schema.BAR_FIELDS`.
        start, end
            Inclusive session range; defaults to the whole calendar.
        symbols
            Column axis, in the order given; defaults to every instrument sorted by symbol.
            An unknown symbol raises ``KeyError``.
        """
        names = [fields] if isinstance(fields, str) else list(fields)
        for name in names:
            if name not in BAR_FIELDS:
                raise KeyError(f"bars has no field {name!r}; fields are {list(BAR_FIELDS)}")
        return self._dense("bars", names, start, end, symbols, extra_filter=None)

    def index_weight_panel(
        self,
        index_code: str,
        start: Any = None,
        end: Any = None,
        symbols: Sequence[str] | None = None,
    ) -> Panel:
        """Load an index's point-in-time weights as a dense panel (0 where not a member)."""
        return self._dense(
            INDEX_WEIGHTS.name,
            ["weight"],
            start,
            end,
            symbols,
            extra_filter=("index_code", index_code),
            missing=0.0,
        )

    def _dense(
        self,
        table: str,
        names: list[str],
        start: Any,
        end: Any,
        symbols: Sequence[str] | None,
        extra_filter: tuple[str, str] | None,
        missing: float = np.nan,
    ) -> Panel:
        """Scatter a long table's rows into ``(days x symbols)`` arrays (``missing`` elsewhere).

        A stored NaN stays NaN (an index weight row with a NaN weight is refused on import).
        """
        dates = self.calendar(start, end)
        if symbols is None:
            axis = self.symbols()
        else:
            axis = np.array(list(symbols), dtype=object)
            known = set(self.symbols().tolist())
            unknown = [s for s in axis.tolist() if s not in known]
            if unknown:
                raise KeyError(
                    f"unknown symbols {unknown[:5]} (of {len(unknown)}); they are not in "
                    "instruments. Load them into the store first or drop them from the list."
                )
        shape = (len(dates), len(axis))
        values: dict[str, np.ndarray] = {
            n: np.zeros(shape, dtype=bool)
            if n in _BOOL_FIELDS
            else (np.zeros(shape) if missing == 0.0 else np.full(shape, missing))
            for n in names
        }
        if not shape[0] or not shape[1]:
            return Panel(dates, axis, values)
        axis_frame = pl.DataFrame(
            {"symbol": axis.tolist(), "j": np.arange(len(axis), dtype=np.int64)}
        ).to_arrow()
        day_frame = pl.DataFrame(
            {"date": dates, "i": np.arange(len(dates), dtype=np.int64)}
        ).to_arrow()
        self._con.register("_axis", axis_frame)
        self._con.register("_days", day_frame)
        try:
            where = ""
            params: list[Any] = []
            if extra_filter is not None:
                where = f"WHERE t.{extra_filter[0]} = ?"
                params.append(extra_filter[1])
            cols = ", ".join(f"t.{n}" for n in names)
            reader = self._con.sql(
                f"SELECT d.i, a.j, {cols} FROM {table} t "
                "JOIN _days d ON t.date = d.date JOIN _axis a ON t.symbol = a.symbol "
                f"{where}",
                params=params,
            ).to_arrow_reader(_PANEL_BATCH_ROWS)
            # scatter batch by batch: peak memory stays near the dense arrays themselves; one
            # flat index per batch, put into every field's C-ordered array (1-D puts are fast)
            flat_values = {n: values[n].reshape(-1) for n in names}
            for batch in reader:
                flat = batch.column("i").to_numpy() * shape[1] + batch.column("j").to_numpy()
                for n in names:
                    data = batch.column(n).to_numpy(zero_copy_only=False)
                    if n in _BOOL_FIELDS:
                        flat_values[n][flat] = data.astype(bool)
                    else:
                        flat_values[n][flat] = data.astype(np.float64, copy=False)
        finally:
            self._con.unregister("_axis")
            self._con.unregister("_days")
        return Panel(dates, axis, values)

    # ------------------------------------------------------------------ summary
    def info(self) -> pl.DataFrame:
        """Summarise the store: rows, date range and sources of each table."""
        records = []
        for spec in TABLES.values():
            if not self.has_table(spec.name):
                continue
            rows = self._con.execute(f"SELECT count(*) FROM {spec.name}").fetchall()[0][0]
            first = last = None
            if "date" in spec.names and rows:
                first, last = self._con.execute(
                    f"SELECT min(date), max(date) FROM {spec.name}"
                ).fetchall()[0]
            sources = self._con.execute(
                "SELECT string_agg(DISTINCT source, ', ' ORDER BY source) FROM provenance "
                "WHERE table_name = ?",
                [spec.name],
            ).fetchall()[0][0]
            records.append(
                {
                    "table": spec.name,
                    "rows": rows,
                    "first_date": first,
                    "last_date": last,
                    "sources": sources or "",
                }
            )
        return pl.DataFrame(
            records,
            schema={
                "table": pl.String,
                "rows": pl.Int64,
                "first_date": pl.Date,
                "last_date": pl.Date,
                "sources": pl.String,
            },
        )

    def identity(self) -> str:
        """Return a short hash that changes with every write to the store.

        It is the sha256 of the provenance rows (every write adds one, with its source,
        parameters, row count and time), so two builds of the same scenario, or a store before
        and after an import, have different identities. Saved runs record it, so results are
        never shown against a market they were not computed on.
        """
        rows = self._con.execute(
            "SELECT table_name, source, params, CAST(fetched_at AS VARCHAR), rows FROM provenance "
            "ORDER BY fetched_at, table_name, source, params, rows"
        ).fetchall()
        digest = hashlib.sha256(json.dumps(rows, default=str).encode())
        return digest.hexdigest()[:16]

    def provenance(self) -> pl.DataFrame:
        """Return every provenance row, newest first."""
        return self.sql("SELECT * FROM provenance ORDER BY fetched_at DESC, table_name")
