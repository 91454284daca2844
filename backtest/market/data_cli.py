"""Command-line handlers for ``backtest data fetch`` and ``backtest data import``.

    backtest data fetch --source akshare --start 2023-01-01 --end 2024-12-31 --universe all
    backtest data fetch --source akshare --start 2024-02-01 --end 2024-02-08 --symbols 600000,000001
    backtest data import daily.csv --preset tushare_daily
    backtest data import daily_basic.csv --preset tushare_daily_basic   # caps onto stored bars
    backtest data import bars.parquet --map volume_lots=volume --volume-unit lots --prices forward
    backtest data import daily.csv --preset tushare_daily --mode upsert --encoding gb18030

``backtest.cli`` wires these in with :func:`register_fetch` and :func:`register_import`. A fetch
exits 0 when every request succeeded and 1 when some failed (they are listed; rerun to retry).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from backtest.cli_options import add_store_argument

__all__ = ["register_fetch", "register_import"]


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


def register_fetch(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fetch`` to the ``data`` subcommands; return its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fetch", help="fetch real data from akshare into the store (resumable; needs internet)"
    )
    add_store_argument(parser)
    parser.add_argument("--source", choices=["akshare"], default="akshare")
    parser.add_argument("--start", type=_date, required=True, help="first date, YYYY-MM-DD")
    parser.add_argument("--end", type=_date, required=True, help="last date, YYYY-MM-DD")
    parser.add_argument(
        "--universe",
        choices=["csi500", "csi1000", "csi2000", "microcap", "all"],
        default="all",
        help="stocks to fetch (default: all A-shares)",
    )
    parser.add_argument(
        "--symbols", default=None, help="comma-separated codes to fetch instead of a universe"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=0.3, help="seconds between requests (default 0.3)"
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=4,
        help="attempts per request on network errors (default 4)",
    )
    parser.add_argument("--timeout", type=float, default=15.0, help="request timeout, seconds")
    parser.add_argument(
        "--give-up-after",
        type=int,
        default=3,
        metavar="N",
        help="stop when N requests in a row fail on the network (default 3; rerun to resume)",
    )
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="skip the few-second check that akshare's hosts answer before fetching",
    )
    parser.add_argument("--no-indices", action="store_true", help="skip index bars")
    parser.add_argument("--no-futures", action="store_true", help="skip CFFEX futures")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="serve akshare frames recorded as Parquet in FOLDER instead of the network",
    )
    parser.set_defaults(handler=_cmd_fetch)
    return parser


def _cmd_fetch(args: argparse.Namespace) -> int:
    import sys

    from backtest.market.akshare_fetch import FetchConfig, fetch_akshare, methods_needed
    from backtest.market.akshare_retry import RetryPolicy, SourceUnreachable
    from backtest.market.akshare_source import (
        AkshareClient,
        LiveAkshareClient,
        RecordedAkshareClient,
    )
    from backtest.market.store import Store

    symbols = (
        tuple(s.strip() for s in args.symbols.split(",") if s.strip()) if args.symbols else None
    )
    config = FetchConfig(
        start=args.start,
        end=args.end,
        universe=args.universe,
        symbols=symbols,
        rate_limit_seconds=args.rate_limit,
        retry=RetryPolicy(max_attempts=args.max_attempts),
        include_indices=not args.no_indices,
        include_futures=not args.no_futures,
        give_up_after=args.give_up_after,
    )
    client: AkshareClient
    try:
        if args.replay is not None:
            client = RecordedAkshareClient(args.replay)
        else:
            live = LiveAkshareClient(timeout_seconds=args.timeout)
            if not args.no_probe:  # before the store is opened: an offline run writes nothing
                silent = live.check_reachable(
                    methods_needed(config), timeout_seconds=min(args.timeout, 3.0)
                )
                for host, error in silent.items():
                    print(f"warning: {host} did not answer ({error})", file=sys.stderr)
            client = live
        with Store(args.store) as store:
            report = fetch_akshare(store, client, config, progress=not args.quiet)
    except SourceUnreachable as error:
        if error.report is not None:
            print(error.report)
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report)
    return 1 if report.failures().height else 0


def register_import(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``import`` to the ``data`` subcommands; return its parser."""
    from backtest.market.importer import PRESETS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import", help="import your own CSV/Parquet daily files (Tushare, Wind, any layout)"
    )
    add_store_argument(parser)
    parser.add_argument("path", type=Path, help="a .csv, .tsv or .parquet file")
    parser.add_argument(
        "--table",
        choices=["bars", "caps", "index_bars", "index_weights", "futures_bars", "industries"],
        default=None,
        help="target (default: the preset's, else bars); caps adds caps to stored bars",
    )
    parser.add_argument(
        "--cap-unit", choices=["cny", "ten_thousand_cny", "hundred_million_cny"], default=None
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a known layout (mapping, units, date format)",
    )
    parser.add_argument(
        "--map",
        type=_mapping,
        action="append",
        default=[],
        dest="column_map",
        metavar="SOURCE=STORE",
        help="map a file column onto a store column",
    )
    parser.add_argument("--volume-unit", choices=["shares", "lots"], default=None)
    parser.add_argument("--amount-unit", choices=["cny", "thousand_cny"], default=None)
    parser.add_argument("--date-format", default=None, help="strptime format, e.g. %%Y%%m%%d")
    parser.add_argument(
        "--prices",
        choices=["raw", "forward", "backward"],
        default=None,
        help="whether the file's prices are adjusted (default raw)",
    )
    parser.add_argument(
        "--mode",
        choices=["append", "upsert", "replace"],
        default="append",
        help="append (default): refuse rows already stored, naming the first; upsert: replace "
        "stored rows with the file's rows of the same date and symbol; replace: remove the "
        "stored rows of the file's symbols between the file's first and last date, then write "
        "the file. No mode deletes or changes a row outside the file's symbols and date range",
    )
    parser.add_argument(
        "--no-fill-suspended",
        action="store_false",
        dest="fill_suspended",
        help="do not add suspended rows for sessions without a bar inside a symbol's span "
        "(they are added by default, only where the store holds no bar, and reported)",
    )
    parser.add_argument(
        "--encoding",
        default=None,
        help="text encoding of a CSV (default: UTF-8, else GB18030/GBK when the bytes are not "
        "UTF-8); e.g. gb18030",
    )
    parser.set_defaults(handler=_cmd_import)
    return parser


def _cmd_import(args: argparse.Namespace) -> int:
    import dataclasses

    from backtest.market.importer import PRESETS, ImportSpec, prepare_file, write_prepared
    from backtest.market.store import Store

    base = PRESETS[args.preset] if args.preset else ImportSpec(table=args.table or "bars")
    mapping = dict(base.column_map)
    mapping.update(dict(args.column_map))
    overrides: dict[str, Any] = {"table": args.table or base.table}
    overrides["column_map"] = tuple(mapping.items())
    for name in ("volume_unit", "amount_unit", "cap_unit", "date_format", "prices", "encoding"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    overrides["mode"] = args.mode
    overrides["fill_suspended"] = args.fill_suspended
    spec = dataclasses.replace(base, **overrides)
    # the file is read and checked before the store is opened: a bad file leaves it untouched
    prepared = prepare_file(args.path, spec)
    with Store(args.store) as store:
        report = write_prepared(store, prepared)
    print(report)
    return 0
