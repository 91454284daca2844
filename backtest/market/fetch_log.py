"""The fetch log: what a resumable fetch has already stored, and what failed and why.

One row per ``(dataset, symbol, start, end)`` request: its status (``ok``, ``empty``,
``malformed``, ``network``, ``error``), the error text, rows written and when. A fetch skips a
request whose range is covered by an ``ok`` row, so a rerun after an interruption fetches only
what is missing. The log row of a symbol is written in the same transaction as the symbol's
rows: either both are stored or neither is.

The table is declared here with the schema's own types (:class:`~backtest.market.schema.Table`)
and created through the store's connection until it is registered in ``schema.TABLES``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from backtest.market.schema import Column, Table
from backtest.market.store import Store

__all__ = [
    "FETCH_LOG",
    "FetchReport",
    "FetchStatus",
    "covered_requests",
    "ensure_fetch_log",
    "read_fetch_log",
    "record_fetch",
]

FetchStatus = Literal["ok", "empty", "malformed", "network", "error"]

FETCH_LOG = Table(
    "fetch_log",
    (
        Column("dataset", pl.String(), doc="stock_bars, index_bars, futures_bars, ..."),
        Column("symbol", pl.String(), doc="stock code, index code, month (YYYYMM) or '*'"),
        Column("start", pl.Date()),
        Column("end", pl.Date()),
        Column("status", pl.String(), doc="ok, empty, malformed, network or error"),
        Column("error", pl.String(), nullable=True),
        Column("rows", pl.Int64(), non_negative=True),
        Column("fetched_at", pl.Datetime("us", "UTC")),
    ),
    key=("dataset", "symbol", "start", "end"),
    doc="Requests of resumable fetches: status, error, rows written.",
    session_column=None,
)


def ensure_fetch_log(store: Store) -> None:
    """Create the ``fetch_log`` table in ``store`` if it is missing (idempotent)."""
    store.connection.execute(
        'CREATE TABLE IF NOT EXISTS fetch_log (dataset VARCHAR, symbol VARCHAR, "start" DATE, '
        '"end" DATE, status VARCHAR, error VARCHAR, "rows" BIGINT, fetched_at TIMESTAMPTZ)'
    )


def record_fetch(
    store: Store,
    *,
    dataset: str,
    symbol: str,
    start: dt.date,
    end: dt.date,
    status: FetchStatus,
    error: str | None,
    rows: int,
) -> None:
    """Upsert one request's outcome (joins the caller's transaction when there is one)."""
    con = store.connection
    with store.transaction():
        con.execute(
            'DELETE FROM fetch_log WHERE dataset = ? AND symbol = ? AND "start" = ? AND "end" = ?',
            [dataset, symbol, start, end],
        )
        con.execute(
            "INSERT INTO fetch_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [dataset, symbol, start, end, status, error, rows, dt.datetime.now(dt.UTC)],
        )


def covered_requests(store: Store, dataset: str, start: dt.date, end: dt.date) -> set[str]:
    """Symbols of ``dataset`` whose ``[start, end]`` lies inside the range of an ``ok`` row.

    Only ``ok`` covers: an ``empty`` answer may be a transient refusal of the server, and a
    failed request must be tried again, so both are fetched again on a rerun.
    """
    rows = store.connection.execute(
        "SELECT DISTINCT symbol FROM fetch_log WHERE dataset = ? AND status = 'ok' "
        'AND "start" <= ? AND "end" >= ?',
        [dataset, start, end],
    ).fetchall()
    return {r[0] for r in rows}


def read_fetch_log(store: Store) -> pl.DataFrame:
    """Return the whole fetch log, newest first."""
    ensure_fetch_log(store)
    return store.sql("SELECT * FROM fetch_log ORDER BY fetched_at DESC, dataset, symbol")


@dataclass(slots=True)
class FetchReport:
    """What a fetch did: one outcome per request, skipped requests, and what could not be done."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    def add(
        self,
        dataset: str,
        symbol: str,
        status: FetchStatus,
        rows: int,
        error: str | None,
        attempts: int,
    ) -> None:
        self.outcomes.append(
            {
                "dataset": dataset,
                "symbol": symbol,
                "status": status,
                "rows": rows,
                "attempts": attempts,
                "error": error,
            }
        )

    def frame(self) -> pl.DataFrame:
        """Every outcome as a frame (dataset, symbol, status, rows, attempts, error)."""
        schema = {
            "dataset": pl.String,
            "symbol": pl.String,
            "status": pl.String,
            "rows": pl.Int64,
            "attempts": pl.Int64,
            "error": pl.String,
        }
        return pl.DataFrame(self.outcomes, schema=schema)

    def failures(self) -> pl.DataFrame:
        """Outcomes whose status is not ``ok``: what failed and why."""
        return self.frame().filter(pl.col("status") != "ok")

    def rows_written(self) -> dict[str, int]:
        """Rows written per dataset."""
        totals = self.frame().group_by("dataset").agg(pl.col("rows").sum()).sort("dataset")
        return dict(zip(totals["dataset"].to_list(), totals["rows"].to_list(), strict=True))

    def __str__(self) -> str:
        lines = [
            f"fetched {len(self.outcomes)} requests, skipped {len(self.skipped)} already stored"
        ]
        lines += [f"  {name:<14} {rows:>10,} rows" for name, rows in self.rows_written().items()]
        failures = self.failures()
        if failures.height:
            lines.append(f"{failures.height} requests failed (rerun the fetch to retry them):")
            with pl.Config(tbl_rows=100, fmt_str_lengths=100, tbl_hide_dataframe_shape=True):
                lines.append(
                    str(failures.select("dataset", "symbol", "status", "attempts", "error"))
                )
        lines += [f"gap: {gap}" for gap in self.gaps]
        return "\n".join(lines)
