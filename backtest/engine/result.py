"""Results of a backtest: what each book did, as polars frames, saved to and loaded from DuckDB.

During a run a :class:`~backtest.engine.recorder.Recorder` writes each session's rows into
preallocated arrays; at the end (or when a strategy fails) it turns them into a :class:`Result`,
building ``daily`` at once and the long frames on first access.

Frames of a :class:`Result` (all sorted by date, then symbol):

``daily``
    date, equity, cash, holdings_value, gross_exposure (holdings / equity), impact, commission,
    stamp_duty, transfer_fee (CNY, that session), buy_notional, sell_notional,
    turnover ((buys + sells) / 2 / previous equity), then, only for books with futures or
    financing (:mod:`backtest.engine.futures`): futures_pnl, basis_carry, roll,
    futures_fees, financing, margin_required, futures_notional, margin_call; then n_positions,
    backlog_orders.
``positions``
    date, symbol, shares, value (at the mark), weight: non-zero positions after the close.
``fills``
    date, symbol, order_shares, filled_shares, reference_price, fill_price, impact, commission,
    stamp_duty, transfer_fee, status (``FillStatus`` code), status_name: every order sent.
``backlog``
    date, symbol, remaining_shares (signed), age_sessions: targets queued for the next open.
``status_counts``
    date and one column per ``FillStatus`` name: orders per status at that session's open.
``entries``
    date, line, amount_cny: the session's P&L by :class:`~backtest.core.lines.Line` (non-zero
    amounts only); a session's entries sum to its equity change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from backtest.core.lines import LINES
from backtest.core.returns import max_drawdown, returns_from_equity
from backtest.engine.benchmark import Benchmark
from backtest.engine.futures.config import HEDGE_COLUMNS
from backtest.execution.fills import FillStatus

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
_FRAMES = ("daily", "positions", "fills", "backlog", "status_counts", "entries")


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
        entries: FrameSource | None = None,
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
        if entries is not None:
            frames["entries"] = entries
        object.__setattr__(self, "_frames", frames)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Result is immutable: cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # lazy frames are closures over the engine's arrays and do not pickle: a result sent
        # to another process (a sweep's Ray worker to its driver) travels with them built
        meta = {name: getattr(self, name) for name in (*_META, "daily")}
        return (_restore_result, (meta, {name: self._frame(name) for name in self._frames}))

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
        if name not in self._frames:
            raise ValueError(
                f"book {self.book!r}: this result has no {name} (it was saved before the engine "
                "recorded them); run the book again to get them"
            )
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

    @property
    def has_entries(self) -> bool:
        """True when the result carries its ledger entries (results saved before did not)."""
        return "entries" in self._frames

    @property
    def entries(self) -> pl.DataFrame:
        """date, line, amount_cny: the session's P&L by ledger line (non-zero amounts).

        A session's entries sum to its equity change (:mod:`backtest.core.lines`).
        """
        return self._frame("entries")

    def entries_by_line(self) -> dict[str, np.ndarray]:
        """Every line's amounts per session of ``daily`` (CNY; 0 where nothing was booked)."""
        dates = self.daily["date"].to_numpy()
        entries = self.entries
        entry_dates = entries["date"].to_numpy()
        row = np.minimum(np.searchsorted(dates, entry_dates), max(dates.size - 1, 0))
        if entry_dates.size and not np.array_equal(dates[row], entry_dates):
            bad = entry_dates[dates[row] != entry_dates][0]
            raise ValueError(
                f"book {self.book!r}: entries on {bad}, not a session of its daily frame; "
                "slice daily and entries together"
            )
        labels, amounts = entries["line"].to_numpy(), entries["amount_cny"].to_numpy()
        out = {line.label: np.zeros(dates.size) for line in LINES}
        for label, column in out.items():
            mine = labels == label
            np.add.at(column, row[mine], amounts[mine])
        return out

    def equals(self, other: Result) -> bool:
        """True when every frame and every input field is identical (to the bit)."""
        same_meta = all(
            getattr(self, name) == getattr(other, name) for name in _META if name != "complete"
        )
        if self.has_entries != other.has_entries:
            return False
        return same_meta and all(
            getattr(self, name).equals(getattr(other, name))
            for name in _FRAMES
            if name != "entries" or self.has_entries
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
        frames = {"runs": meta} | {
            name: getattr(self, name) for name in _FRAMES if name != "entries" or self.has_entries
        }
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
            tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
            for name in _FRAMES:
                if name == "entries":
                    if "result_entries" in tables:  # runs saved before entries lack the table
                        frames[name] = _entries_in_code_order(
                            _query(
                                con,
                                "SELECT * EXCLUDE (run_id) FROM result_entries WHERE run_id = ?",
                                [run_id],
                            )
                        )
                    continue
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


def _entries_in_code_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort loaded entries as the recorder wrote them: by date, then line code."""
    codes = pl.DataFrame(
        {"line": [line.label for line in LINES], "_code": [int(line) for line in LINES]}
    )
    return frame.join(codes, on="line", how="left").sort("date", "_code").drop("_code")


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


def _restore_result(meta: dict[str, Any], frames: dict[str, Any]) -> Result:
    """Rebuild a pickled :class:`Result` (see ``Result.__reduce__``)."""
    return Result(**meta, **frames)
