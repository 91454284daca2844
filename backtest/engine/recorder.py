"""The Recorder: one book's preallocated per-session storage during a run.

Each session it takes the daily scalars, the dense positions row, the fill rows (columnar
buffers in chunks: no copying while the run goes on), the non-zero backlog entries and the
session's ledger entries; :meth:`Recorder.result` turns them into a
:class:`~backtest.engine.result.Result`, building ``daily`` at once and the long frames on first
access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from backtest.core.lines import LINES
from backtest.engine.benchmark import Benchmark
from backtest.engine.orders import SessionFills
from backtest.engine.result import _FILL_FLOATS, DAILY_COLUMNS, STATUS_NAMES, Result

__all__ = ["Recorder"]


class Recorder:
    """Preallocated per-session storage of one book (see the module docs)."""

    def __init__(self, *, days: int, n: int, extra_daily: tuple[str, ...] = ()) -> None:
        self.sessions_done = 0
        self.daily = {name: np.full(days, np.nan) for name in (*DAILY_COLUMNS, *extra_daily)}
        self.n_positions = np.zeros(days, dtype=np.int64)
        self.backlog_orders = np.zeros(days, dtype=np.int64)
        self.positions = np.zeros((days, n), dtype=np.int64)
        # the backlog is sparse (a few names wait on most days): the close's kernel writes only
        # its non-zero entries (session, symbol, shares, age), in chunks like the fills
        self._backlog_chunks: list[np.ndarray] = []
        self._backlog = np.empty((4, max(1024, 2 * n)), dtype=np.int64)
        self._backlog_rows = 0
        self.status_counts = np.zeros((days, len(STATUS_NAMES)), dtype=np.int64)
        #: the ledger's entries by session and line (CNY)
        self.entries = np.zeros((days, len(LINES)))
        # fill rows go into chunks: a full chunk is kept as it is and a new, larger one is
        # started (no copying while the run goes on; one concatenation when the result is built)
        self._fill_chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._fill_rows = 0
        capacity = max(1024, 4 * n)
        self._fill_int = np.empty((4, capacity), dtype=np.int64)  # session, symbol, order, filled
        self._fill_float = np.empty((len(_FILL_FLOATS), capacity))
        self._fill_status = np.empty(capacity, dtype=np.int8)

    @property
    def fill_rows(self) -> int:
        """Fill rows recorded so far."""
        return self._fill_rows + sum(chunk[2].size for chunk in self._fill_chunks)

    def fill_buffers(self, extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Return the fill buffers with room for ``extra`` more rows, and the next free row.

        The buffers are ``int64[4, capacity]`` (session, symbol, order, filled),
        ``float64[6, capacity]`` (reference price, fill price, impact, commission, stamp duty,
        transfer fee) and ``int8[capacity]`` (status). When they cannot take ``extra`` more rows,
        the rows so far are kept as a finished chunk and new buffers twice the size are started
        (rows are written before they are read, so the buffers need no zeroing).
        """
        rows = self._fill_rows
        if rows + extra > self._fill_status.size:
            if rows:
                self._fill_chunks.append(
                    (self._fill_int[:, :rows], self._fill_float[:, :rows], self._fill_status[:rows])
                )
            capacity = max(extra, 2 * self._fill_status.size)
            self._fill_int = np.empty((4, capacity), dtype=np.int64)
            self._fill_float = np.empty((len(_FILL_FLOATS), capacity))
            self._fill_status = np.empty(capacity, dtype=np.int8)
            self._fill_rows = 0
        return self._fill_int, self._fill_float, self._fill_status, self._fill_rows

    def commit_fills(self, session_index: int, row_end: int) -> None:
        """Close a session's fill rows (written by the kernel) and count their statuses."""
        statuses = self._fill_status[self._fill_rows : row_end]
        self.status_counts[session_index] = np.bincount(statuses, minlength=len(STATUS_NAMES))[
            : len(STATUS_NAMES)
        ]
        self._fill_rows = row_end

    def backlog_buffers(self, extra: int) -> tuple[np.ndarray, int]:
        """Return the backlog buffer (``int64[4, capacity]``) with ``extra`` free columns.

        A full buffer is kept as a finished chunk and a new one twice the size is started.
        """
        rows = self._backlog_rows
        if rows + extra > self._backlog.shape[1]:
            if rows:
                self._backlog_chunks.append(self._backlog[:, :rows])
            self._backlog = np.empty((4, max(extra, 2 * self._backlog.shape[1])), dtype=np.int64)
            self._backlog_rows = 0
        return self._backlog, self._backlog_rows

    def commit_backlog(self, row_end: int) -> None:
        """Close a session's backlog rows (written by ``settle_nb``)."""
        self._backlog_rows = row_end

    def _finished_fill_chunks(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every fill row recorded so far, as chunks in order (views; joined when read)."""
        rows = self._fill_rows
        current = (self._fill_int[:, :rows], self._fill_float[:, :rows], self._fill_status[:rows])
        return [*self._fill_chunks, current]

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
            backlog=_joined([*self._backlog_chunks, self._backlog[:, : self._backlog_rows]]),
            status_counts=self.status_counts[:done],
            entries=self.entries[:done],
            fill_chunks=self._finished_fill_chunks(),
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
            entries=tables.entries_frame,
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
    #: float64[days, lines]: the ledger's entries (CNY)
    entries: np.ndarray
    #: the fill rows in chunks (int64[4, r], float64[6, r], int8[r]), joined on first use
    fill_chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]

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
        chunks = self.fill_chunks
        fill_int = np.concatenate([c[0] for c in chunks], axis=1)
        fill_float = np.concatenate([c[1] for c in chunks], axis=1)
        order = np.lexsort((self._symbol_rank()[fill_int[1]], fill_int[0]))
        session = fill_int[0][order]
        status = np.concatenate([c[2] for c in chunks])[order]
        return pl.DataFrame(
            {
                "date": self.dates[session].astype("datetime64[D]"),
                "symbol": self._symbol_series().gather(fill_int[1][order]),
                "order_shares": fill_int[2][order],
                "filled_shares": fill_int[3][order],
                **{name: fill_float[j][order] for j, name in enumerate(_FILL_FLOATS)},
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

    def entries_frame(self) -> pl.DataFrame:
        rows, lines = np.nonzero(self.entries)  # row-major: by date, then line code
        return pl.DataFrame(
            {
                "date": self.day_axis[rows],
                "line": pl.Series([line.label for line in LINES], dtype=pl.String).gather(lines),
                "amount_cny": self.entries[rows, lines],
            }
        )

    def counts_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"date": self.day_axis}
            | {name.lower(): self.status_counts[:, j] for j, name in enumerate(STATUS_NAMES)}
        )


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    """The chunks side by side (the one chunk itself when there is one)."""
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=1)
