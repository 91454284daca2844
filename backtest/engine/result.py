"""Results of a backtest: what each book did, as polars frames, saved to and loaded from DuckDB.

During a run a :class:`Recorder` writes each session's rows into preallocated arrays (daily
scalars, the dense positions matrix, growing columnar buffers of fills and of the non-zero
backlog entries); at the end (or when a strategy fails) :meth:`Recorder.result` turns them into
a :class:`Result`, building ``daily`` at once and the long frames on first access.

Frames of a :class:`Result` (all sorted by date, then symbol):

``daily``
    date, equity, cash, holdings_value, gross_exposure (holdings / equity), impact, commission,
    stamp_duty, transfer_fee (CNY, that session), buy_notional, sell_notional,
    turnover ((buys + sells) / 2 / previous equity), then, only for books with futures or
    financing (:mod:`backtest.engine.hedging`): futures_pnl, basis_carry, roll, futures_fees,
    financing, margin_required, futures_notional, margin_call; then n_positions, backlog_orders.
``positions``
    date, symbol, shares, value (at the mark), weight: non-zero positions after the close.
``fills``
    date, symbol, order_shares, filled_shares, reference_price, fill_price, impact, commission,
    stamp_duty, transfer_fee, status (``FillStatus`` code), status_name: every order sent.
``backlog``
    date, symbol, remaining_shares (signed), age_sessions: targets queued for the next open.
``status_counts``
    date and one column per ``FillStatus`` name: orders per status at that session's open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from backtest.core.returns import max_drawdown, returns_from_equity
from backtest.engine.benchmark import Benchmark
from backtest.engine.fills import FillStatus
from backtest.engine.hedging import HEDGE_COLUMNS
from backtest.engine.orders import SessionFills

STATUS_NAMES: tuple[str, ...] = tuple(s.name for s in sorted(FillStatus, key=int))
DAILY_COLUMNS: tuple[str, ...] = (
    "equity",
    "cash",
    "holdings_value",
    "gross_exposure",
    "impact",
    "commission",
    "stamp_duty",
    "transfer_fee",
    "buy_notional",
    "sell_notional",
    "turnover",
)
_FILL_FLOATS = (
    "reference_price",
    "fill_price",
    "impact",
    "commission",
    "stamp_duty",
    "transfer_fee",
)
_FRAMES = ("daily", "positions", "fills", "backlog", "status_counts")


class Recorder:
    """Preallocated per-session storage of one book (see the module docs)."""

    def __init__(self, *, days: int, n: int, extra_daily: tuple[str, ...] = ()) -> None:
        self.sessions_done = 0
        self.daily = {name: np.full(days, np.nan) for name in (*DAILY_COLUMNS, *extra_daily)}
        self.n_positions = np.zeros(days, dtype=np.int64)
        self.backlog_orders = np.zeros(days, dtype=np.int64)
        self.positions = np.zeros((days, n), dtype=np.int64)
        # the backlog is sparse (a few names wait on most days): one session's dense row is
        # written here, then only its non-zero entries are kept (session, symbol, shares, age)
        self.backlog_shares_row = np.zeros(n, dtype=np.int64)
        self.backlog_age_row = np.zeros(n, dtype=np.int32)
        self._backlog = np.zeros((4, max(1024, n)), dtype=np.int64)
        self._backlog_rows = 0
        self.status_counts = np.zeros((days, len(STATUS_NAMES)), dtype=np.int64)
        self._fill_rows = 0
        capacity = max(1024, 4 * n)
        self._fill_int = np.zeros((4, capacity), dtype=np.int64)  # session, symbol, order, filled
        self._fill_float = np.zeros((len(_FILL_FLOATS), capacity))
        self._fill_status = np.zeros(capacity, dtype=np.int8)

    @property
    def fill_rows(self) -> int:
        """Fill rows recorded so far."""
        return self._fill_rows

    def fill_buffers(self, extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Return the fill buffers with room for ``extra`` more rows, and the next free row.

        The buffers are ``int64[4, capacity]`` (session, symbol, order, filled),
        ``float64[6, capacity]`` (reference price, fill price, impact, commission, stamp duty,
        transfer fee) and ``int8[capacity]`` (status); capacity doubles when needed.
        """
        need = self._fill_rows + extra
        if need > self._fill_status.size:
            capacity = max(need, 2 * self._fill_status.size)
            self._fill_int = _grow(self._fill_int, capacity)
            self._fill_float = _grow(self._fill_float, capacity)
            self._fill_status = _grow(self._fill_status[None, :], capacity)[0]
        return self._fill_int, self._fill_float, self._fill_status, self._fill_rows

    def commit_fills(self, session_index: int, row_end: int) -> None:
        """Close a session's fill rows (written by the kernel) and count their statuses."""
        statuses = self._fill_status[self._fill_rows : row_end]
        self.status_counts[session_index] = np.bincount(statuses, minlength=len(STATUS_NAMES))[
            : len(STATUS_NAMES)
        ]
        self._fill_rows = row_end

    def commit_backlog(self, session_index: int) -> None:
        """Keep the non-zero entries of the session's backlog row (written by ``settle_nb``)."""
        symbols = np.flatnonzero(self.backlog_shares_row)
        start, end = self._backlog_rows, self._backlog_rows + symbols.size
        if end > self._backlog.shape[1]:
            self._backlog = _grow(self._backlog, max(end, 2 * self._backlog.shape[1]))
        self._backlog[0, start:end] = session_index
        self._backlog[1, start:end] = symbols
        self._backlog[2, start:end] = self.backlog_shares_row[symbols]
        self._backlog[3, start:end] = self.backlog_age_row[symbols]
        self._backlog_rows = end

    def session_fills(self, row_start: int, row_end: int) -> SessionFills:
        """The fill rows ``[row_start, row_end)`` as an immutable :class:`SessionFills`."""
        part = slice(row_start, row_end)
        floats = {name: self._fill_float[j, part].copy() for j, name in enumerate(_FILL_FLOATS)}
        return SessionFills(
            session_index=int(self._fill_int[0, row_start]) if row_end > row_start else -1,
            symbol_index=self._fill_int[1, part].copy(),
            order_shares=self._fill_int[2, part].copy(),
            filled_shares=self._fill_int[3, part].copy(),
            status=self._fill_status[part].copy(),
            **floats,
        )

    def result(
        self,
        *,
        book: str,
        strategy: str,
        params: Any,
        config: Any,
        data_range: Any,
        run_hash: str,
        benchmark: Benchmark | None,
        dates: np.ndarray,
        symbols: np.ndarray,
        mark: np.ndarray,
        complete: bool,
    ) -> Result:
        """Build the :class:`Result` of the sessions recorded so far."""
        done = self.sessions_done
        day_axis = dates[:done].astype("datetime64[D]")
        daily = pl.DataFrame({"date": day_axis, **{k: v[:done] for k, v in self.daily.items()}})
        daily = daily.with_columns(
            pl.Series("n_positions", self.n_positions[:done]),
            pl.Series("backlog_orders", self.backlog_orders[:done]),
        )
        # The long frames are built on first access: a sweep that reads only ``daily`` never
        # pays for them. The views below are of arrays the finished run no longer writes.
        tables = _LongTables(
            day_axis=day_axis,
            dates=dates,
            symbols=symbols,
            mark=mark[:done],
            equity=self.daily["equity"][:done],
            positions=self.positions[:done],
            backlog=self._backlog[:, : self._backlog_rows],
            status_counts=self.status_counts[:done],
            fill_int=self._fill_int[:, : self._fill_rows],
            fill_float=self._fill_float[:, : self._fill_rows],
            fill_status=self._fill_status[: self._fill_rows],
        )
        return Result(
            book=book,
            strategy=strategy,
            params=params,
            config=config,
            data_range=data_range,
            config_hash=run_hash,
            benchmark=benchmark,
            complete=complete,
            daily=daily,
            positions=tables.positions_frame,
            fills=tables.fills_frame,
            backlog=tables.backlog_frame,
            status_counts=tables.counts_frame,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class _LongTables:
    """Build a finished run's long frames from its recorded arrays (by date, then symbol)."""

    day_axis: np.ndarray
    dates: np.ndarray
    symbols: np.ndarray
    mark: np.ndarray
    equity: np.ndarray
    positions: np.ndarray
    #: int64[4, rows]: session, symbol, remaining shares (signed), age in sessions
    backlog: np.ndarray
    status_counts: np.ndarray
    fill_int: np.ndarray
    fill_float: np.ndarray
    fill_status: np.ndarray

    def _symbol_series(self) -> pl.Series:
        return pl.Series("symbol", np.asarray(self.symbols, dtype=object).tolist(), pl.String)

    def _symbol_rank(self) -> np.ndarray:
        """Rank of each symbol in sorted order, so rows come out sorted by (date, symbol)."""
        rank = np.empty(self.symbols.size, dtype=np.int64)
        rank[np.argsort(np.asarray(self.symbols, dtype=str), kind="stable")] = np.arange(
            self.symbols.size
        )
        return rank

    def _sorted_cells(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(matrix)  # row-major: already by (date, column)
        rank = self._symbol_rank()
        if bool(np.all(rank == np.arange(rank.size))):
            return rows, cols
        order = np.lexsort((rank[cols], rows))
        return rows[order], cols[order]

    def positions_frame(self) -> pl.DataFrame:
        rows, cols = self._sorted_cells(self.positions)
        shares = self.positions[rows, cols]
        value = shares * self.mark[rows, cols]
        equity = self.equity[rows]
        return pl.DataFrame(
            {
                "date": self.day_axis[rows],
                "symbol": self._symbol_series().gather(cols),
                "shares": shares,
                "value": value,
                "weight": np.where(equity > 0, value / np.where(equity > 0, equity, 1.0), 0.0),
            }
        )

    def fills_frame(self) -> pl.DataFrame:
        order = np.lexsort((self._symbol_rank()[self.fill_int[1]], self.fill_int[0]))
        session = self.fill_int[0][order]
        status = self.fill_status[order]
        return pl.DataFrame(
            {
                "date": self.dates[session].astype("datetime64[D]"),
                "symbol": self._symbol_series().gather(self.fill_int[1][order]),
                "order_shares": self.fill_int[2][order],
                "filled_shares": self.fill_int[3][order],
                **{name: self.fill_float[j][order] for j, name in enumerate(_FILL_FLOATS)},
                "status": status,
                "status_name": pl.Series(list(STATUS_NAMES), dtype=pl.String).gather(status),
            }
        )

    def backlog_frame(self) -> pl.DataFrame:
        session, symbol, remaining, age = self.backlog
        order = np.lexsort((self._symbol_rank()[symbol], session))
        return pl.DataFrame(
            {
                "date": self.dates[session[order]].astype("datetime64[D]"),
                "symbol": self._symbol_series().gather(symbol[order]),
                "remaining_shares": remaining[order],
                "age_sessions": age[order].astype(np.int32),
            }
        )

    def counts_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"date": self.day_axis}
            | {name.lower(): self.status_counts[:, j] for j, name in enumerate(STATUS_NAMES)}
        )


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    out = np.zeros((array.shape[0], capacity), dtype=array.dtype)
    out[:, : array.shape[1]] = array
    return out


#: A frame, or a function that builds it on first access.
FrameSource = pl.DataFrame | Callable[[], pl.DataFrame]
_META = (
    "book",
    "strategy",
    "params",
    "config",
    "data_range",
    "config_hash",
    "benchmark",
    "complete",
)


class Result:
    """One book's backtest: frames (see the module docs), its inputs and their hash.

    ``params``, ``config`` and ``data_range`` are plain JSON values (dicts); ``config_hash`` is
    the sha256 of their canonical JSON (:func:`backtest.engine.config.config_hash`).
    ``benchmark`` is what the book is measured against (:class:`Benchmark`, from its
    :class:`~backtest.engine.book.Book`; ``None`` when the book declared none, or for a result
    saved before benchmarks were saved). It is not part of ``config_hash``: it changes how a
    run is judged, not what it computed.
    ``complete`` is False for the partial result of a run stopped by a strategy error.

    ``daily`` is built when the run ends; ``positions``, ``fills``, ``backlog`` and
    ``status_counts`` may be given as functions and are then built on first access (once).
    A result is immutable: its attributes cannot be reassigned.
    """

    __slots__ = (*_META, "daily", "_frames")

    book: str
    strategy: str
    params: Any
    config: Any
    data_range: Any
    config_hash: str
    benchmark: Benchmark | None
    complete: bool
    daily: pl.DataFrame
    _frames: dict[str, FrameSource]

    def __init__(
        self,
        *,
        book: str,
        strategy: str,
        params: Any,
        config: Any,
        data_range: Any,
        config_hash: str,
        complete: bool,
        daily: pl.DataFrame,
        positions: FrameSource,
        fills: FrameSource,
        backlog: FrameSource,
        status_counts: FrameSource,
        benchmark: Benchmark | None = None,
    ) -> None:
        values = dict(
            book=book,
            strategy=strategy,
            params=params,
            config=config,
            data_range=data_range,
            config_hash=config_hash,
            benchmark=benchmark,
            complete=complete,
            daily=daily,
        )
        for name, value in values.items():
            object.__setattr__(self, name, value)
        frames = dict(
            positions=positions, fills=fills, backlog=backlog, status_counts=status_counts
        )
        object.__setattr__(self, "_frames", frames)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Result is immutable: cannot set {name!r}")

    def __repr__(self) -> str:
        return (
            f"Result(book={self.book!r}, strategy={self.strategy!r}, sessions={self.daily.height})"
        )

    def replace(self, **changes: Any) -> Result:
        """Return a copy with some attributes or frames replaced (like ``dataclasses.replace``)."""
        unknown = set(changes) - {*_META, "daily", *self._frames}
        if unknown:
            raise TypeError(f"Result has no attributes {sorted(unknown)}")
        current: dict[str, Any] = {name: getattr(self, name) for name in (*_META, "daily")}
        return Result(**(current | self._frames | changes))

    def _frame(self, name: str) -> pl.DataFrame:
        source = self._frames[name]
        if not isinstance(source, pl.DataFrame):
            source = self._frames[name] = source()
        return source

    @property
    def positions(self) -> pl.DataFrame:
        """date, symbol, shares, value, weight: non-zero positions after each close."""
        return self._frame("positions")

    @property
    def fills(self) -> pl.DataFrame:
        """Every order sent to the fill kernel and what it filled."""
        return self._frame("fills")

    @property
    def backlog(self) -> pl.DataFrame:
        """Targets queued for the next open: remaining signed shares and their age."""
        return self._frame("backlog")

    @property
    def status_counts(self) -> pl.DataFrame:
        """Orders per fill status at each session's open."""
        return self._frame("status_counts")

    def equals(self, other: Result) -> bool:
        """True when every frame and every input field is identical (to the bit)."""
        same_meta = all(
            getattr(self, name) == getattr(other, name) for name in _META if name != "complete"
        )
        return same_meta and all(
            getattr(self, name).equals(getattr(other, name)) for name in _FRAMES
        )

    def summary(self) -> str:
        """A short text: range, equity, return, drawdown, costs, turnover, fills, backlog.

        The drawdown is :func:`backtest.core.returns.max_drawdown` of the daily returns (the
        initial cash is the first high-water mark), as in ``compare`` and ``backtest replay``.
        """
        if self.daily.height == 0:
            return f"book {self.book} ({self.strategy}): no sessions recorded"
        equity = self.daily["equity"].to_numpy()
        start_equity = float(self.config.get("initial_cash", equity[0]))
        drawdown = max_drawdown(returns_from_equity(equity, start_equity))
        costs = {k: float(self.daily[k].sum()) for k in ("impact", "commission", "stamp_duty")}
        costs["transfer_fee"] = float(self.daily["transfer_fee"].sum())
        filled = int((self.fills["filled_shares"] != 0).sum())
        last_backlog = int(self.daily["backlog_orders"][-1])
        turnover = float(np.nanmean(self.daily["turnover"].to_numpy()))
        lines = [
            f"book {self.book} ({self.strategy}), {self.daily['date'][0]} .. "
            f"{self.daily['date'][-1]}, {self.daily.height} sessions"
            + ("" if self.complete else " (PARTIAL: stopped by a strategy error)"),
            f"  equity {start_equity:,.0f} -> {equity[-1]:,.0f} CNY "
            f"({equity[-1] / start_equity - 1.0:+.2%}), max drawdown {drawdown:.2%}",
            "  costs CNY: " + ", ".join(f"{k} {v:,.0f}" for k, v in costs.items()),
            f"  mean daily turnover {turnover:.2%}, "
            f"{filled} fills of {self.fills.height} orders, backlog at end {last_backlog}",
            f"  config {self.config_hash[:12]}",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ persistence
    def save(self, target: Any, run_id: str) -> None:
        """Write the result into ``result_*`` tables of a Store or DuckDB file (replacing run_id).

        Tables: ``result_runs`` (one row: book, strategy, JSON of params/config/data range,
        hash, benchmark as JSON, complete) and ``result_<frame>`` with a leading ``run_id``
        column. The write is one
        transaction. A whole replay is saved with :class:`backtest.runs.RunStore`, which saves
        every book of a run in one transaction and refuses to overwrite a run.
        """
        con, owned = _connection(target)
        try:
            con.execute("BEGIN TRANSACTION")
            self.write_rows(con, run_id)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            if owned:
                con.close()

    def write_rows(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Write this result's rows under ``run_id`` inside the caller's open transaction."""
        meta = pl.DataFrame(
            {
                "book": [self.book],
                "strategy": [self.strategy],
                "params_json": [json.dumps(self.params, sort_keys=True)],
                "config_json": [json.dumps(self.config, sort_keys=True)],
                "data_range_json": [json.dumps(self.data_range, sort_keys=True)],
                "config_hash": [self.config_hash],
                "benchmark_json": pl.Series(
                    [None if self.benchmark is None else json.dumps(self.benchmark.to_plain())],
                    dtype=pl.String,
                ),
                "complete": [self.complete],
                "saved_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            }
        )
        frames = {"runs": meta} | {name: getattr(self, name) for name in _FRAMES}
        for name, frame in frames.items():
            table = f"result_{name}"
            con.register("_result_frame", frame.to_arrow())
            try:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} AS "
                    "SELECT CAST(NULL AS VARCHAR) AS run_id, * FROM _result_frame LIMIT 0"
                )
                _add_missing_columns(con, table)
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
                con.execute(
                    f"INSERT INTO {table} BY NAME SELECT ? AS run_id, * FROM _result_frame",
                    [run_id],
                )
            finally:
                with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it
                    con.unregister("_result_frame")

    @classmethod
    def load(cls, source: Any, run_id: str) -> Result:
        """Read a result saved with :meth:`save` (exact round trip)."""
        con, owned = _connection(source)
        try:
            meta = _query(con, "SELECT * FROM result_runs WHERE run_id = ?", [run_id])
            if meta.height != 1:
                saved = _query(con, "SELECT run_id FROM result_runs ORDER BY run_id", [])
                raise KeyError(
                    f"no saved result with run_id {run_id!r}; saved runs are "
                    f"{saved['run_id'].to_list()}"
                )
            frames = {}
            for name in _FRAMES:
                order = "date" if name in ("daily", "status_counts") else "date, symbol"
                frames[name] = _query(
                    con,
                    f"SELECT * EXCLUDE (run_id) FROM result_{name} "
                    f"WHERE run_id = ? ORDER BY {order}",
                    [run_id],
                )
        finally:
            if owned:
                con.close()
        # columns only some books have (futures, financing) are NULL for the others: drop them
        daily = frames["daily"]
        kept = [
            c
            for c in daily.columns
            if c in _ALWAYS_DAILY or daily.height == 0 or daily[c].null_count() < daily.height
        ]
        column_order = [c for c in ("date", *DAILY_COLUMNS, *HEDGE_COLUMNS) if c in kept]
        frames["daily"] = daily.select(column_order + [c for c in kept if c not in column_order])
        row = meta.row(0, named=True)
        return cls(
            book=row["book"],
            strategy=row["strategy"],
            params=json.loads(row["params_json"]),
            config=json.loads(row["config_json"]),
            data_range=json.loads(row["data_range_json"]),
            config_hash=row["config_hash"],
            # results saved before benchmarks were saved have no such column
            benchmark=(
                None
                if row.get("benchmark_json") is None
                else Benchmark.from_plain(json.loads(row["benchmark_json"]))
            ),
            complete=bool(row["complete"]),
            **frames,
        )


_ALWAYS_DAILY = frozenset(("date", *DAILY_COLUMNS, "n_positions", "backlog_orders"))


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Add to ``table`` the columns of ``_result_frame`` it lacks (books differ in columns)."""
    have = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM _result_frame").fetchall():
        if name not in have:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}')


def _query(con: duckdb.DuckDBPyConnection, query: str, params: list[Any]) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(query, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _connection(target: Any) -> tuple[duckdb.DuckDBPyConnection, bool]:
    if isinstance(target, str | Path):
        return duckdb.connect(str(target)), True
    connection = getattr(target, "connection", None)
    if isinstance(connection, duckdb.DuckDBPyConnection):
        return connection, False
    if isinstance(target, duckdb.DuckDBPyConnection):
        return target, False
    raise TypeError(
        f"save/load need a Store, a DuckDB connection or a DuckDB file path, got {type(target)}"
    )
