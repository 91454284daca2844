"""Run a sweep: every cell once, saved as it finishes, resumable, one frame of key figures.

:func:`sweep` expands a :class:`~backtest.apps.sweep_spec.SweepSpec` into cells (each a
:class:`~backtest.runs.spec.RunSpec`), groups them by market, loads each market once, and hands the
groups to an executor (:mod:`backtest.apps.sweep_executors`: in this process, or on Ray). As each
cell finishes, its books are saved to the runs store in one transaction under the cell's run hash
(:meth:`RunSpec.hash`); a cell that raised is recorded with its error
(:meth:`RunStore.save_failure`) and the others go on. Run again, the same sweep skips every cell
whose run hash is saved (their figures are read back from the store), so a sweep stopped by Ctrl-C,
a kill or a lost node resumes where it stopped, and no cell is run twice.

The frame has one row per cell and book: ``cell``, ``run_id``, one column per axis (its key;
a window as ``start..end``), ``status`` (``ran``, ``saved`` = read back, ``failed``),
``error``, then the figures of ``backtest replay``'s table
(:func:`backtest.apps.replay.replay_table`: returns, excess and drawdown as
:mod:`backtest.core.returns` defines them, costs), then ``seconds``, ``worker`` and
``peak_rss_mb`` (null for cells read back). A failed cell has one row, its figures null.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from backtest.apps.replay import replay_table
from backtest.apps.sweep_executors import Batch, CellOutcome, Executor, LocalExecutor
from backtest.apps.sweep_spec import Cell, SweepSpec
from backtest.market.lock import writer_lock
from backtest.market.panel import MarketData
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import ensure_scenario_file
from backtest.runs.spec import MarketRef, StoreRef
from backtest.runs.store import RunStore

__all__ = ["TIMING_COLUMNS", "sweep"]

#: columns that differ between two runs of one sweep (the rest is a pure function of the spec)
TIMING_COLUMNS = ("status", "seconds", "worker", "peak_rss_mb")


def sweep(
    spec: SweepSpec,
    *,
    store: str | Path | None = None,
    runs_store: str | Path | None = None,
    executor: Executor | None = None,
    progress: bool = False,
    on_outcome: Callable[[Cell, CellOutcome], None] | None = None,
) -> pl.DataFrame:
    """Run every cell of ``spec`` not saved yet; return the key figures of all (module docs).

    Parameters
    ----------
    spec
        The sweep (:func:`~backtest.apps.sweep_spec.load_sweep` reads one from TOML).
    store
        The market store of a store sweep (built from the spec's ``[market.build]`` scenario
        when missing or empty).
    runs_store
        Where each cell is saved as it finishes (its writer lock is held throughout); ``None``
        saves nothing (and so resumes nothing).
    executor
        :class:`~backtest.apps.sweep_executors.LocalExecutor` (default) or
        :class:`~backtest.apps.sweep_executors.RayExecutor`.
    progress
        Show a progress bar (cells done of all).
    on_outcome
        Called with each cell and its outcome as it arrives, after it is saved (the bench).

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C: the cells finished so far are saved; the same call resumes.
    """
    from tqdm import tqdm

    if spec.market.source == "store":
        if store is None:
            raise ValueError(f"sweep {spec.name!r} reads a market store: give store=PATH")
        _ensure_store(Path(store), spec)
    cells = spec.cells(None if store is None else Path(store))
    rows: dict[int, pl.DataFrame] = {}
    with contextlib.ExitStack() as held:
        runs: RunStore | None = None
        saved: set[str] = set()
        if runs_store is not None:
            held.enter_context(writer_lock(runs_store, f"backtest sweep {spec.name}"))
            runs = held.enter_context(RunStore(runs_store))
            saved = set(runs.runs()["run_id"].to_list())
        bar = held.enter_context(tqdm(total=len(cells), disable=not progress, unit="cell"))
        batches = _batches(cells, saved, runs, rows, bar)
        for outcome in (executor or LocalExecutor()).run(batches):
            cell = cells[outcome.index]
            if runs is not None:
                if outcome.error is None:
                    assert outcome.results is not None
                    path, identity = _market_label(cell.spec.market)
                    runs.save(
                        cell.run_id,
                        outcome.results,
                        market_path=path,
                        market_identity=identity,
                    )
                else:
                    runs.save_failure(cell.run_id, outcome.error)
            rows[cell.index] = _cell_rows(cell, outcome)
            bar.update()
            if on_outcome is not None:
                on_outcome(cell, outcome)
    return pl.concat([rows[i] for i in sorted(rows)], how="diagonal_relaxed")


def _ensure_store(store: Path, spec: SweepSpec) -> None:

    ensure_scenario_file(store, ScenarioConfig(**dict(spec.market.build)))


def _batches(
    cells: list[Cell],
    saved: set[str],
    runs: RunStore | None,
    rows: dict[int, pl.DataFrame],
    bar: Any,
) -> Iterator[Batch]:
    """Load each market once (when the executor asks), read back its saved cells, yield the rest.

    The derived arrays every cell of a market needs are computed here, once, before the
    market travels (to Ray's object store): workers share them rather than recompute them.
    """
    groups: dict[str, tuple[MarketRef, list[Cell]]] = {}
    for cell in cells:
        groups.setdefault(cell.spec.market.identity(), (cell.spec.market, []))[1].append(cell)
    for reference, group in groups.values():
        pending = [cell for cell in group if cell.run_id not in saved]
        if runs is None and not pending:
            continue
        market = reference.load()
        for config in {
            (c.spec.config.volatility_window, c.spec.config.adv_window) for c in pending
        }:
            market.features(volatility_window=config[0], adv_window=config[1])
        for cell in group:
            if cell.run_id in saved:
                assert runs is not None
                rows[cell.index] = _saved_rows(cell, runs, market)
                bar.update()
        if pending:
            yield Batch(market=market, cells=pending)


def _saved_rows(cell: Cell, runs: RunStore, market: MarketData) -> pl.DataFrame:

    results = runs.load(cell.run_id).results
    return _frame(cell, "saved", replay_table(results, market), None)


def _cell_rows(cell: Cell, outcome: CellOutcome) -> pl.DataFrame:
    if outcome.error is not None:
        return _frame(
            cell, "failed", pl.DataFrame({"book": [None]}, schema={"book": pl.String}), outcome
        )
    assert outcome.figures is not None
    return _frame(cell, "ran", outcome.figures, outcome)


def _frame(
    cell: Cell, status: str, figures: pl.DataFrame, outcome: CellOutcome | None
) -> pl.DataFrame:
    n = figures.height
    head: dict[str, Any] = {"cell": [cell.index] * n, "run_id": [cell.run_id] * n}
    for key, value in cell.values:
        head[key] = [f"{value[0]}..{value[1]}" if isinstance(value, tuple) else value] * n
    head["status"] = [status] * n
    head["error"] = [None if outcome is None else outcome.error] * n
    timing = {
        "seconds": [None if outcome is None else outcome.seconds] * n,
        "worker": [None if outcome is None else outcome.worker] * n,
        "peak_rss_mb": [None if outcome is None else outcome.peak_rss_bytes / 2**20] * n,
    }
    timing_schema = {"seconds": pl.Float64, "worker": pl.String, "peak_rss_mb": pl.Float64}
    columns = pl.DataFrame(head, schema_overrides={"error": pl.String})
    return pl.concat(
        [columns, figures, pl.DataFrame(timing, schema=timing_schema)], how="horizontal"
    )


def _market_label(reference: MarketRef) -> tuple[str | None, str]:
    """The market path and identity saved with a run (as ``backtest replay --save``)."""
    if isinstance(reference, StoreRef):
        return reference.path, reference.content_hash
    return None, reference.identity()
