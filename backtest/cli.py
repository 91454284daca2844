"""The ``backtest`` command line.

    backtest data build [--store PATH] [--seed N] [--n-stocks N] [--force]
    backtest data info  [--store PATH]
    backtest data fetch --source akshare --start DATE --end DATE [--universe ...]
    backtest data import PATH [--preset tushare_daily|wind_eod|...] [--map SRC=DST ...]

Each subcommand lives with the code it drives; this module only parses arguments and dispatches.
Errors a user can act on (a bad store path, a malformed input) print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

DEFAULT_STORE = Path("data/market.duckdb")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--store PATH`` option every store-reading command shares."""
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"DuckDB market store (default: {DEFAULT_STORE})",
    )


def _cmd_data_build(args: argparse.Namespace) -> int:
    from backtest.market.scenario import ScenarioConfig, build_scenario
    from backtest.market.store import Store

    config = ScenarioConfig(seed=args.seed, n_stocks=args.n_stocks)
    if args.force and args.store.exists():
        args.store.unlink()
    with Store(args.store) as store:
        if not store.is_empty("bars") and not args.force:
            print(
                f"{args.store} already holds bars; pass --force to rebuild it from the scenario.",
                file=sys.stderr,
            )
            return 2
        rows = build_scenario(store, config, progress=not args.quiet)
        print(
            f"wrote scenario ashare-2023-2024 (seed {config.seed}, {config.n_stocks} stocks) "
            f"to {args.store}"
        )
        for table, count in rows.items():
            print(f"  {table:<14} {count:>10,} rows")
    return 0


def _cmd_data_info(args: argparse.Namespace) -> int:
    from backtest.market.store import Store

    if not args.store.exists():
        print(f"no store at {args.store}; build one with `backtest data build`.", file=sys.stderr)
        return 2
    with Store(args.store, read_only=True) as store:
        with pl.Config(tbl_rows=50, tbl_cols=10, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
            print(f"store: {args.store}")
            print(store.info())
            print("provenance (newest first):")
            provenance = store.provenance()
            print(provenance.select("table_name", "source", "rows", "fetched_at"))
            for source, params in (
                provenance.select("source", "params").unique(maintain_order=True).iter_rows()
            ):
                print(f"parameters of {source}: {params}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from backtest.analytics.report import report_main

    return report_main(args)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``backtest`` command."""
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Replay the 2023-2024 A-share market through the books the industry ran.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="build, fetch, import and inspect the market store")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    build = data_commands.add_parser(
        "build", help="generate the calibrated 2023-2024 scenario into the store (offline)"
    )
    add_store_argument(build)
    build.add_argument("--seed", type=int, default=20240205, help="scenario seed")
    build.add_argument("--n-stocks", type=int, default=5000, help="number of stocks")
    build.add_argument("--force", action="store_true", help="rebuild even if the store has bars")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=_cmd_data_build)

    info = data_commands.add_parser("info", help="what the store holds, date ranges, provenance")
    add_store_argument(info)
    info.set_defaults(handler=_cmd_data_info)

    from backtest.market.data_cli import register_fetch, register_import

    register_fetch(data_commands)
    register_import(data_commands)

    from backtest.analytics.report import add_report_arguments

    report = commands.add_parser(
        "report", help="write the self-contained HTML report of saved runs"
    )
    add_report_arguments(report)
    report.set_defaults(handler=_cmd_report)

    from backtest.replay import add_replay_arguments, replay_main

    replay = commands.add_parser(
        "replay", help="run the six books over 2023-2024 and print the crash table"
    )
    add_replay_arguments(replay)
    replay.set_defaults(handler=replay_main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``backtest`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
