"""``backtest sweep SPEC.toml``: run a sweep (:func:`backtest.runs.sweep.sweep`), print its table.

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
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["add_sweep_parser", "sweep_main"]

#: the columns of the printed table (``--json`` gives every column)
_SHOWN = ("status", "book", "total", "excess_2023", "excess_crash", "max_drawdown", "impact_cny")


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the ``backtest`` command's subparsers; return its parser."""
    from backtest.cli_options import add_store_argument

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sweep", help="run a sweep of runs (a grid or a random sample), locally or on Ray"
    )
    parser.add_argument("spec", type=Path, help="the sweep file (TOML; see data/sweeps/)")
    add_store_argument(parser)
    parser.add_argument(
        "--runs-store",
        type=Path,
        default=None,
        metavar="PATH",
        help="where each cell is saved (default: runs.duckdb beside the market store)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="1: run in this process; N > 1: Ray on N local cores (default: all cores, on Ray)",
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="a running Ray cluster (ray start --head prints it; default: $RAY_ADDRESS)",
    )
    parser.add_argument("--json", action="store_true", help="print every column as JSON rows")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=sweep_main)
    return parser


def sweep_main(args: argparse.Namespace) -> int:
    """Run ``backtest sweep`` (module docs); return the exit code.

    Ctrl-C stops the sweep with the finished cells saved and exits 130; a failed cell makes the
    exit code 1 (after every other cell ran).
    """
    from backtest.runs import default_runs_path
    from backtest.runs.executors import LocalExecutor, RayExecutor, require_ray
    from backtest.runs.sweep import sweep
    from backtest.runs.sweep_spec import load_sweep

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
