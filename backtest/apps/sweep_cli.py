"""``backtest sweep SPEC.toml``: run a sweep (:func:`backtest.apps.sweep.sweep`), print its table.

    backtest sweep data/sweeps/smoke.toml [--store PATH] [--runs-store PATH] [--workers N]
                   [--address ADDR] [--json] [--quiet]

``--workers 1`` runs the cells in this process; otherwise on Ray: ``N`` local cores (default:
all of them), or an existing cluster with ``--address`` (or ``RAY_ADDRESS``). Each cell is
saved in the runs store as it finishes; the same command again skips the saved ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import polars as pl

from backtest.apps.sweep import sweep
from backtest.apps.sweep_executors import LocalExecutor, RayExecutor, require_ray
from backtest.apps.sweep_spec import load_sweep
from backtest.runs import default_runs_path

__all__ = ["sweep_main"]

#: the columns of the printed table (``--json`` gives every column)
_SHOWN = ("status", "book", "total", "excess_2023", "excess_crash", "max_drawdown", "impact_cny")


def sweep_main(args: argparse.Namespace) -> int:
    """Run ``backtest sweep`` (module docs); return the exit code.

    Ctrl-C stops the sweep with the finished cells saved and exits 130; a failed cell makes the
    exit code 1 (after every other cell ran).
    """
    spec = load_sweep(args.spec)
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {args.workers}")
    if args.workers == 1 and address is None:
        executor: Any = LocalExecutor()
    else:
        require_ray()
        executor = RayExecutor(address=address, num_cpus=args.workers)
    runs_path = args.runs_store or default_runs_path(args.store)
    began = time.perf_counter()
    try:
        table = sweep(
            spec,
            store=args.store,
            runs_store=runs_path,
            executor=executor,
            progress=not (args.quiet or args.json),
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the cells finished so far are saved in {runs_path}; run the same "
            "command again to finish the others",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(table.write_json())
    else:
        axes = [axis.key for axis in spec.axes]
        with pl.Config(
            tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=200
        ):
            print(table.select("cell", *axes, *_SHOWN))
    cells = table.unique("cell")
    counts = {
        status: int((cells["status"] == status).sum()) for status in ("ran", "saved", "failed")
    }
    summary = (
        f"sweep {spec.name}: {cells.height} cells ({counts['ran']} ran, {counts['saved']} read "
        f"back from {runs_path}, {counts['failed']} failed) in {time.perf_counter() - began:.1f} s"
    )
    print(summary, file=sys.stderr if args.json else sys.stdout)
    for row in cells.filter(pl.col("status") == "failed").iter_rows(named=True):
        print(f"cell {row['cell']} failed: {row['error']}", file=sys.stderr)
    return 1 if counts["failed"] else 0
