"""Where a sweep's cells run: in this process, or on Ray (this machine's cores or a cluster).

An executor takes batches — one loaded market and the cells that run on it — and yields each
cell's :class:`CellOutcome` as it finishes (in finishing order). It never writes anything: the
sweep saves each outcome as it arrives (:func:`backtest.apps.sweep.sweep`).

- :class:`LocalExecutor` runs the cells one after another in this process (``--workers 1``:
  for debugging, and where Ray is not installed).
- :class:`RayExecutor` puts each market once into Ray's object store (``ray.put``) and sends
  the cells as tasks that take it as an argument. A market is a frozen dataclass of numpy
  arrays, with its derived arrays computed before it is put; a worker on the same node maps
  them from shared memory without a copy (read-only), and a node of a cluster fetches the
  object once, however many cells it runs. The market is never re-read per cell.

Ray is an optional extra (``pip install -e '.[ray]'``); this module imports it only inside
:class:`RayExecutor`, and :func:`require_ray` says how to install it.
"""

from __future__ import annotations

import os
import resource
import socket
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from backtest.apps.replay import replay_table
from backtest.apps.sweep_spec import Cell
from backtest.engine.result import Result
from backtest.market.panel import MarketData
from backtest.runs.spec import run_on

__all__ = [
    "Batch",
    "CellOutcome",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "require_ray",
    "run_cell",
]

RAY_MISSING = (
    "Ray is not installed: install the extra with pip install -e '.[ray]' (or pip install "
    "'ray[default]>=2.9'), or run the sweep in this process with --workers 1"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Batch:
    """A loaded market and the cells to run on it."""

    market: MarketData
    cells: list[Cell]


@dataclass(frozen=True, kw_only=True, slots=True)
class CellOutcome:
    """What running one cell gave: its results and key figures, or the error it raised.

    ``seconds`` is the cell's wall time in its worker; ``worker`` is ``host:pid``;
    ``peak_rss_bytes`` the worker process's peak resident memory so far (shared pages of the
    object store included, as the kernel counts them).
    """

    index: int
    results: dict[str, Result] | None
    figures: pl.DataFrame | None
    error: str | None
    seconds: float
    worker: str
    peak_rss_bytes: int


def run_cell(cell: Cell, market: MarketData) -> CellOutcome:
    """Run one cell on its market; an exception becomes the outcome's ``error`` (not raised).

    ``KeyboardInterrupt`` and other non-``Exception`` errors propagate (Ctrl-C stops a sweep).
    The key figures are those of ``backtest replay``'s table
    (:func:`backtest.apps.replay.replay_table`: excess and drawdown as
    :mod:`backtest.core.returns` defines them).
    """

    began = time.perf_counter()
    results: dict[str, Result] | None = None
    figures: pl.DataFrame | None = None
    error: str | None = None
    try:
        results = run_on(cell.spec, market)
        figures = replay_table(results, market)
    except Exception as exc:
        results, figures, error = None, None, _error_text(exc)
    return CellOutcome(
        index=cell.index,
        results=results,
        figures=figures,
        error=error,
        seconds=time.perf_counter() - began,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def _error_text(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame (file:line in function)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = (
        f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    )
    return f"{type(exc).__name__}: {exc}{where}"


class Executor(Protocol):
    """Runs batches of cells; yields each cell's outcome as it finishes."""

    def run(self, batches: Iterable[Batch]) -> Iterator[CellOutcome]:
        """Run every cell of every batch (pulling a batch only when it has room for it)."""
        ...


class LocalExecutor:
    """Every cell in this process, one after another (``--workers 1``)."""

    def run(self, batches: Iterable[Batch]) -> Iterator[CellOutcome]:
        """Run the cells in order."""
        for batch in batches:
            for cell in batch.cells:
                yield run_cell(cell, batch.market)


def require_ray() -> Any:
    """Import Ray, or raise an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(RAY_MISSING) from exc
    return ray


def _run_cell_task(cell: Cell, market: MarketData) -> CellOutcome:
    """The Ray task: Ray resolves ``market`` from the object store (zero-copy on the node)."""
    return run_cell(cell, market)


class RayExecutor:
    """The cells as Ray tasks, one CPU each.

    Parameters
    ----------
    address
        A running cluster's address (``ray start --head`` prints it; ``"auto"`` finds one on
        this machine). ``None``: ``RAY_ADDRESS`` if set, else a Ray started here for the sweep
        on ``num_cpus`` cores and shut down after it.
    num_cpus
        Cores of a Ray started here (``None``: all of them). Ignored with a cluster.

    A Ray already initialised in this process (a notebook, a test) is used as it is.
    """

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus

    def run(self, batches: Iterable[Batch]) -> Iterator[CellOutcome]:
        """Submit each batch when the cluster has free CPUs; yield outcomes as they finish.

        A worker that dies (or a task Ray could not run) gives an outcome with the error; on
        Ctrl-C (or when the caller stops reading) the tasks still queued are cancelled.
        """
        ray = require_ray()
        started = not ray.is_initialized()
        if started:
            if self.address is not None:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
        task = ray.remote(num_cpus=1, max_retries=0)(_run_cell_task)
        pending: dict[Any, Cell] = {}
        try:
            capacity = max(int(ray.cluster_resources().get("CPU", 1)), 1)
            queue = iter(batches)
            exhausted = False
            while True:
                # the next market is loaded and put only when workers would otherwise idle
                while not exhausted and len(pending) < capacity:
                    batch = next(queue, None)
                    if batch is None:
                        exhausted = True
                        break
                    market_ref = ray.put(batch.market)
                    for cell in batch.cells:
                        pending[task.remote(cell, market_ref)] = cell
                    del market_ref  # the tasks hold it; freed when the last one ends
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    cell = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        yield CellOutcome(
                            index=cell.index,
                            results=None,
                            figures=None,
                            error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                            seconds=float("nan"),
                            worker="",
                            peak_rss_bytes=0,
                        )
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
