"""The ``backtest`` command: one parser with every subcommand and the shared ``--store``.

    backtest data build [--store PATH] [--seed N] [--n-stocks N] [--force]
    backtest data info  [--store PATH]
    backtest data fetch --source akshare --start DATE --end DATE [--universe ...]
    backtest data import PATH [--preset tushare_daily|wind_eod|...] [--map SRC=DST ...]
    backtest replay [--store PATH] [--save RUN_ID]
    backtest report [--store PATH] [--runs RUN_ID ...] [--out report.html]

This module declares every argument and dispatches; the commands run in the app modules
(:mod:`~backtest.apps.data`, :mod:`~backtest.apps.replay`, :mod:`~backtest.apps.report`), none of
which imports this one. Errors a user can act on (a bad store path, a malformed input) print one
clear line and exit 2.

>>> build_parser().parse_args(["replay"]).store
PosixPath('data/market.duckdb')
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from backtest.apps import data, replay, report, sweep_cli
from backtest.market.importer import PRESETS
from backtest.market.lock import writer_lock
from backtest.market.store import DEFAULT_STORE, Store

__all__ = ["add_store_argument", "build_parser", "main"]


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--store PATH`` option every store-reading command shares.

    Its default is :data:`backtest.market.store.DEFAULT_STORE`.
    """
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"DuckDB market store (default: {DEFAULT_STORE})",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``backtest`` command."""
    parser = argparse.ArgumentParser(
        prog="backtest",
        description="Replay the 2023-2024 A-share market through the books the industry ran.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(commands)
    _add_replay_command(commands)
    _add_report_command(commands)
    _add_sweep_command(commands)
    return parser


def _add_data_commands(commands: Any) -> None:
    data_parser = commands.add_parser(
        "data", help="build, fetch, import and inspect the market store"
    )
    data_commands = data_parser.add_subparsers(dest="data_command", required=True)

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
    build.set_defaults(handler=data.build_main)

    info = data_commands.add_parser("info", help="what the store holds, date ranges, provenance")
    add_store_argument(info)
    info.set_defaults(handler=data.info_main)

    fetch = data_commands.add_parser(
        "fetch", help="fetch real data from akshare into the store (resumable; needs internet)"
    )
    add_store_argument(fetch)
    fetch.add_argument("--source", choices=["akshare"], default="akshare")
    fetch.add_argument("--start", type=_date, required=True, help="first date, YYYY-MM-DD")
    fetch.add_argument("--end", type=_date, required=True, help="last date, YYYY-MM-DD")
    fetch.add_argument(
        "--universe",
        choices=["csi500", "csi1000", "csi2000", "microcap", "all"],
        default="all",
        help="stocks to fetch (default: all A-shares)",
    )
    fetch.add_argument(
        "--symbols", default=None, help="comma-separated codes to fetch instead of a universe"
    )
    fetch.add_argument(
        "--rate-limit", type=float, default=0.3, help="seconds between requests (default 0.3)"
    )
    fetch.add_argument(
        "--max-attempts",
        type=int,
        default=4,
        help="attempts per request on network errors (default 4)",
    )
    fetch.add_argument("--timeout", type=float, default=15.0, help="request timeout, seconds")
    fetch.add_argument(
        "--give-up-after",
        type=int,
        default=3,
        metavar="N",
        help="stop when N requests in a row fail on the network (default 3; rerun to resume)",
    )
    fetch.add_argument(
        "--no-probe",
        action="store_true",
        help="skip the few-second check that akshare's hosts answer before fetching",
    )
    fetch.add_argument("--no-indices", action="store_true", help="skip index bars")
    fetch.add_argument("--no-futures", action="store_true", help="skip CFFEX futures")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="serve akshare frames recorded as Parquet in FOLDER instead of the network",
    )
    fetch.set_defaults(handler=data.fetch_main)

    file_import = data_commands.add_parser(
        "import", help="import your own CSV/Parquet daily files (Tushare, Wind, any layout)"
    )
    add_store_argument(file_import)
    file_import.add_argument("path", type=Path, help="a .csv, .tsv or .parquet file")
    file_import.add_argument(
        "--table",
        choices=["bars", "caps", "index_bars", "index_weights", "futures_bars", "industries"],
        default=None,
        help="target (default: the preset's, else bars); caps adds caps to stored bars",
    )
    file_import.add_argument(
        "--cap-unit", choices=["cny", "ten_thousand_cny", "hundred_million_cny"], default=None
    )
    file_import.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a known layout (mapping, units, date format)",
    )
    file_import.add_argument(
        "--map",
        type=_mapping,
        action="append",
        default=[],
        dest="column_map",
        metavar="SOURCE=STORE",
        help="map a file column onto a store column",
    )
    file_import.add_argument("--volume-unit", choices=["shares", "lots"], default=None)
    file_import.add_argument("--amount-unit", choices=["cny", "thousand_cny"], default=None)
    file_import.add_argument("--date-format", default=None, help="strptime format, e.g. %%Y%%m%%d")
    file_import.add_argument(
        "--prices",
        choices=["raw", "forward", "backward"],
        default=None,
        help="whether the file's prices are adjusted (default raw)",
    )
    file_import.add_argument(
        "--mode",
        choices=["append", "upsert", "replace"],
        default="append",
        help="append (default): refuse rows already stored, naming the first; upsert: replace "
        "stored rows with the file's rows of the same date and symbol; replace: remove the "
        "stored rows of the file's symbols between the file's first and last date, then write "
        "the file. No mode deletes or changes a row outside the file's symbols and date range",
    )
    file_import.add_argument(
        "--no-fill-suspended",
        action="store_false",
        dest="fill_suspended",
        help="do not add suspended rows for sessions without a bar inside a symbol's span "
        "(they are added by default, only where the store holds no bar, and reported)",
    )
    file_import.add_argument(
        "--encoding",
        default=None,
        help="text encoding of a CSV (default: UTF-8, else GB18030/GBK when the bytes are not "
        "UTF-8); e.g. gb18030",
    )
    file_import.set_defaults(handler=data.import_main)


def _add_replay_command(commands: Any) -> None:
    parser = commands.add_parser(
        "replay", help="run the six books over 2023-2024 and print the crash table"
    )
    add_store_argument(parser)
    parser.add_argument("--start", default=None, help="first session (default: the store's)")
    parser.add_argument("--end", default=None, help="last session (default: the store's)")
    parser.add_argument(
        "--save",
        metavar="RUN_ID",
        default=None,
        help="save every book of the run, all or nothing, as RUN_ID in the runs store",
    )
    parser.add_argument(
        "--runs-store",
        type=Path,
        default=None,
        metavar="PATH",
        help="where --save writes (default: runs.duckdb beside the market store)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="let --save replace a run of the same id"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=replay.replay_main)


def _add_report_command(commands: Any) -> None:
    parser = commands.add_parser(
        "report", help="write the self-contained HTML report of saved runs"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="runs store holding saved runs (default: runs.duckdb beside the market store)",
    )
    parser.add_argument(
        "--runs",
        nargs="*",
        default=None,
        help="run ids to report (default: the newest saved run); books of several runs are "
        "named RUN/BOOK",
    )
    parser.add_argument(
        "--benchmark",
        action="append",
        default=[],
        metavar="CODE|BOOK=CODE",
        help="measure every book, or one book (repeatable), against this index code or 'cash' "
        "instead of the benchmark saved with it",
    )
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file")
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="re-run the replay's books at 0.1, 1, 5 and 10 bn CNY for the capacity curve "
        "(an engine pass over four times the books: minutes on the full market)",
    )
    parser.set_defaults(handler=report.report_main)


def _add_sweep_command(commands: Any) -> None:
    parser = commands.add_parser(
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
    parser.set_defaults(handler=sweep_cli.sweep_main)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def _mapping(text: str) -> tuple[str, str]:
    source, sep, target = text.partition("=")
    if not sep or not source or not target:
        raise argparse.ArgumentTypeError(
            f"--map takes source_column=store_column (e.g. trade_date=date), not {text!r}"
        )
    return source.strip(), target.strip()


#: ``data`` subcommands that write the store in place: they hold its writer lock throughout.
_IN_PLACE_WRITERS = ("import", "fetch")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``backtest`` command; return its exit code.

    A mistake the user can act on (a bad path, a malformed file, a busy or write-protected
    store, a full disk) prints one ``error:`` line and exits 2; Ctrl-C prints one line and exits
    130. Every write is a transaction or an atomic swap, so the store is as it was then.
    """
    args = build_parser().parse_args(argv)
    writes = args.command == "data" and args.data_command in (*_IN_PLACE_WRITERS, "build")
    identity_before = _identity(args.store) if writes else None
    try:
        if args.command == "data" and args.data_command in _IN_PLACE_WRITERS:
            with writer_lock(args.store, f"backtest data {args.data_command}"):
                return int(args.handler(args))
        return int(args.handler(args))
    except KeyboardInterrupt:
        if writes and _identity(args.store) not in (identity_before, None, _EMPTY_IDENTITY):
            # the signal came after a write had committed (a fetch commits batch by batch)
            print(
                f"interrupted: the writes that had finished are saved in {args.store}, each "
                "whole (no partial rows); run the command again to finish",
                file=sys.stderr,
            )
        else:
            print(
                "interrupted: nothing was written (every write is all or nothing); run the "
                "command again to finish",
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


#: the identity of a store that holds no write yet (no provenance rows)
_EMPTY_IDENTITY = hashlib.sha256(json.dumps([]).encode()).hexdigest()[:16]


def _identity(path: Path) -> str | None:
    """The store's identity (changes with every committed write), or None when unreadable."""
    if not Path(path).exists():
        return None
    try:
        with Store(path, read_only=True) as store:
            return store.identity()
    except (OSError, ValueError, duckdb.Error):
        return None


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
