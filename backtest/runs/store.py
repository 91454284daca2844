"""Saved runs in a DuckDB file of their own, never inside the market file.

A *run* is every book of one replay. :meth:`RunStore.save` writes all its books and the row
that names the run in ONE transaction: a run is there whole (its ``runs`` row is written last,
in the same transaction, so "listed" means "complete") or not at all, whatever happens
mid-save — a kill, a full disk, Ctrl-C. A run id is never overwritten unless asked. Each run
records the identity of the market it was computed on
(:meth:`backtest.market.store.Store.identity`), so a report never shows results against a market
that was rebuilt or imported into since.

Tables: ``runs`` (run_id, books and benchmark labels as JSON, market path and identity, first
and last session, saved_at, complete) and the ``result_*`` tables of :meth:`Result.write_rows`,
keyed ``<run_id>/<book>``. Each book's benchmark is saved with its result
(``result_runs.benchmark_json``); a run saved before that gets its benchmarks back from the
``runs`` row's labels when loaded. ``failed_runs`` (run_id, error, failed_at) holds the runs of
a sweep that raised (:meth:`RunStore.save_failure`), until they are saved.

By default the runs of ``data/market.duckdb`` live in ``data/runs.duckdb``
(:func:`default_runs_path`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from backtest.engine.benchmark import Benchmark
from backtest.engine.result import Result
from backtest.market.store import NotAStoreError, open_duckdb

__all__ = ["RunStore", "SavedRun", "default_runs_path"]

_RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    books_json VARCHAR NOT NULL,
    benchmarks_json VARCHAR NOT NULL,
    market_path VARCHAR,
    market_identity VARCHAR,
    first_date DATE,
    last_date DATE,
    saved_at TIMESTAMP NOT NULL,
    complete BOOLEAN NOT NULL
)
"""

# a sweep's cell that raised: its latest error, until the run is saved (then the row goes)
_FAILURES_TABLE = """
CREATE TABLE IF NOT EXISTS failed_runs (
    run_id VARCHAR PRIMARY KEY,
    error VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL
)
"""


def default_runs_path(market: str | Path) -> Path:
    """Return the runs store beside a market store: ``<market folder>/runs.duckdb``."""
    return Path(market).parent / "runs.duckdb"


@dataclass(frozen=True, slots=True)
class SavedRun:
    """One saved run: its books' results (in saved order) and what they were computed on."""

    run_id: str
    results: dict[str, Result]
    market_identity: str | None
    complete: bool

    @property
    def benchmarks(self) -> dict[str, Benchmark | None]:
        """Each book's benchmark (carried by its result)."""
        return {name: result.benchmark for name, result in self.results.items()}


class RunStore:
    """A DuckDB file of saved runs.

    Parameters
    ----------
    path
        The runs file (created with its folder when missing, unless ``read_only``).
    read_only
        Open for reading only (several processes may read at once).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = open_duckdb(str(self.path), read_only=read_only, what="runs store")
        try:
            self._tables = self._table_names()
            market_tables = {"bars", "calendar", "instruments"} & self._tables
            if market_tables and "runs" not in self._tables and "result_runs" not in self._tables:
                raise NotAStoreError(
                    f"{self.path} is a market store, not a runs store; runs are saved in a file "
                    f"of their own (default {default_runs_path(self.path)})"
                )
            if not read_only:
                self._con.execute(_RUNS_TABLE)
                self._con.execute(_FAILURES_TABLE)
                self._tables |= {"runs", "failed_runs"}
        except BaseException:
            self._con.close()
            raise

    def _table_names(self) -> set[str]:
        rows = self._con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {row[0] for row in rows}

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def save(
        self,
        run_id: str,
        results: Mapping[str, Result],
        *,
        market_path: str | Path | None = None,
        market_identity: str | None = None,
        overwrite: bool = False,
    ) -> None:
        """Save every book of a run in one transaction (all or nothing), benchmarks included.

        Raises
        ------
        ValueError
            ``run_id`` is empty or has a ``/``, ``results`` is empty, or the run exists and
            ``overwrite`` is False. Nothing is written then.
        """
        if not run_id or "/" in run_id or run_id != run_id.strip():
            raise ValueError(
                f"run id {run_id!r} must be non-empty, without '/' or surrounding spaces"
            )
        if not results:
            raise ValueError(f"run {run_id!r} has no books to save")
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            if self._exists(run_id):
                if not overwrite:
                    raise ValueError(
                        f"a run named {run_id!r} is already saved in {self.path}; choose another "
                        "name, or pass --overwrite to replace it"
                    )
                self._delete(run_id)
            for book, result in results.items():
                result.write_rows(con, f"{run_id}/{book}")
            firsts = [r.daily["date"][0] for r in results.values() if r.daily.height]
            lasts = [r.daily["date"][-1] for r in results.values() if r.daily.height]
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    json.dumps(list(results)),
                    json.dumps(
                        {
                            book: None if r.benchmark is None else r.benchmark.label
                            for book, r in results.items()
                        },
                        sort_keys=True,
                    ),
                    None if market_path is None else str(market_path),
                    market_identity,
                    min(firsts) if firsts else None,
                    max(lasts) if lasts else None,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    all(r.complete for r in results.values()),
                ],
            )
            if "failed_runs" in self._tables:
                con.execute("DELETE FROM failed_runs WHERE run_id = ?", [run_id])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        self._tables = self._table_names()

    def save_failure(self, run_id: str, error: str) -> None:
        """Record that the run ``run_id`` raised ``error`` (replacing an earlier error of it)."""
        self._con.execute(
            "INSERT OR REPLACE INTO failed_runs VALUES (?, ?, ?)",
            [run_id, error, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
        )

    def failures(self) -> pl.DataFrame:
        """Runs that raised and were not saved since: run_id, error, failed_at (oldest first)."""
        if "failed_runs" not in self._tables:
            return pl.DataFrame(
                schema={"run_id": pl.String, "error": pl.String, "failed_at": pl.Datetime}
            )
        return _query(self._con, "SELECT * FROM failed_runs ORDER BY failed_at, run_id")

    def _exists(self, run_id: str) -> bool:
        return bool(con_rows(self._con, "SELECT 1 FROM runs WHERE run_id = ?", [run_id]))

    def _delete(self, run_id: str) -> None:
        for table in sorted(t for t in self._table_names() if t.startswith("result_")):
            self._con.execute(f"DELETE FROM {table} WHERE starts_with(run_id, ?)", [f"{run_id}/"])
        self._con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])

    # ------------------------------------------------------------------ reading
    def runs(self) -> pl.DataFrame:
        """Every saved run, oldest first: id, books, market identity, range, time, complete.

        Results saved one by one with :meth:`Result.save` (and by versions that saved inside
        the market file) are listed as runs of one book each, with no market identity.
        """
        frames = []
        if "runs" in self._tables:
            frame = _query(
                self._con,
                "SELECT run_id, books_json, market_identity, first_date, last_date, saved_at, "
                "complete FROM runs ORDER BY saved_at, run_id",
            )
            frames.append(frame)
        if "result_runs" in self._tables:
            listed = "SELECT run_id FROM runs" if "runs" in self._tables else "SELECT NULL"
            loose = _query(
                self._con,
                "SELECT run_id, to_json([book]) AS books_json, "
                "CAST(NULL AS VARCHAR) AS market_identity, CAST(NULL AS DATE) AS first_date, "
                "CAST(NULL AS DATE) AS last_date, saved_at, complete FROM result_runs "
                f"WHERE NOT EXISTS (SELECT 1 FROM ({listed}) r(id) "
                "WHERE starts_with(result_runs.run_id, r.id || '/')) ORDER BY saved_at, run_id",
            )
            frames.append(loose.with_columns(pl.col("books_json").cast(pl.String)))
        if not frames:
            return pl.DataFrame(
                schema={
                    "run_id": pl.String,
                    "books": pl.List(pl.String),
                    "market_identity": pl.String,
                    "first_date": pl.Date,
                    "last_date": pl.Date,
                    "saved_at": pl.Datetime,
                    "complete": pl.Boolean,
                }
            )
        frame = pl.concat(frames, how="vertical_relaxed")
        books = [json.loads(text) for text in frame["books_json"].to_list()]
        return frame.with_columns(pl.Series("books", books, dtype=pl.List(pl.String))).select(
            "run_id", "books", "market_identity", "first_date", "last_date", "saved_at", "complete"
        )

    def load(self, run_id: str) -> SavedRun:
        """Load a saved run (every book), or a single result saved with :meth:`Result.save`.

        Raises
        ------
        KeyError
            No run of that id; the message lists the saved ones.
        """
        row = None
        if "runs" in self._tables:
            rows = con_rows(
                self._con,
                "SELECT books_json, benchmarks_json, market_identity, complete FROM runs "
                "WHERE run_id = ?",
                [run_id],
            )
            row = rows[0] if rows else None
        if row is not None:
            books = json.loads(row[0])
            labels = json.loads(row[1])
            results = {}
            for book in books:
                result = Result.load(self._con, f"{run_id}/{book}")
                if result.benchmark is None and labels.get(book):
                    # saved before results carried their benchmark: the run row named it
                    result = result.replace(benchmark=Benchmark.parse(labels[book]))
                results[book] = result
            return SavedRun(run_id, results, row[2], bool(row[3]))
        if "result_runs" in self._tables and con_rows(
            self._con, "SELECT 1 FROM result_runs WHERE run_id = ?", [run_id]
        ):
            result = Result.load(self._con, run_id)
            return SavedRun(run_id, {result.book: result}, None, result.complete)
        saved = self.runs()["run_id"].to_list()
        raise KeyError(
            f"no saved run {run_id!r} in {self.path}; saved runs: "
            + (", ".join(saved) if saved else "none (save one with backtest replay --save NAME)")
        )


def con_rows(con: duckdb.DuckDBPyConnection, query: str, params: list[object]) -> list[tuple]:
    """Rows of a parameterised query (DuckDB 2.0 relations have no fetchone)."""
    return con.execute(query, params).fetchall()


def _query(con: duckdb.DuckDBPyConnection, query: str) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(query).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame
