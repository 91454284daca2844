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

import polars as pl

from backtest.cli_options import DEFAULT_STORE, add_store_argument

__all__ = ["DEFAULT_STORE", "add_store_argument", "build_parser", "main"]


def _cmd_data_build(args: argparse.Namespace) -> int:
    from backtest.market.scenario import ScenarioConfig
    from backtest.market.scenario.store_file import build_scenario_file

    config = ScenarioConfig(seed=args.seed, n_stocks=args.n_stocks)
    rows = build_scenario_file(
        args.store,
        config,
        force=args.force,
        discard_saved_results=args.discard_saved_results,
        progress=not args.quiet,
    )
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
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if the store has bars (built beside it, swapped in when complete)",
    )
    build.add_argument(
        "--discard-saved-results",
        action="store_true",
        help="let --force replace a store that still holds results saved inside it",
    )
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

    from backtest.runs.sweep_cli import add_sweep_parser

    add_sweep_parser(commands)
    return parser


#: ``data`` subcommands that write the store in place: they hold its writer lock throughout.
_IN_PLACE_WRITERS = ("import", "fetch")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``backtest`` command; return its exit code.

    A mistake the user can act on (a bad path, a malformed file, a busy or write-protected
    store, a full disk) prints one ``error:`` line and exits 2; Ctrl-C prints one line and exits
    130. Every write is a transaction or an atomic swap, so the store is as it was then.
    """
    import duckdb

    from backtest.market.lock import writer_lock

    args = build_parser().parse_args(argv)
    try:
        if args.command == "data" and args.data_command in _IN_PLACE_WRITERS:
            with writer_lock(args.store, f"backtest data {args.data_command}"):
                return int(args.handler(args))
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(
            "interrupted: nothing was written (every write is all or nothing); run the command "
            "again to finish",
            file=sys.stderr,
        )
        return 130
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {_sentence(exc)}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(
            f"error: the store could not be written or read ({str(exc).splitlines()[0]}); the "
            "write was rolled back. Free disk space or fix the file and run the command again",
            file=sys.stderr,
        )
        return 2


def _sentence(exc: BaseException) -> str:
    """The message of ``exc`` without KeyError's quotes."""
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text


if __name__ == "__main__":
    raise SystemExit(main())
