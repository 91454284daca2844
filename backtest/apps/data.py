"""``backtest data``: build, inspect, fetch and import the market store (the handlers).

    backtest data build [--store PATH] [--seed N] [--n-stocks N] [--force]
    backtest data info  [--store PATH]
    backtest data fetch --source akshare --start 2023-01-01 --end 2024-12-31 --universe all
    backtest data fetch --source akshare --start 2024-02-01 --end 2024-02-08 --symbols 600000,000001
    backtest data import daily.csv --preset tushare_daily
    backtest data import daily_basic.csv --preset tushare_daily_basic   # caps onto stored bars
    backtest data import bars.parquet --map volume_lots=volume --volume-unit lots --prices forward
    backtest data import daily.csv --preset tushare_daily --mode upsert --encoding gb18030

The arguments are declared with every other command's in :mod:`backtest.apps.cli`; each
function here takes the parsed arguments and returns the exit code. A fetch exits 0 when every
request succeeded and 1 when some failed (they are listed; rerun to retry).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

import polars as pl

from backtest.market.akshare_fetch import FetchConfig, fetch_akshare, methods_needed
from backtest.market.akshare_retry import RetryPolicy, SourceUnreachable
from backtest.market.akshare_source import AkshareClient, LiveAkshareClient, RecordedAkshareClient
from backtest.market.importer import PRESETS, ImportSpec, prepare_file, write_prepared
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import build_scenario_file
from backtest.market.store import Store

__all__ = ["build_main", "fetch_main", "import_main", "info_main"]


def build_main(args: argparse.Namespace) -> int:
    """Run ``backtest data build``: the calibrated scenario into the store, atomically."""
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


def info_main(args: argparse.Namespace) -> int:
    """Run ``backtest data info``: what the store holds, its date ranges and provenance."""
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


def fetch_main(args: argparse.Namespace) -> int:
    """Run ``backtest data fetch``: real data from akshare into the store (resumable)."""
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


def import_main(args: argparse.Namespace) -> int:
    """Run ``backtest data import``: a CSV or Parquet file of yours into the store."""
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
